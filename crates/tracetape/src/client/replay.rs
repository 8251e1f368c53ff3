//! Replay mode in the client integrations: a call, as either integration
//! sees it, answered from the replayed request's recording.

use bytes::Bytes;
use http::{Extensions, HeaderMap, Method, StatusCode};

use super::extensions::UrlTemplate;
use crate::record::header_records;
use crate::replay::matching::LiveCall;
use crate::replay::{ReplayError, ReplayScope, response_parts};

/// The recorded status, headers and body that answer the call of
/// `method` to `url` with `headers` and the whole `body`; its
/// [`UrlTemplate`], if any, lets route-limited redaction rules see it as
/// they saw the recorded call.
pub(crate) async fn answer(
    scope: &ReplayScope,
    method: &Method,
    url: String,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), ReplayError> {
    let mut call = LiveCall::new(method.as_str(), url)
        .with_headers(header_records(headers))
        .with_body(body);
    if let Some(UrlTemplate(template)) = extensions.get::<UrlTemplate>() {
        call = call.with_route(template.to_string());
    }
    Ok(response_parts(&scope.answer(&call).await?))
}
