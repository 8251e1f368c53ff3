//! [`Trace`]: the service that starts a SERVER span for each request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Instant, SystemTime};

use http::{Request, Response};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::config::Config;
use super::future::ResponseFuture;
use super::inflight::InFlight;
use super::{OnRequest, OnResponse, recording, request};
use crate::record::NotSampled;
use crate::replay::{Begun, ClockShift, PollClock, ReplayScope};
use crate::{hook, propagation};

/// A service traced by [`TraceLayer`](super::TraceLayer).
#[derive(Debug, Clone)]
pub struct Trace<S, OnReq = (), OnResp = ()> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config>,
    pub(crate) on_request: OnReq,
    pub(crate) on_response: OnResp,
}

impl<S, OnReq, OnResp> Trace<S, OnReq, OnResp> {
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

impl<S, ReqB, ResB, OnReq, OnResp> Service<Request<ReqB>> for Trace<S, OnReq, OnResp>
where
    S: Service<Request<RequestBody<ReqB>>, Response = Response<ResB>>,
    ReqB: http_body::Body,
    ResB: http_body::Body,
    OnReq: OnRequest<ReqB>,
    OnResp: OnResponse<ResB> + Clone,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, OnResp>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let start = Instant::now();
        let (mut parts, body) = request.into_parts();
        // Replay mode: a replayed request (never excluded) runs with its
        // recording's calls; the header naming it goes no further.
        let begun = match &self.config.replayer {
            Some(replayer) => replayer.begin(&mut parts.headers),
            None => crate::replay::global().and_then(|replayer| replayer.begin(&mut parts.headers)),
        };
        let replay = match begun {
            Some(Begun::Status(status)) => return ResponseFuture::replay_status(status),
            Some(Begun::Replay(scope)) => Some(scope),
            None => None,
        };
        if replay.is_none() && self.config.is_excluded(&parts) {
            let inner = self
                .inner
                .call(Request::from_parts(parts, RequestBody::plain(body)));
            return ResponseFuture::untraced(inner);
        }
        // Record mode: decided once per request, before the span starts,
        // with the layer's recorder or else the process-wide one.
        let global = self
            .config
            .recorder
            .is_none()
            .then(crate::record::global)
            .flatten();
        let decision = (self.config.recorder.as_ref())
            .or(global.as_ref())
            .filter(|_| replay.is_none())
            .filter(|_| !opentelemetry::Context::current().is_telemetry_suppressed())
            .map(|recorder| (recorder, recorder.sample()));
        let unsampled = matches!(decision, Some((_, false)));
        let record = decision
            .filter(|(_, sampled)| *sampled)
            .map(|(recorder, _)| (recorder, SystemTime::now()));
        let parent = self.config.extract(&parts.headers);
        let request::Start {
            name,
            attributes,
            labels,
        } = request::start(&self.config, &parts);
        let record = record.map(|(recorder, started_at)| {
            let route = labels.route.as_ref().map(|route| route.as_str().to_owned());
            (recorder, started_at, (name.to_string(), route))
        });
        let span = self.config.with_tracer(|tracer| {
            tracer
                .span_builder(name)
                .with_kind(SpanKind::Server)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent)
        });
        let cx = propagation::with_span(&parent, span);
        // Calls made while answering a request that was not sampled must
        // not be mistaken for background calls by the client layers.
        let cx = if unsampled {
            cx.with_value(NotSampled)
        } else {
            cx
        };
        let cx = match &replay {
            Some(scope) => cx.with_value(scope.clone()),
            None => cx,
        };
        // Replay mode with the clock under control: the handler's wall
        // clock reads the recorded time, from the moment the request came.
        let shift = (replay.as_ref())
            .and_then(ReplayScope::recorded_start)
            .and_then(ClockShift::begin);
        let cx = match shift {
            Some(shift) => cx.with_value(shift),
            None => cx,
        };
        // `cx` is what the span needs until the response body ends. In
        // record mode the handler runs in a context of its own, with the
        // recording in it, held only while the handler runs: after the
        // response, only the contexts the handler handed on (a spawned
        // task's, say) keep the recording open.
        let (handler_cx, capture, request_sink) = match record {
            Some((recorder, started_at, name)) => {
                let begun =
                    recording::begin(recorder, cx.clone(), &parent, name, &parts, started_at);
                (
                    Some(begun.cx),
                    Some(begun.capture),
                    Some(begun.request_sink),
                )
            }
            None => (None, None, None),
        };
        let request = Request::from_parts(parts, body);
        hook::guarded("server.on_request", || {
            self.on_request.on_request(&request, &cx.span())
        });
        let request = request.map(|body| match request_sink {
            Some((sink, limit)) => RequestBody::recorded(body, limit, sink),
            None => RequestBody::plain(body),
        });
        let inflight = InFlight::begin(cx, start, self.config.instruments().clone(), labels);
        // A replayed request's handler is timed when the replay detects
        // connections bypassing tracetape, and runs on the recorded clock
        // when the replay controls it, from the call on.
        let mut polls = replay.as_ref().and_then(|_| PollClock::start(shift));
        let called = {
            let _attached = handler_cx.as_ref().unwrap_or(&inflight.cx).clone().attach();
            let call = AssertUnwindSafe(|| self.inner.call(request));
            PollClock::time(polls.as_mut(), || catch_unwind(call))
        };
        let config = self.config.clone();
        let future = match called {
            Ok(inner) => ResponseFuture::traced(
                inner,
                (handler_cx, inflight),
                self.on_response.clone(),
                config,
                capture,
            ),
            Err(panic) => {
                ResponseFuture::panicked(panic, inflight, self.on_response.clone(), config, capture)
            }
        };
        future.with_replay(replay, polls)
    }
}
