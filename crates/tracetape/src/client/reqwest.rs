//! [`TracingMiddleware`]: the client core as `reqwest-middleware`
//! middleware.

use std::sync::Arc;

use http::Extensions;
use opentelemetry::context::FutureExt as _;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use super::TraceLayer;
use super::attempt::{Attempt, Head};
use super::config::Config;
use super::extensions::ResendCount;
use super::info::ResponseInfo;
use super::replay;
use super::url::Target;

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
        if let Some(scope) = replay::scope(&self.config) {
            // Replay mode: answered from the recording, never sent.
            let mut attempt = attempt;
            if let Some(attempt) = attempt.as_mut() {
                attempt.inject(request.headers_mut());
            }
            let result = replay::reqwest_call(&scope, &request, extensions).await;
            if let Some(attempt) = attempt {
                let outcome = match &result {
                    Ok(response) => Ok(info(response)),
                    Err(error) => Err(error as &(dyn std::error::Error + 'static)),
                };
                // reqwest reads no trailers: a call goes no further.
                drop(attempt.finish(outcome, "tracetape::replay::ReplayError"));
            }
            return result.map_err(|error| reqwest_middleware::Error::Middleware(error.into()));
        }
        let Some(mut attempt) = attempt else {
            return next.run(request, extensions).await;
        };
        attempt.inject(request.headers_mut());
        let capture = attempt
            .take_recording()
            .map(|pending| pending.record_reqwest(&request));
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
        drop(attempt.finish(outcome, name));
        let Some(capture) = capture else {
            return result;
        };
        match result {
            Ok(response) => Ok(capture.reqwest_response(response)),
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
