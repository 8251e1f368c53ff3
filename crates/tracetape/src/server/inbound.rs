//! One inbound request, the core of the server layer (as
//! `client/attempt.rs` is the client's): decides the request's mode once
//! ([`Mode`]: traced, not sampled, recorded or replayed; or [`Untraced`]:
//! excluded, or the replay's status), starts the SERVER span, and calls
//! the inner service in the handler's context, handing the response path
//! what it needs. [`Trace::call`](super::Trace) only drives it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use http::Request;
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, SpanRef, TraceContextExt, Tracer};

use super::body::RequestBody;
use super::config::Config;
use super::future::ResponseFuture;
use super::inflight::InFlight;
use super::metrics::Labels;
use super::mode::{Held, Mode, Untraced};
use super::request;
use crate::propagation;

/// A traced request whose span has started, before the inner service is
/// called.
pub(crate) struct Inbound {
    start: Instant,
    /// The SERVER span's context, with what the mode adds to it.
    cx: Context,
    /// The duration's and active count's attributes known at the start.
    labels: Labels,
    /// What record or replay mode holds until the response.
    held: Held,
    config: Arc<Config>,
}

/// What [`Inbound::start`] makes of a request.
pub(crate) enum Started<B: http_body::Body> {
    /// Traced: the span has started; the request goes on as it came.
    Traced(Inbound, Request<B>),
    /// No span; the request goes on with its body passed through, when
    /// the inner service is to answer at all.
    Untraced(Untraced, Request<RequestBody<B>>),
}

impl Inbound {
    /// Decides the mode of `request` (a replayed request has the header
    /// naming it taken out) and, when it is traced, starts its SERVER
    /// span as a child of the extracted context.
    pub(crate) fn start<B: http_body::Body>(
        config: &Arc<Config>,
        request: Request<B>,
    ) -> Started<B> {
        let start = Instant::now();
        let (mut parts, body) = request.into_parts();
        let mode = match Mode::decide(config, &mut parts) {
            Ok(mode) => mode,
            Err(untraced) => {
                let request = Request::from_parts(parts, RequestBody::plain(body));
                return Started::Untraced(untraced, request);
            }
        };
        let parent = config.extract(&parts.headers);
        let request::Start {
            name,
            attributes,
            labels,
        } = request::start(config, &parts);
        let mode = mode.named(&name, labels.route.as_ref());
        let span = config.with_tracer(|tracer| {
            tracer
                .span_builder(name)
                .with_kind(SpanKind::Server)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent)
        });
        let (cx, held) = mode.begin(propagation::with_span(&parent, span), &parent, &parts);
        let inbound = Self {
            start,
            cx,
            labels,
            held,
            config: config.clone(),
        };
        Started::Traced(inbound, Request::from_parts(parts, body))
    }

    /// The SERVER span, for the request hook.
    pub(crate) fn span(&self) -> SpanRef<'_> {
        self.cx.span()
    }

    /// Counts the request as active and calls the inner service with it
    /// (its body copied aside in record mode) in the handler's context,
    /// catching a panic; the future holds the rest of the request.
    pub(crate) fn call<B, F, OnResp>(
        mut self,
        request: Request<B>,
        on_response: OnResp,
        call: impl FnOnce(Request<RequestBody<B>>) -> F,
    ) -> ResponseFuture<F, OnResp>
    where
        B: http_body::Body,
    {
        let request = request.map(|body| self.held.request_body(body));
        let instruments = self.config.instruments().clone();
        let inflight = InFlight::begin(self.cx, self.start, instruments, self.labels);
        let mut held = self.held;
        let called = {
            let handler_cx = held.handler_cx().unwrap_or(&inflight.cx).clone();
            let _attached = handler_cx.attach();
            let call = AssertUnwindSafe(|| call(request));
            held.call(|| catch_unwind(call))
        };
        match called {
            Ok(inner) => ResponseFuture::traced(inner, inflight, on_response, self.config, held),
            Err(panic) => ResponseFuture::panicked(panic, inflight, on_response, self.config, held),
        }
    }
}
