//! [`Trace`]: a tower HTTP client service with one CLIENT span per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::attempt::{Attempt, Head};
use super::config::Config;
use super::info::ResponseInfo;
use super::resend;
use super::url::Target;

/// A boxed error, as tower middleware returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP client service traced by [`TraceLayer`](super::TraceLayer).
///
/// Each call is one attempt and gets one CLIENT span, so put the layer
/// below (inside) retry and redirect layers; see
/// [`CountResendsLayer`](super::CountResendsLayer) for their resend count.
/// The span ends when the response head arrives. Errors are boxed, as
/// tower's own middleware does, so that their sources can be read.
#[derive(Debug, Clone)]
pub struct Trace<S> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config>,
}

impl<S> Trace<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Trace<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let attempt = {
            let head = Head {
                method: &parts.method,
                target: Target::from_uri(&parts.uri),
                headers: &parts.headers,
                version: parts.version,
                extensions: &parts.extensions,
                resends: resend::count(&parts.extensions),
            };
            Attempt::start(&self.config, &head)
        };
        let Some(attempt) = attempt else {
            let inner = self.inner.call(Request::from_parts(parts, body));
            return ResponseFuture {
                inner,
                attempt: None,
            };
        };
        attempt.inject(&mut parts.headers);
        let inner = {
            let _attached = attempt.context().clone().attach();
            self.inner.call(Request::from_parts(parts, body))
        };
        ResponseFuture {
            inner,
            attempt: Some(attempt),
        }
    }
}

pin_project! {
    /// The response future of [`Trace`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        attempt: Option<Attempt>,
    }
}

impl<F, ResB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.attempt {
            Some(attempt) => {
                let _attached = attempt.context().clone().attach();
                ready!(this.inner.poll(cx))
            }
            None => ready!(this.inner.poll(cx)),
        };
        let result = result.map_err(Into::into);
        if let Some(attempt) = this.attempt.take() {
            let outcome = match &result {
                Ok(response) => Ok(ResponseInfo {
                    status: response.status(),
                    headers: response.headers(),
                    version: response.version(),
                }),
                Err(error) => Err(&**error as &(dyn std::error::Error + 'static)),
            };
            attempt.finish(outcome, "tower::BoxError");
        }
        Poll::Ready(result)
    }
}
