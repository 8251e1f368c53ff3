//! Record mode in the server layer: the SERVER exchange of one recorded
//! request, assembled from three pieces that arrive in any order.
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

use http::request;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;

use crate::record::assembly::{self, Destination, Wording, unix_nanos};
use crate::record::{BodyRecord, Exchange, ExchangeKind, Recorder, request_record};

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

/// What [`begin`] returns: the context to run the handler in, with the
/// trace's recording in it, the response side, and the request body's
/// sink.
#[derive(Debug)]
pub(crate) struct Begun {
    pub(crate) cx: Context,
    pub(crate) capture: ServerCapture,
    /// The sink and the body limit.
    pub(crate) request_sink: (CaptureSink, usize),
}

/// Opens the recording of the trace of `cx` (the SERVER span's context)
/// and the SERVER exchange in it, with the request head of `parts`.
pub(crate) fn begin(
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
