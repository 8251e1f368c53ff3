//! Record mode in the server layer: the SERVER exchange of one recorded
//! request, assembled from three pieces that arrive in any order.
//!
//! Whether a request is recorded is decided once, before its span starts
//! ([`decide`]); a recorded one holds its [`Held`] until its response.
//!
//! - The request head, recorded in [`Trace::call`](super::Trace) before
//!   the request goes on, and the request body's capture, which its
//!   [`TeeBody`](crate::record::TeeBody) reports once when the handler has
//!   read it to its end, it failed, or it was dropped (a body the handler
//!   never reads is reported when the request is dropped).
//! - The response: its head when the inner future returns it, and its
//!   body's capture once the body has been sent, has failed or was dropped
//!   (the client went away). A handler that panicked or failed records its
//!   outcome instead, and a response future dropped before the response
//!   came (the client went away first) records the exchange with no
//!   response and the error `abandoned`.
//!
//! The assembly itself (`record/assembly.rs`) is shared with the client
//! layers: [`ServerCapture`] is its response side, held by the response
//! future until the response arrives; [`CaptureSink`] is what each body
//! reports to; the piece that arrives last finishes the exchange into its
//! part of the trace's recording, exactly once.

use std::time::SystemTime;

use http::{HeaderMap, Response, StatusCode, request};
use http_body::Body;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, StringValue};

use super::body::Inner;
use super::config::Config;
use super::mode::Mode;
use super::record_replay::ModeHeld;
use crate::body::{LayerBody, ModeResponseBody};
use crate::record::assembly::{self, Destination, Wording, unix_nanos};
use crate::record::{BodyRecord, Exchange, ExchangeKind, Recorder, ResponseRecord, request_record};

pub(crate) use crate::record::assembly::{CaptureSink, ResponseSide as ServerCapture};

/// The error of an exchange whose response body was dropped before its
/// end.
pub(crate) const CLIENT_WENT_AWAY: &str = "client went away";

/// A response body that fails is recorded by its error type alone; one
/// dropped before its end means the client went away.
const WORDING: Wording = Wording {
    response_error_prefix: "",
    response_cut: CLIENT_WENT_AWAY,
};

/// Record mode's decision for a request that is neither replayed nor
/// excluded, with the layer's recorder or else the process-wide one:
/// recorded, not sampled, or (no recorder, or tracetape's own traffic)
/// traced only.
pub(crate) fn decide(config: &Config) -> Mode {
    let recorder = match &config.modes.recorder {
        Some(recorder) => Some(recorder.clone()),
        None => crate::record::global(),
    };
    let Some(recorder) = recorder else {
        return Mode::Traced;
    };
    if Context::current().is_telemetry_suppressed() {
        return Mode::Traced;
    }
    if !recorder.sample() {
        // Calls made while answering a request that was not sampled must
        // not be mistaken for background calls by the client layers.
        return Mode::NotSampled;
    }
    Mode::Record(Start {
        recorder,
        started_at: SystemTime::now(),
        name: (String::new(), None),
    })
}

/// A request record mode is to record, before its span starts.
#[derive(Debug)]
pub(crate) struct Start {
    recorder: Recorder,
    started_at: SystemTime,
    /// The span's name and route.
    name: (String, Option<String>),
}

impl Start {
    /// Keeps the span's `name` and `route`.
    pub(crate) fn named(mut self, name: &str, route: Option<&StringValue>) -> Self {
        self.name = (
            name.to_owned(),
            route.map(|route| route.as_str().to_owned()),
        );
        self
    }

    /// Opens the recording of the trace of `cx` (the SERVER span's
    /// context) and the SERVER exchange in it, with the request head of
    /// `parts`.
    pub(crate) fn begin(self, cx: Context, parent: &Context, parts: &request::Parts) -> ModeHeld {
        let Begun {
            cx,
            capture,
            request_sink,
        } = begin(
            &self.recorder,
            cx,
            parent,
            self.name,
            parts,
            self.started_at,
        );
        ModeHeld::Recording(Held {
            cx: Some(cx),
            capture: Some(capture),
            request_sink: Some(request_sink),
        })
    }
}

/// What a recorded request holds until its response: the context its
/// handler runs in, with the trace's recording in it (held only while
/// the handler runs: after the response, only the contexts the handler
/// handed on, a spawned task's say, keep the recording open), the
/// response side, and the request body's sink until the body is teed.
#[derive(Debug)]
pub(crate) struct Held {
    cx: Option<Context>,
    capture: Option<ServerCapture>,
    request_sink: Option<(CaptureSink, usize)>,
}

impl Held {
    pub(crate) fn request_body<B: Body>(&mut self, body: B) -> LayerBody<B> {
        match self.request_sink.take() {
            Some((sink, limit)) => LayerBody::recorded(body, limit, sink),
            None => LayerBody::plain(body),
        }
    }

    pub(crate) fn handler_cx(&self) -> Option<&Context> {
        self.cx.as_ref()
    }

    pub(crate) fn answered(&mut self) {
        self.cx = None;
    }

    /// Records the response head and tees its body.
    pub(crate) fn body<B: Body>(&mut self, response: Response<B>) -> Response<Inner<B>> {
        match self.capture.take() {
            Some(capture) => capture.response(response).map(|body| Inner::Mode {
                inner: ModeResponseBody::new(body, None),
            }),
            None => response.map(|inner| Inner::Passed { inner }),
        }
    }

    pub(crate) fn failed(&mut self, error_type: &str) {
        if let Some(capture) = self.capture.take() {
            capture.fail(None, error_type.to_owned());
        }
    }

    /// Records what the layer answers for a handler that panicked: a
    /// 500, or a gRPC call's trailers-only INTERNAL, with no body.
    pub(crate) fn panicked(&mut self, message: &str, status: StatusCode, headers: &HeaderMap) {
        if let Some(capture) = self.capture.take() {
            let response = ResponseRecord {
                status: status.as_u16(),
                headers: crate::record::header_records(headers),
                body: BodyRecord::default(),
                trailers: Vec::new(),
            };
            capture.fail(Some(response), format!("panic: {message}"));
        }
    }
}

/// What [`begin`] returns: the context to run the handler in, with the
/// trace's recording in it, the response side, and the request body's
/// sink.
#[derive(Debug)]
struct Begun {
    cx: Context,
    capture: ServerCapture,
    /// The sink and the body limit.
    request_sink: (CaptureSink, usize),
}

/// Opens the recording of the trace of `cx` (the SERVER span's context)
/// and the SERVER exchange in it, with the request head of `parts`.
fn begin(
    recorder: &Recorder,
    cx: Context,
    parent: &Context,
    (name, route): (String, Option<String>),
    parts: &request::Parts,
    start: SystemTime,
) -> Begun {
    let span_context = cx.span().span_context().clone();
    let (trace_recording, part) = recorder.begin(span_context.trace_id(), false);
    let parent_span_id = parent.span().span_context().span_id();
    let exchange = Exchange {
        kind: ExchangeKind::Server,
        span_id: span_context.span_id(),
        // `SpanId::INVALID` when nothing was extracted.
        parent_span_id,
        name,
        route,
        start_unix_nanos: unix_nanos(start),
        end_unix_nanos: 0,
        request: request_record(parts, ExchangeKind::Server, BodyRecord::default()),
        response: None,
        error: None,
    };
    let limit = recorder.max_body_bytes();
    let (capture, request_sink) =
        assembly::open(Destination::Trace(part), exchange, limit, WORDING);
    Begun {
        cx: cx.with_value(trace_recording),
        capture,
        request_sink: (request_sink, limit),
    }
}
