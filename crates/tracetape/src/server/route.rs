//! The route template of a request: the user's function first, then axum's
//! `MatchedPath`. Never the raw path.

use http::request::Parts;
use opentelemetry::StringValue;

use super::config::Config;
use crate::http_attrs::interned;

/// The route as an attribute value, shared by the span and the duration
/// metric without copying.
pub(crate) fn route(config: &Config, parts: &Parts) -> Option<StringValue> {
    if let Some(route) = &config.route {
        return crate::hook::guarded("server.route", || route(parts))
            .flatten()
            .map(|route| interned::value(&route));
    }
    matched_path(parts)
}

#[cfg(feature = "axum")]
fn matched_path(parts: &Parts) -> Option<StringValue> {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| interned::value(p.as_str()))
}

#[cfg(not(feature = "axum"))]
fn matched_path(_: &Parts) -> Option<StringValue> {
    None
}
