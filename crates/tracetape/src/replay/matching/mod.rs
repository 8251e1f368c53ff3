//! Which recorded outbound call answers a live one.
//!
//! In replay, each outbound call the service makes while serving a
//! replayed request is answered from that request's recording, never from
//! the network; calls made outside any replayed request are answered from
//! the start-up and background calls of the whole store. A [`Matcher`]
//! holds what all of them share (the redaction the recordings were made
//! with); a [`MockSession`] holds the recorded calls of one request (or of
//! the background) and answers [`LiveCall`]s from them, one at a time or
//! concurrently.
//!
//! Matching is deterministic and explained:
//!
//! 1. The live call is first redacted as recordings are (the defaults,
//!    then the configured rules, hashing with the same key), so that a
//!    secret the recording holds as `REDACTED:…` compares equal.
//! 2. It is compared with every recorded call at each [`Level`] in turn
//!    ([`Exact`](Level::Exact), [`Redacted`](Level::Redacted),
//!    [`Dynamic`](Level::Dynamic), [`Similar`](Level::Similar)); the first
//!    level with a match decides. Method and origin must always be equal.
//!    Headers are never compared: they carry trace context, dates, request
//!    ids and hashed credentials that differ from run to run.
//! 3. Of the recorded calls that match there, the one most like the live
//!    call ([`Similarity`]; at the same-call levels, counting only equal
//!    values) that has not answered yet answers, the first in recorded
//!    order among equals, so concurrent calls that differ in a business
//!    value each get their own answer. When all have answered, the same
//!    call (at [`Dynamic`](Level::Dynamic) or above) is answered again by
//!    the last of the most alike, if the recording made it more than once
//!    (a poll, a retry) or it is a background call; otherwise, and at
//!    [`Similar`](Level::Similar), a recorded call answers once only, so
//!    an extra call is a call nothing matches.
//! 4. Each call is logged with the recorded call and level that answered
//!    it ([`MockSession::log`]), and at [`Similar`](Level::Similar) with
//!    what differs ([`CallDifference`]: the path segment, the query key,
//!    the body's JSON path, with both values), which the replay reports as
//!    a deviation of the call. The recorded calls never used are listed
//!    ([`MockSession::unused`]). A call nothing matches gets a [`NoMatch`]
//!    that names it and the closest recorded calls, never a wait.
//!
//! ```
//! # use bytes::Bytes;
//! # use tracetape::opentelemetry::trace::{SpanId, TraceId};
//! # use tracetape::record::{BodyRecord, Exchange, ExchangeKind, RequestRecord, ResponseRecord};
//! use tracetape::record::{RedactionKey, Recording};
//! use tracetape::replay::matching::{Level, LiveCall, Matcher, Outcome};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let body = |text: &'static str| BodyRecord { bytes: Bytes::from_static(text.as_bytes()), truncated: false, size: text.len() as u64 };
//! # let recording = Recording {
//! #     trace_id: TraceId::from(7), service_name: "checkout".into(), background: false,
//! #     exchanges: vec![Exchange {
//! #         kind: ExchangeKind::Client, span_id: SpanId::from(2), parent_span_id: SpanId::from(1),
//! #         name: "POST".into(), route: None, start_unix_nanos: 1, end_unix_nanos: 2,
//! #         request: RequestRecord { method: "POST".into(), url: "http://pricing/quote".into(), headers: vec![], body: body(r#"{"sku":"tea","qty":2}"#) },
//! #         response: Some(ResponseRecord { status: 200, headers: vec![], body: body(r#"{"price":7}"#), trailers: Vec::new() }),
//! #         error: None,
//! #     }],
//! # };
//! // Once per replay: the recordings' redaction rules and key.
//! let matcher = Matcher::new(Vec::new(), RedactionKey::ephemeral()?);
//! // Once per replayed request: its recording's outbound calls.
//! let session = matcher.session(&recording);
//!
//! // The same call, its JSON members in another order.
//! let call = LiveCall::new("POST", "http://pricing/quote").with_body(r#"{"qty":2,"sku":"tea"}"#);
//! let answer = session.answer(&call)?;
//! assert_eq!(answer.matched.level, Level::Exact);
//! let Outcome::Response(response) = answer.outcome else { panic!("recorded a response") };
//! assert_eq!(response.status, 200);
//! # Ok(())
//! # }
//! ```

mod body;
mod call;
mod difference;
mod dynamic;
mod level;
mod no_match;
mod pairs;
mod redacted;
mod request;
mod session;
mod similarity;
mod url;
mod varying;

#[cfg(test)]
mod tests;

pub use call::{CallSummary, LiveCall};
pub use difference::{CallDifference, CallPart, MAX_DIFFERENCES};
pub use level::Level;
pub use no_match::{Candidate, Difference, NoMatch};
pub use session::{
    Answer, LOG_BYTES, LOG_ENTRIES, LogEntry, Matched, Matcher, MockSession, Omitted, Outcome,
    UnusedMock,
};
pub use similarity::Similarity;
pub use url::normal_origin;
