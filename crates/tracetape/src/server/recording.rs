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
//! [`ServerCapture`] is the response side, held by the response future
//! until the response arrives; [`CaptureSink`] is what each body reports
//! to. They share a count of the two captures still outstanding, and the
//! one that brings it to zero finishes the exchange into its
//! [`Part`] of the trace's recording, exactly once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Response, request};
use http_body::Body;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;

use crate::record::{
    BodyCapture, BodyEnd, BodyRecord, BodySink, Exchange, ExchangeKind, MaybeTee, Part, Recorder,
    ResponseRecord, request_record, response_record,
};

/// The error of an exchange whose response future was dropped before the
/// response came.
pub(crate) const ABANDONED: &str = "abandoned";

/// The error of an exchange whose response body was dropped before its
/// end.
pub(crate) const CLIENT_WENT_AWAY: &str = "client went away";

/// The response side of one recorded exchange: turns the response into a
/// teed one, or records why none came. Dropped unused, it records the
/// exchange as abandoned.
#[derive(Debug)]
pub(crate) struct ServerCapture {
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
    part: Option<Part>,
    /// Taken with the part.
    exchange: Option<Exchange>,
    /// Captures (request body, response side) not yet in.
    outstanding: u8,
}

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
    name: String,
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
        start_unix_nanos: unix_nanos(start),
        end_unix_nanos: 0,
        request: request_record(parts, ExchangeKind::Server, BodyRecord::default()),
        response: None,
        error: None,
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            part: Some(part),
            exchange: Some(exchange),
            outstanding: 2,
        }),
    });
    let limit = recorder.max_body_bytes();
    Begun {
        cx: cx.with_value(trace_recording),
        capture: ServerCapture {
            shared: Some(Arc::clone(&shared)),
            limit,
        },
        request_sink: (
            CaptureSink {
                shared,
                side: Side::Request,
            },
            limit,
        ),
    }
}

impl ServerCapture {
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

    /// Records that no response body will come: `response` is what was
    /// answered instead (a 500 for a panic), if anything, and `error` why.
    pub(crate) fn fail(mut self, response: Option<ResponseRecord>, error: String) {
        if let Some(shared) = self.shared.take() {
            shared.close(|exchange| {
                exchange.response = response;
                exchange.error.get_or_insert(error);
            });
        }
    }
}

impl Drop for ServerCapture {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.close(|exchange| {
                exchange.error.get_or_insert_with(|| ABANDONED.to_owned());
            });
        }
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
                    Side::Response => error_type.to_owned(),
                }),
                // A handler need not read the request body; only a response
                // cut short is an error.
                BodyEnd::Incomplete => {
                    (side == Side::Response).then(|| CLIENT_WENT_AWAY.to_owned())
                }
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
                state.part.take().zip(state.exchange.take())
            } else {
                None
            }
        };
        // Outside the lock: handing the recording on may run its sink.
        if let Some((part, mut exchange)) = finished {
            exchange.end_unix_nanos = unix_nanos(SystemTime::now());
            part.finish(exchange);
        }
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    })
}
