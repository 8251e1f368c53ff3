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
    }
}

impl<F, OnResp> std::fmt::Debug for ResponseFuture<F, OnResp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inflight", &self.inflight)
            .finish_non_exhaustive()
    }
}

impl<F, OnResp> ResponseFuture<F, OnResp> {
    pub(crate) fn untraced(inner: F) -> Self {
        Self {
            inner: Some(inner),
            panic: None,
            inflight: None,
            on_response: None,
            config: None,
        }
    }

    pub(crate) fn traced(
        inner: F,
        inflight: InFlight,
        on_response: OnResp,
        config: Arc<Config>,
    ) -> Self {
        Self {
            inner: Some(inner),
            panic: None,
            inflight: Some(inflight),
            on_response: Some(on_response),
            config: Some(config),
        }
    }

    pub(crate) fn panicked(
        panic: Box<dyn Any + Send>,
        inflight: InFlight,
        on_response: OnResp,
        config: Arc<Config>,
    ) -> Self {
        Self {
            inner: None,
            panic: Some(panic),
            inflight: Some(inflight),
            on_response: Some(on_response),
            config: Some(config),
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
        let Some(inflight) = this.inflight.as_ref() else {
            // Excluded: no span, no metric, no context of ours.
            let Some(inner) = this.inner.as_pin_mut() else {
                return Poll::Pending;
            };
            let result = ready!(inner.poll(cx));
            return Poll::Ready(result.map(|r| r.map(ResponseBody::untraced)));
        };

        let outcome = if let Some(panic) = this.panic.take() {
            Err(panic)
        } else if let Some(inner) = this.inner.as_mut().as_pin_mut() {
            let _attached = inflight.cx.clone().attach();
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        } else {
            // Polled again after it completed.
            return Poll::Pending;
        };
        if matches!(outcome, Ok(Poll::Pending)) {
            return Poll::Pending;
        }
        this.inner.set(None);
        let Some(mut inflight) = this.inflight.take() else {
            return Poll::Pending;
        };
        match outcome {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => {
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
                inflight.set_status(response.status());
                Poll::Ready(Ok(response.map(|body| ResponseBody::traced(body, inflight))))
            }
            Ok(Poll::Ready(Err(error))) => {
                inflight.set_error(std::any::type_name::<E>());
                inflight.end();
                Poll::Ready(Err(error))
            }
            Err(panic) => {
                inflight.record_panic(hook::panic_message(&*panic));
                inflight.set_status(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = Response::new(ResponseBody::empty(inflight));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                Poll::Ready(Ok(response))
            }
        }
    }
}
