//! Replay mode in the client integrations: a call, as either integration
//! sees it, answered from the replayed request's recording, never sent.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use bytes::Bytes;
use http::{Extensions, HeaderMap, Method, Response, StatusCode};
use http_body_util::BodyExt as _;

use super::config::Config;
use super::extensions::UrlTemplate;
use super::service::BoxError;
use crate::body::LayerBody;
use crate::record::header_records;
use crate::replay::matching::LiveCall;
use crate::replay::{ReplayError, ReplayedBody, response_parts};

pub(crate) use crate::replay::ReplayScope;

/// The scope that answers a call made now: the replayed request's, else
/// (in replay mode: the layer's recordings, or the process-wide ones) the
/// background one; `None` when the call is to be sent.
pub(crate) fn scope(config: &Config) -> Option<ReplayScope> {
    ReplayScope::current(
        &opentelemetry::Context::current(),
        config.modes.replayer.as_ref(),
    )
}

/// The recorded status, headers and body that answer the call of
/// `method` to `url` with `headers` and the whole `body`; its
/// [`UrlTemplate`], if any, lets route-limited redaction rules see it as
/// they saw the recorded call.
async fn answer(
    scope: &ReplayScope,
    method: &Method,
    url: String,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, ReplayedBody), ReplayError> {
    let mut call = LiveCall::new(method.as_str(), url)
        .with_headers(header_records(headers))
        .with_body(body);
    if let Some(UrlTemplate(template)) = extensions.get::<UrlTemplate>() {
        call = call.with_route(template.to_string());
    }
    Ok(response_parts(&scope.answer(&call).await?))
}

/// A call of the tower client answered from the recording: `Send`, like
/// the futures of the clients it stands in for.
pub(crate) struct Replayed(
    Pin<Box<dyn Future<Output = Result<Response<ReplayedBody>, BoxError>> + Send>>,
);

impl std::fmt::Debug for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayed").finish_non_exhaustive()
    }
}

impl Replayed {
    /// The request body read whole (the matcher compares it), then the
    /// recorded response.
    pub(crate) fn new<B>(scope: ReplayScope, parts: http::request::Parts, body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        Self(Box::pin(async move {
            let body = body.collect().await.map_err(Into::into)?.to_bytes();
            let url = parts.uri.to_string();
            let (status, headers, body) = answer(
                &scope,
                &parts.method,
                url,
                &parts.headers,
                &parts.extensions,
                body,
            )
            .await?;
            let mut response = Response::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            Ok(response)
        }))
    }

    /// The recorded response, its body served in chunks.
    pub(crate) fn poll<B: http_body::Body>(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<Response<LayerBody<B>>, BoxError>> {
        let result = ready!(self.0.as_mut().poll(cx));
        Poll::Ready(result.map(|response| response.map(LayerBody::replayed)))
    }
}

/// The recorded response that answers reqwest's `request`. A streamed
/// request body cannot be read without sending it, so it is matched as
/// empty.
#[cfg(feature = "reqwest")]
pub(crate) async fn reqwest_call(
    scope: &ReplayScope,
    request: &reqwest::Request,
    extensions: &Extensions,
) -> Result<reqwest::Response, ReplayError> {
    use reqwest::ResponseBuilderExt as _;

    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map(Bytes::copy_from_slice)
        .unwrap_or_default();
    let (status, headers, body) = answer(
        scope,
        request.method(),
        request.url().to_string(),
        request.headers(),
        extensions,
        body,
    )
    .await?;
    let mut response = Response::builder()
        .status(status)
        .url(request.url().clone())
        .body(reqwest::Body::wrap(body))
        .unwrap_or_default();
    *response.headers_mut() = headers;
    Ok(reqwest::Response::from(response))
}
