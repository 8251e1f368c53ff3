//! HTTP semantic-convention helpers shared by the server and client sides:
//! method normalisation, query redaction (which keys, `query_keys.rs`),
//! header capture with its sanitising, URL exclusions, and the values that
//! repeat across requests shared instead of made again (`interned.rs`).

mod capture;
mod exclude;
pub(crate) mod interned;
mod method;
mod query;
mod query_keys;
mod url;

pub(crate) use capture::HeaderCapture;
#[cfg(feature = "record-replay")]
pub(crate) use capture::SANITIZED_HEADERS;
pub(crate) use exclude::UrlExclusions;
pub(crate) use method::Method;
pub(crate) use query::redact_query;
// Record and replay read query and form components, and add the keys of
// recording rules, as spans do.
#[cfg(feature = "record-replay")]
pub(crate) use query::decode_component;
pub(crate) use query_keys::QueryKeys;
#[cfg(feature = "record-replay")]
pub(crate) use query_keys::{add_process_keys, process_keys_version};
pub(crate) use url::redact_url;

/// Bucket boundaries the conventions recommend for request durations.
pub(crate) const DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Protocol version as the `network.protocol.version` attribute spells it.
pub(crate) fn protocol_version(version: http::Version) -> Option<&'static str> {
    match version {
        http::Version::HTTP_09 => Some("0.9"),
        http::Version::HTTP_10 => Some("1.0"),
        http::Version::HTTP_11 => Some("1.1"),
        http::Version::HTTP_2 => Some("2"),
        http::Version::HTTP_3 => Some("3"),
        _ => None,
    }
}
