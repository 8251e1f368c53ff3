//! [`TracingMiddleware`]: the client core as `reqwest-middleware`
//! middleware.

use std::sync::Arc;

use http::Extensions;
use opentelemetry::context::FutureExt as _;
use reqwest::{Request, Response, ResponseBuilderExt as _};
use reqwest_middleware::{Middleware, Next};

use super::TraceLayer;
use super::attempt::{Attempt, Head};
use super::config::Config;
use super::extensions::ResendCount;
use super::info::ResponseInfo;
use super::recording::{self, Begun};
use super::url::Target;
use crate::record::{BodyRecord, RequestRecord, header_records};
use crate::replay::{ReplayError, ReplayScope, ReplayedBody};

/// Traces every attempt a `reqwest-middleware` client makes with one
/// CLIENT span; the same rules as [`TraceLayer`], which configures it.
///
/// Retry middleware placed before this one (such as `reqwest-retry`) runs
/// it once per attempt with the same extensions, which is how each retry's
/// `http.request.resend_count` is counted. reqwest follows redirects
/// inside one attempt; for a span per redirect, build the reqwest client
/// with `redirect::Policy::none()` and put
/// [`FollowRedirects`](super::FollowRedirects) before this middleware.
///
/// In record mode ([`TraceLayer::with_recorder`]) the request body is
/// recorded when reqwest holds it in memory (`.body(bytes)`, `.json(..)`,
/// `.form(..)`), up to the limit; a streamed body cannot be read without
/// sending it, so it is recorded as empty and truncated, with its size
/// when reqwest knows it (0 otherwise). The response body is copied as
/// the caller reads it, after reqwest has decompressed it (when a
/// compression feature of reqwest is on); the response keeps its `url()`
/// and extensions.
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use tracetape::client::{TraceLayer, TracingMiddleware};
///
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(TracingMiddleware::new())
///     .build();
///
/// // Or configured:
/// let layer = TraceLayer::new().with_excluded_urls(["/health$"]);
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(TracingMiddleware::from(layer))
///     .build();
/// ```
#[derive(Debug, Clone)]
pub struct TracingMiddleware {
    config: Arc<Config>,
}

impl TracingMiddleware {
    /// Middleware configured from the environment, as
    /// [`TraceLayer::new`] is.
    pub fn new() -> Self {
        Self::from(TraceLayer::new())
    }
}

impl Default for TracingMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl From<TraceLayer> for TracingMiddleware {
    fn from(layer: TraceLayer) -> Self {
        Self {
            config: layer.config,
        }
    }
}

/// The sends made through this middleware with one set of extensions.
#[derive(Debug, Clone, Copy, Default)]
struct Sent(u32);

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let sent = extensions.get_or_insert_default::<Sent>();
        let counted = sent.0;
        sent.0 += 1;
        let resends = extensions
            .get::<ResendCount>()
            .map_or(counted, |ResendCount(n)| *n);
        let attempt = {
            let head = Head {
                method: request.method(),
                target: Target::from_url(request.url()),
                headers: request.headers(),
                version: request.version(),
                extensions: &*extensions,
                resends,
            };
            Attempt::start(&self.config, &head)
        };
        if let Some(scope) = ReplayScope::current(
            &opentelemetry::Context::current(),
            self.config.replayer.as_ref(),
        ) {
            // Replay mode: answered from the recording, never sent.
            let mut attempt = attempt;
            if let Some(attempt) = attempt.as_mut() {
                attempt.inject(request.headers_mut());
            }
            let result = replay_call(&scope, &request, extensions).await;
            if let Some(attempt) = attempt {
                let outcome = match &result {
                    Ok(response) => Ok(info(response)),
                    Err(error) => Err(error as &(dyn std::error::Error + 'static)),
                };
                attempt.finish(outcome, "tracetape::replay::ReplayError");
            }
            return result.map_err(|error| reqwest_middleware::Error::Middleware(error.into()));
        }
        let Some(mut attempt) = attempt else {
            return next.run(request, extensions).await;
        };
        attempt.inject(request.headers_mut());
        let begun = attempt.take_recording().map(|pending| {
            let begun = pending.begin(RequestRecord {
                method: request.method().as_str().to_owned(),
                url: request.url().as_str().to_owned(),
                headers: header_records(request.headers()),
                body: BodyRecord::default(),
            });
            let body = request_body(&request, begun.limit);
            let Begun {
                capture,
                request_sink,
                ..
            } = begun;
            request_sink.record(body);
            capture
        });
        let cx = attempt.context().clone();
        let result = next.run(request, extensions).with_context(cx).await;
        let outcome = match &result {
            Ok(response) => Ok(info(response)),
            Err(reqwest_middleware::Error::Reqwest(error)) => {
                Err(error as &(dyn std::error::Error + 'static))
            }
            Err(reqwest_middleware::Error::Middleware(error)) => Err(error.as_ref()),
        };
        let name = match &result {
            Err(reqwest_middleware::Error::Middleware(_)) => "reqwest_middleware::Error",
            _ => "reqwest::Error",
        };
        attempt.finish(outcome, name);
        let Some(capture) = begun else {
            return result;
        };
        match result {
            Ok(response) => Ok(tee_response(capture, response)),
            Err(error) => {
                match &error {
                    reqwest_middleware::Error::Reqwest(source) => capture.fail(source),
                    reqwest_middleware::Error::Middleware(source) => capture.fail(source.as_ref()),
                }
                Err(error)
            }
        }
    }
}

/// What the response hook and the span see of `response`.
fn info(response: &Response) -> ResponseInfo<'_> {
    ResponseInfo {
        status: response.status(),
        headers: response.headers(),
        version: response.version(),
    }
}

/// What can be recorded of a request body before it is sent: its bytes
/// when reqwest holds them in memory; for a streamed body nothing, marked
/// truncated, with the size when it is known.
fn request_body(request: &Request, limit: usize) -> BodyRecord {
    let Some(body) = request.body() else {
        return BodyRecord::default();
    };
    match body.as_bytes() {
        Some(bytes) => recording::buffered_body(bytes, limit),
        None => BodyRecord {
            bytes: bytes::Bytes::new(),
            truncated: true,
            size: http_body::Body::size_hint(body).exact().unwrap_or(0),
        },
    }
}

/// `response` with its body teed into `capture`. reqwest's conversion to
/// `http::Response` leaves the URL behind, so it is put back as the
/// extension reqwest reads it from.
fn tee_response(capture: recording::ClientCapture, response: Response) -> Response {
    let url = response.url().clone();
    let response = capture.response(http::Response::<reqwest::Body>::from(response));
    let (mut parts, body) = response.into_parts();
    if let Ok(carrier) = http::Response::builder()
        .url(url)
        .body(())
        .map(|carrier| carrier.into_parts().0)
    {
        parts.extensions.extend(carrier.extensions);
    }
    Response::from(http::Response::from_parts(parts, reqwest::Body::wrap(body)))
}

/// The recorded response that answers `request`. A streamed request body
/// cannot be read without sending it, so it is matched as empty.
async fn replay_call(
    scope: &ReplayScope,
    request: &Request,
    extensions: &Extensions,
) -> Result<Response, ReplayError> {
    let body = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .map(bytes::Bytes::copy_from_slice)
        .unwrap_or_default();
    let (status, headers, body) = super::replay::answer(
        scope,
        request.method(),
        request.url().to_string(),
        request.headers(),
        extensions,
        body,
    )
    .await?;
    let mut response = http::Response::builder()
        .status(status)
        .url(request.url().clone())
        .body(reqwest::Body::wrap(ReplayedBody::new(body)))
        .unwrap_or_default();
    *response.headers_mut() = headers;
    Ok(Response::from(response))
}
