//! [`ResponseFuture`]: runs the inner future inside the request's context,
//! turns a panic into a 500, and hands the span to the response body.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use http::{Response, StatusCode};
use opentelemetry::trace::TraceContextExt;
use pin_project_lite::pin_project;

use super::OnResponse;
use super::body::ResponseBody;
use super::config::Config;
use super::inflight::InFlight;
use super::mode::Held;
use crate::hook;

pin_project! {
    /// The response future of [`Trace`](super::Trace).
    pub struct ResponseFuture<F, OnResp> {
        #[pin]
        inner: Option<F>,
        panic: Option<Box<dyn Any + Send>>,
        inflight: Option<InFlight>,
        on_response: Option<OnResp>,
        config: Option<Arc<Config>>,
        // What record or replay mode holds until the response (see
        // `mode.rs`); dropped with the future before that, a recorded
        // exchange is recorded as abandoned.
        held: Held,
    }
}

impl<F, OnResp> std::fmt::Debug for ResponseFuture<F, OnResp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inflight", &self.inflight)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl<F, OnResp> ResponseFuture<F, OnResp> {
    pub(crate) fn untraced(inner: F) -> Self {
        Self {
            inner: Some(inner),
            ..Self::answering(Held::Nothing)
        }
    }

    /// The inner future for the request of `inflight`, polled in the
    /// handler's context (`held`'s, else the span's).
    pub(crate) fn traced(
        inner: F,
        inflight: InFlight,
        on_response: OnResp,
        config: Arc<Config>,
        held: Held,
    ) -> Self {
        Self {
            inner: Some(inner),
            panic: None,
            inflight: Some(inflight),
            on_response: Some(on_response),
            config: Some(config),
            held,
        }
    }

    pub(crate) fn panicked(
        panic: Box<dyn Any + Send>,
        inflight: InFlight,
        on_response: OnResp,
        config: Arc<Config>,
        held: Held,
    ) -> Self {
        Self {
            inner: None,
            panic: Some(panic),
            inflight: Some(inflight),
            on_response: Some(on_response),
            config: Some(config),
            held,
        }
    }

    /// No future, no span: what `held` answers with, if anything.
    pub(crate) fn answering(held: Held) -> Self {
        Self {
            inner: None,
            panic: None,
            inflight: None,
            on_response: None,
            config: None,
            held,
        }
    }
}

impl<F, ResB, E, OnResp> Future for ResponseFuture<F, OnResp>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    ResB: http_body::Body,
    OnResp: OnResponse<ResB>,
{
    type Output = Result<Response<ResponseBody<ResB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(response) = this.held.answer() {
            return Poll::Ready(Ok(response));
        }
        let Some(inflight) = this.inflight.as_ref() else {
            // Excluded: no span, no metric, no context of ours.
            let Some(inner) = this.inner.as_pin_mut() else {
                return Poll::Pending;
            };
            let result = ready!(inner.poll(cx));
            return Poll::Ready(result.map(|r| r.map(ResponseBody::untraced)));
        };

        // Replay mode: a request replayed together with others runs once
        // its start has its turn.
        ready!(this.held.poll_start(cx));
        let outcome = if let Some(panic) = this.panic.take() {
            Err(panic)
        } else if let Some(inner) = this.inner.as_mut().as_pin_mut() {
            let handler_cx = this.held.handler_cx().unwrap_or(&inflight.cx).clone();
            let _attached = handler_cx.attach();
            let poll = AssertUnwindSafe(|| inner.poll(cx));
            this.held.poll(|| catch_unwind(poll))
        } else {
            // Polled again after it completed.
            return Poll::Pending;
        };
        if matches!(outcome, Ok(Poll::Pending)) {
            return Poll::Pending;
        }
        this.inner.set(None);
        // Whatever the handler handed its context to keeps it; this
        // future holds it no longer.
        this.held.answered();
        let Some(mut inflight) = this.inflight.take() else {
            return Poll::Pending;
        };
        match outcome {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(mut response))) => {
                this.held.head(response.headers_mut());
                let span = inflight.cx.span();
                if let Some(config) = this
                    .config
                    .as_ref()
                    .filter(|c| !c.capture_response.is_empty())
                {
                    let mut captured = Vec::new();
                    config
                        .capture_response
                        .capture(response.headers(), &mut captured);
                    span.set_attributes(captured);
                }
                if let Some(hook) = this.on_response.as_ref() {
                    hook::guarded("server.on_response", || hook.on_response(&response, &span));
                }
                inflight.set_status(response.status(), response.headers());
                let response = this.held.body(response);
                Poll::Ready(Ok(response.map(|body| ResponseBody::traced(body, inflight))))
            }
            Ok(Poll::Ready(Err(error))) => {
                let error_type = std::any::type_name::<E>();
                inflight.set_error(error_type);
                inflight.end();
                this.held.failed(error_type);
                Poll::Ready(Err(error))
            }
            Err(panic) => {
                let message = hook::panic_message(&*panic);
                inflight.record_panic(message);
                // A gRPC client reads a call's outcome from grpc-status:
                // a trailers-only INTERNAL, as gRPC servers answer a
                // handler's failure; anyone else gets a 500.
                let (status, headers) = if inflight.is_rpc() {
                    (StatusCode::OK, grpc_internal())
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, http::HeaderMap::new())
                };
                this.held.panicked(message, status, &headers);
                inflight.set_status(status, &headers);
                let mut response = Response::new(ResponseBody::empty(inflight));
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                this.held.head(response.headers_mut());
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// The headers of a trailers-only gRPC answer with status INTERNAL.
fn grpc_internal() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", http::HeaderValue::from_static("13"));
    headers.insert(
        "grpc-message",
        http::HeaderValue::from_static("the%20handler%20panicked"),
    );
    headers
}
