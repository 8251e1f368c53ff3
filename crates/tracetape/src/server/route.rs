//! The route template of a request: the user's function first, then axum's
//! `MatchedPath`. Never the raw path.

use http::request::Parts;

use super::config::Config;

pub(crate) fn route(config: &Config, parts: &Parts) -> Option<String> {
    if let Some(route) = &config.route {
        return crate::hook::guarded("server.route", || route(parts)).flatten();
    }
    matched_path(parts)
}

#[cfg(feature = "axum")]
fn matched_path(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
fn matched_path(_: &Parts) -> Option<String> {
    None
}
