//! [`Trace`]: the service that starts a SERVER span for each request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use http::{Request, Response};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::config::Config;
use super::future::ResponseFuture;
use super::inflight::InFlight;
use super::mode::Mode;
use super::{OnRequest, OnResponse, request};
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
        let mode = match Mode::decide(&self.config, &mut parts) {
            Ok(mode) => mode,
            Err(untraced) => {
                let request = Request::from_parts(parts, RequestBody::plain(body));
                return untraced.respond(|| self.inner.call(request));
            }
        };
        let parent = self.config.extract(&parts.headers);
        let request::Start {
            name,
            attributes,
            labels,
        } = request::start(&self.config, &parts);
        let mode = mode.named(&name, labels.route.as_ref());
        let span = self.config.with_tracer(|tracer| {
            tracer
                .span_builder(name)
                .with_kind(SpanKind::Server)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent)
        });
        let (cx, mut held) = mode.begin(propagation::with_span(&parent, span), &parent, &parts);
        let request = Request::from_parts(parts, body);
        hook::guarded("server.on_request", || {
            self.on_request.on_request(&request, &cx.span())
        });
        let request = request.map(|body| held.request_body(body));
        let inflight = InFlight::begin(cx, start, self.config.instruments().clone(), labels);
        let called = {
            let handler_cx = held.handler_cx().unwrap_or(&inflight.cx).clone();
            let _attached = handler_cx.attach();
            let call = AssertUnwindSafe(|| self.inner.call(request));
            held.call(|| catch_unwind(call))
        };
        let (config, on_response) = (self.config.clone(), self.on_response.clone());
        match called {
            Ok(inner) => ResponseFuture::traced(inner, inflight, on_response, config, held),
            Err(panic) => ResponseFuture::panicked(panic, inflight, on_response, config, held),
        }
    }
}
