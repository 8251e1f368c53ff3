//! Record mode in the client layers: the CLIENT exchange of one recorded
//! attempt, assembled from two pieces that arrive in any order.
//!
//! - The request: its head (headers as sent, the trace context injected)
//!   recorded before the request goes on, and its body's capture. The
//!   tower [`Trace`](super::Trace) tees the body as the inner client sends
//!   it; the capture comes once the client has sent it all, it failed, or
//!   it was dropped (a request that failed before it was sent records the
//!   bytes sent so far). reqwest's middleware records a buffered body at
//!   once.
//! - The response: its head when it arrives and its body's capture once
//!   the caller has read it to its end, it failed, or it was dropped; or
//!   the error that came instead (`{error.type}: {message}`, the span's
//!   `error.type`). An attempt the caller dropped before the response came
//!   records no response and the error `abandoned`.
//!
//! Where the exchange goes is decided when the attempt starts
//! ([`plan`]): to the trace's recording when a [`TraceRecording`] is in
//! the current context (the server layer puts it there for the requests
//! it records), otherwise, when the client layer has a recorder of its
//! own (or else a process-wide one is installed), to a background
//! recording of its own.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Response;
use http_body::Body;
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, TraceId};

use super::config::Config;
use crate::record::{
    BodyCapture, BodyEnd, BodyRecord, BodySink, Exchange, ExchangeKind, MaybeTee, NotSampled, Part,
    Recorder, RequestRecord, TraceRecording, response_record,
};

/// The error of an exchange whose attempt was dropped before the response
/// came.
pub(crate) const ABANDONED: &str = "abandoned";

/// The error of an exchange whose response body was dropped before its
/// end.
pub(crate) const NOT_READ: &str = "response body dropped before its end";

/// Where an attempt's exchange is to go, decided before its span starts.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Into the recording of the current trace, with this body limit.
    Trace(Part, usize),
    /// Into a background recording of its own.
    Background(Recorder),
}

/// Where the exchange goes: `None` when nothing is recorded. One context
/// lookup, and one `Option` check when the context holds no recording.
pub(crate) fn plan(config: &Config, parent: &Context) -> Option<Plan> {
    if let Some(trace) = parent.get::<TraceRecording>() {
        return Some(Plan::Trace(trace.part(), trace.recorder().max_body_bytes()));
    }
    // Inside a request that record mode chose not to record.
    if parent.get::<NotSampled>().is_some() {
        return None;
    }
    // The layer's recorder, else the process-wide one.
    (config.recorder.clone())
        .or_else(crate::record::global)
        .filter(Recorder::sample)
        .map(Plan::Background)
}

#[derive(Debug)]
enum Destination {
    Trace(Part),
    Background {
        recorder: Recorder,
        trace_id: TraceId,
    },
}

impl Destination {
    fn finish(self, exchange: Exchange) {
        match self {
            Self::Trace(part) => part.finish(exchange),
            Self::Background { recorder, trace_id } => {
                recorder.record_background(trace_id, exchange);
            }
        }
    }
}

/// The exchange of an attempt whose span has started, waiting for the
/// request head.
#[derive(Debug)]
pub(crate) struct Pending {
    destination: Destination,
    limit: usize,
    exchange: Exchange,
}

impl Pending {
    /// The exchange of the CLIENT span of `cx`, a child of `parent`.
    pub(crate) fn new(
        plan: Plan,
        cx: &Context,
        parent: &Context,
        name: String,
        start: SystemTime,
    ) -> Self {
        let span = cx.span();
        let span_context = span.span_context();
        let (destination, limit) = match plan {
            Plan::Trace(part, limit) => (Destination::Trace(part), limit),
            Plan::Background(recorder) => {
                let limit = recorder.max_body_bytes();
                let trace_id = span_context.trace_id();
                (Destination::Background { recorder, trace_id }, limit)
            }
        };
        let exchange = Exchange {
            kind: ExchangeKind::Client,
            span_id: span_context.span_id(),
            // `SpanId::INVALID` for a call outside any span.
            parent_span_id: parent.span().span_context().span_id(),
            name,
            start_unix_nanos: unix_nanos(start),
            end_unix_nanos: 0,
            request: RequestRecord {
                method: String::new(),
                url: String::new(),
                headers: Vec::new(),
                body: BodyRecord::default(),
            },
            response: None,
            error: None,
        };
        Self {
            destination,
            limit,
            exchange,
        }
    }

    /// Records the request head (its body is filled in by the sink) and
    /// opens the two captures.
    pub(crate) fn begin(mut self, request: RequestRecord) -> Begun {
        self.exchange.request = request;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                destination: Some(self.destination),
                exchange: Some(self.exchange),
                outstanding: 2,
            }),
        });
        Begun {
            capture: ClientCapture {
                shared: Some(Arc::clone(&shared)),
                limit: self.limit,
            },
            request_sink: CaptureSink {
                shared,
                side: Side::Request,
            },
            limit: self.limit,
        }
    }
}

/// What [`Pending::begin`] returns: the response side, the request body's
/// sink and the body limit.
#[derive(Debug)]
pub(crate) struct Begun {
    pub(crate) capture: ClientCapture,
    pub(crate) request_sink: CaptureSink,
    pub(crate) limit: usize,
}

/// The response side of one recorded exchange: turns the response into a
/// teed one, or records the error that came instead. Dropped unused, it
/// records the exchange as abandoned.
#[derive(Debug)]
pub(crate) struct ClientCapture {
    /// `None` once the response side has been handed on.
    shared: Option<Arc<Shared>>,
    limit: usize,
}

/// Where the request and response body captures of one exchange go.
#[derive(Debug)]
pub(crate) struct CaptureSink {
    shared: Arc<Shared>,
    side: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Taken when the exchange is finished.
    destination: Option<Destination>,
    /// Taken with the destination.
    exchange: Option<Exchange>,
    /// Captures (request body, response side) not yet in.
    outstanding: u8,
}

impl ClientCapture {
    /// Records the head of `response` and tees its body.
    pub(crate) fn response<B: Body>(
        mut self,
        response: Response<B>,
    ) -> Response<MaybeTee<B, CaptureSink>> {
        let (parts, body) = response.into_parts();
        let Some(shared) = self.shared.take() else {
            return Response::from_parts(parts, MaybeTee::passthrough(body));
        };
        if let Some(exchange) = shared.lock().exchange.as_mut() {
            exchange.response = Some(response_record(&parts, BodyRecord::default()));
        }
        let sink = CaptureSink {
            shared,
            side: Side::Response,
        };
        Response::from_parts(parts, MaybeTee::tee(body, self.limit, sink))
    }

    /// Records the error that came instead of a response.
    pub(crate) fn fail(mut self, error: &(dyn std::error::Error + 'static)) {
        if let Some(shared) = self.shared.take() {
            let text = super::attempt::error_text(error);
            shared.close(|exchange| {
                exchange.error.get_or_insert(text);
            });
        }
    }
}

impl Drop for ClientCapture {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.close(|exchange| {
                exchange.error.get_or_insert_with(|| ABANDONED.to_owned());
            });
        }
    }
}

impl CaptureSink {
    /// Records a request body that was known whole before it was sent.
    pub(crate) fn record(self, body: BodyRecord) {
        self.finish(BodyCapture {
            body,
            end: BodyEnd::Complete,
        });
    }
}

impl BodySink for CaptureSink {
    fn finish(self, capture: BodyCapture) {
        let side = self.side;
        self.shared.close(|exchange| {
            let error = match capture.end {
                BodyEnd::Complete => None,
                BodyEnd::Error { error_type } => Some(match side {
                    Side::Request => format!("request body: {error_type}"),
                    Side::Response => format!("response body: {error_type}"),
                }),
                // A request body is dropped unsent when the attempt fails,
                // and that error is the response side's to record.
                BodyEnd::Incomplete => (side == Side::Response).then(|| NOT_READ.to_owned()),
            };
            match side {
                Side::Request => exchange.request.body = capture.body,
                Side::Response => {
                    if let Some(response) = exchange.response.as_mut() {
                        response.body = capture.body;
                    }
                }
            }
            if let Some(error) = error {
                exchange.error.get_or_insert(error);
            }
        });
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `update` for one capture that came in, and finishes the
    /// exchange when it was the last one outstanding.
    fn close(&self, update: impl FnOnce(&mut Exchange)) {
        let finished = {
            let mut state = self.lock();
            if let Some(exchange) = state.exchange.as_mut() {
                update(exchange);
            }
            state.outstanding = state.outstanding.saturating_sub(1);
            if state.outstanding == 0 {
                state.destination.take().zip(state.exchange.take())
            } else {
                None
            }
        };
        // Outside the lock: handing the recording on may run its sink.
        if let Some((destination, mut exchange)) = finished {
            exchange.end_unix_nanos = unix_nanos(SystemTime::now());
            destination.finish(exchange);
        }
    }
}

/// The record of a body known whole up front, kept up to `limit` bytes.
pub(crate) fn buffered_body(bytes: &[u8], limit: usize) -> BodyRecord {
    let kept = bytes.len().min(limit);
    BodyRecord {
        bytes: Bytes::copy_from_slice(&bytes[..kept]),
        truncated: kept < bytes.len(),
        size: bytes.len() as u64,
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    })
}
