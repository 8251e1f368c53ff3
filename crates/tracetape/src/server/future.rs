//! [`ResponseFuture`]: runs the inner future inside the request's context,
//! turns a panic into a 500, and hands the span to the response body.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use http::{HeaderValue, Response, StatusCode};
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use pin_project_lite::pin_project;

use super::OnResponse;
use super::body::ResponseBody;
use super::config::Config;
use super::inflight::InFlight;
use super::recording::ServerCapture;
use crate::hook;
use crate::record::{BodyRecord, MaybeTee, ResponseRecord};
use crate::replay::{Handling, PollClock, REPLAY_LOG_HEADER, REPLAY_STATUS_HEADER, ReplayScope};

pin_project! {
    /// The response future of [`Trace`](super::Trace).
    pub struct ResponseFuture<F, OnResp> {
        #[pin]
        inner: Option<F>,
        panic: Option<Box<dyn Any + Send>>,
        // Record mode: the context the inner future is polled in, with
        // the recording in it; dropped with the inner future. Otherwise
        // it is polled in the span's (`inflight.cx`).
        cx: Option<Context>,
        inflight: Option<InFlight>,
        on_response: Option<OnResp>,
        config: Option<Arc<Config>>,
        // Record mode: the exchange's response side, until the response
        // comes. Dropped with the future before that, it records the
        // exchange as abandoned.
        capture: Option<ServerCapture>,
        // Replay mode: the replayed request's scope, whose log the
        // response carries, and its handler's poll times when the replay
        // detects connections bypassing tracetape.
        replay: Option<ReplayScope>,
        polls: Option<PollClock>,
        // Replay mode, for a request replayed together with others: its
        // turns; dropped when the handler has answered.
        turns: Option<Handling>,
        // The replay's status, which the layer answers with itself.
        status: Option<HeaderValue>,
    }
}

impl<F, OnResp> std::fmt::Debug for ResponseFuture<F, OnResp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inflight", &self.inflight)
            .field("recorded", &self.capture.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, OnResp> ResponseFuture<F, OnResp> {
    pub(crate) fn untraced(inner: F) -> Self {
        Self {
            inner: Some(inner),
            ..Self::nothing()
        }
    }

    /// The inner future, polled in `cx` (else in the span's context), for
    /// the request of `inflight`.
    pub(crate) fn traced(
        inner: F,
        (cx, inflight): (Option<Context>, InFlight),
        on_response: OnResp,
        config: Arc<Config>,
        capture: Option<ServerCapture>,
    ) -> Self {
        Self {
            inner: Some(inner),
            panic: None,
            cx,
            inflight: Some(inflight),
            on_response: Some(on_response),
            config: Some(config),
            capture,
            replay: None,
            polls: None,
            turns: None,
            status: None,
        }
    }

    pub(crate) fn panicked(
        panic: Box<dyn Any + Send>,
        inflight: InFlight,
        on_response: OnResp,
        config: Arc<Config>,
        capture: Option<ServerCapture>,
    ) -> Self {
        Self {
            inner: None,
            panic: Some(panic),
            cx: None,
            inflight: Some(inflight),
            on_response: Some(on_response),
            config: Some(config),
            capture,
            replay: None,
            polls: None,
            turns: None,
            status: None,
        }
    }
}

impl<F, OnResp> ResponseFuture<F, OnResp> {
    /// The answer to a request for the replay's status: `200 OK`, no
    /// body, the status in its header; nothing else runs.
    pub(crate) fn replay_status(status: HeaderValue) -> Self {
        Self {
            status: Some(status),
            ..Self::nothing()
        }
    }

    /// No future, no span, nothing to answer with yet.
    fn nothing() -> Self {
        Self {
            inner: None,
            panic: None,
            cx: None,
            inflight: None,
            on_response: None,
            config: None,
            capture: None,
            replay: None,
            polls: None,
            turns: None,
            status: None,
        }
    }

    /// For a replayed request: the response will carry the replay log,
    /// with the times of the handler's polls when `polls` notes them.
    pub(crate) fn with_replay(
        mut self,
        replay: Option<ReplayScope>,
        polls: Option<PollClock>,
    ) -> Self {
        self.turns = (replay.as_ref())
            .and_then(ReplayScope::seat)
            .cloned()
            .map(Handling::new);
        self.replay = replay;
        self.polls = polls;
        self
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
        if let Some(status) = this.status.take() {
            let mut response = Response::new(ResponseBody::nothing());
            response.headers_mut().insert(REPLAY_STATUS_HEADER, status);
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

        // Taking turns with the requests replayed together with it: the
        // handler runs once its start has its turn.
        if let Some(turns) = this.turns.as_mut() {
            ready!(turns.poll_start(cx));
        }
        let outcome = if let Some(panic) = this.panic.take() {
            Err(panic)
        } else if let Some(inner) = this.inner.as_mut().as_pin_mut() {
            let handler_cx = this.cx.as_ref().unwrap_or(&inflight.cx);
            let _attached = handler_cx.clone().attach();
            let _polling = this.turns.as_ref().map(Handling::polling);
            let poll = AssertUnwindSafe(|| inner.poll(cx));
            PollClock::time(this.polls.as_mut(), || catch_unwind(poll))
        } else {
            // Polled again after it completed.
            return Poll::Pending;
        };
        if matches!(outcome, Ok(Poll::Pending)) {
            return Poll::Pending;
        }
        this.inner.set(None);
        *this.turns = None;
        // Whatever the handler handed its context to keeps it; this
        // future holds it no longer.
        *this.cx = None;
        let Some(mut inflight) = this.inflight.take() else {
            return Poll::Pending;
        };
        match outcome {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(mut response))) => {
                if let Some(log) = replay_log(this.replay.take(), this.polls.as_ref()) {
                    response.headers_mut().insert(REPLAY_LOG_HEADER, log);
                }
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
                let response = match this.capture.take() {
                    Some(capture) => capture.response(response),
                    None => response.map(MaybeTee::passthrough),
                };
                // A streamed body is polled on the recorded clock too.
                let shift = this.polls.as_ref().and_then(PollClock::shift);
                Poll::Ready(Ok(
                    response.map(|body| ResponseBody::traced(body, inflight).with_clock(shift))
                ))
            }
            Ok(Poll::Ready(Err(error))) => {
                let error_type = std::any::type_name::<E>();
                inflight.set_error(error_type);
                inflight.end();
                if let Some(capture) = this.capture.take() {
                    capture.fail(None, error_type.to_owned());
                }
                Poll::Ready(Err(error))
            }
            Err(panic) => {
                let message = hook::panic_message(&*panic);
                inflight.record_panic(message);
                if let Some(capture) = this.capture.take() {
                    let response = ResponseRecord {
                        status: StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
                        headers: Vec::new(),
                        body: BodyRecord::default(),
                    };
                    capture.fail(Some(response), format!("panic: {message}"));
                }
                inflight.set_status(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = Response::new(ResponseBody::empty(inflight));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                if let Some(log) = replay_log(this.replay.take(), this.polls.as_ref()) {
                    response.headers_mut().insert(REPLAY_LOG_HEADER, log);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// The replay log header of a replayed request (`None` for any other):
/// how its calls were answered, and when its handler was polled.
fn replay_log(replay: Option<ReplayScope>, polls: Option<&PollClock>) -> Option<HeaderValue> {
    replay?.log_header(polls.and_then(PollClock::times))
}
