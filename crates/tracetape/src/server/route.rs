//! The route template of a request: the user's function first, then axum's
//! `MatchedPath`. Never the raw path.

use std::sync::Arc;

use http::request::Parts;
use opentelemetry::StringValue;

use super::config::Config;

/// The route as an attribute value, shared by the span and the duration
/// metric without copying.
pub(crate) fn route(config: &Config, parts: &Parts) -> Option<StringValue> {
    if let Some(route) = &config.route {
        return crate::hook::guarded("server.route", || route(parts))
            .flatten()
            .map(|route| StringValue::from(Arc::<str>::from(route)));
    }
    matched_path(parts)
}

#[cfg(feature = "axum")]
fn matched_path(parts: &Parts) -> Option<StringValue> {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| StringValue::from(Arc::<str>::from(p.as_str())))
}

#[cfg(not(feature = "axum"))]
fn matched_path(_: &Parts) -> Option<StringValue> {
    None
}
