//! [`Trace`]: a tower HTTP client service with one CLIENT span per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::attempt::{Attempt, Head};
use super::body::{RequestBody, ResponseBody};
use super::config::Config;
use super::info::ResponseInfo;
use super::recording::ClientCapture;
use super::replay::{self, Replayed};
use super::resend;
use super::url::Target;
use crate::body::LayerBody;

/// A boxed error, as tower middleware returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP client service traced by [`TraceLayer`](super::TraceLayer).
///
/// Each call is one attempt and gets one CLIENT span, so put the layer
/// below (inside) retry and redirect layers; see
/// [`CountResendsLayer`](super::CountResendsLayer) for their resend count.
/// The span ends when the response head arrives. Errors are boxed, as
/// tower's own middleware does, so that their sources can be read.
///
/// The inner client receives the request with its body wrapped in a
/// [`RequestBody`], and the caller gets the response with its body wrapped
/// in a [`ResponseBody`]: both pass everything through unchanged, and in
/// record mode ([`TraceLayer::with_recorder`](super::TraceLayer::with_recorder))
/// copy the bytes aside as the client sends and the caller reads them.
/// The request body is recorded as far as the client sent it; the
/// response body as the client hands it on (still compressed unless a
/// decompression layer sits below this one).
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
    S: Service<Request<RequestBody<ReqB>>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    ReqB: http_body::Body + Send + 'static,
    ReqB::Data: Send,
    ReqB::Error: Into<BoxError>,
    ResB: http_body::Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        // A request that names no server (a tonic channel's) goes to the
        // layer's origin, and says so in its span and recording.
        if let Some(uri) = self
            .config
            .origin
            .as_ref()
            .and_then(|o| o.complete(&parts.uri))
        {
            parts.uri = uri;
        }
        let replay = replay::scope(&self.config);
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
        if let Some(scope) = replay {
            // Replay mode: answered from the recording; the inner client
            // is never called.
            let mut attempt = attempt;
            if let Some(attempt) = attempt.as_mut() {
                attempt.inject(&mut parts.headers);
            }
            return ResponseFuture {
                inner: None,
                replayed: Some(Replayed::new(scope, parts, body)),
                attempt,
                capture: None,
            };
        }
        let Some(mut attempt) = attempt else {
            let request = Request::from_parts(parts, RequestBody::plain(body));
            return ResponseFuture {
                inner: Some(self.inner.call(request)),
                replayed: None,
                attempt: None,
                capture: None,
            };
        };
        attempt.inject(&mut parts.headers);
        let (body, capture) = match attempt.take_recording() {
            Some(pending) => pending.tee_request(&parts, body),
            None => (RequestBody::plain(body), None),
        };
        let inner = {
            let _attached = attempt.context().clone().attach();
            self.inner.call(Request::from_parts(parts, body))
        };
        ResponseFuture {
            inner: Some(inner),
            replayed: None,
            attempt: Some(attempt),
            capture,
        }
    }
}

pin_project! {
    /// The response future of [`Trace`].
    pub struct ResponseFuture<F> {
        // `None` when the call is replayed.
        #[pin]
        inner: Option<F>,
        // Replay mode: the call answered from the recording.
        replayed: Option<Replayed>,
        attempt: Option<Attempt>,
        // Record mode: the exchange's response side, until the response
        // comes. Dropped with the future before that, it records the
        // exchange as abandoned.
        capture: Option<ClientCapture>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempt", &self.attempt)
            .field("replayed", &self.replayed.is_some())
            .field("recorded", &self.capture.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, ResB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Into<BoxError>,
    ResB: http_body::Body,
{
    type Output = Result<Response<ResponseBody<ResB>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _attached = this
            .attempt
            .as_ref()
            .map(|attempt| attempt.context().clone().attach());
        if let Some(replayed) = this.replayed.as_mut() {
            let result = ready!(replayed.poll(cx));
            *this.replayed = None;
            let call = finish(this.attempt.take(), &result);
            return Poll::Ready(
                result.map(|response| response.map(|b| ResponseBody::new(b, call))),
            );
        }
        let Some(inner) = this.inner.as_pin_mut() else {
            // Polled again after it completed.
            return Poll::Pending;
        };
        let result = ready!(inner.poll(cx)).map_err(Into::into);
        let call = finish(this.attempt.take(), &result);
        Poll::Ready(match (this.capture.take(), result) {
            (Some(capture), Ok(response)) => Ok(capture
                .response(response)
                .map(|b| ResponseBody::new(b, call))),
            (None, Ok(response)) => {
                Ok(response.map(|b| ResponseBody::new(LayerBody::plain(b), call)))
            }
            (capture, Err(error)) => {
                if let Some(capture) = capture {
                    capture.fail(&*error);
                }
                Err(error)
            }
        })
    }
}

/// Ends the attempt's span with the outcome of the call; a gRPC call
/// whose status comes with the body's end is handed back.
fn finish<B>(attempt: Option<Attempt>, result: &Result<Response<B>, BoxError>) -> Option<Attempt> {
    let attempt = attempt?;
    let outcome = match result {
        Ok(response) => Ok(ResponseInfo {
            status: response.status(),
            headers: response.headers(),
            version: response.version(),
        }),
        Err(error) => Err(&**error as &(dyn std::error::Error + 'static)),
    };
    attempt.finish(outcome, "tower::BoxError")
}
