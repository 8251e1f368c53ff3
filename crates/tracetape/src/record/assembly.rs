//! One exchange being assembled, the same way on both sides of the wire:
//! its request head is known when it starts, and then two pieces arrive
//! in any order — the request body's capture, and the response side (the
//! response head and its body's capture, or why no response came). The
//! piece that arrives last hands the exchange on, exactly once.
//!
//! The server layer (`server/recording.rs`) and the client layers
//! (`client/recording.rs`) open an assembly each; they differ only in
//! how the exchange begins and in the words of two errors ([`Wording`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use http::Response;
use http_body::Body;
use opentelemetry::trace::TraceId;

use super::budget::Held;
use super::{
    BodyCapture, BodyEnd, BodyRecord, BodySink, Exchange, MaybeTee, Part, Recorder, ResponseRecord,
    TeeBody, response_record,
};

/// The error of an exchange whose response never came because whatever
/// waited for it was dropped first.
pub(crate) const ABANDONED: &str = "abandoned";

/// Where a finished exchange goes.
#[derive(Debug)]
pub(crate) enum Destination {
    /// Into the recording of its trace.
    Trace(Part),
    /// Into a recording of its own, as a call made outside any request.
    Background {
        /// Who writes it.
        recorder: Recorder,
        /// The trace of its span.
        trace_id: TraceId,
    },
}

impl Destination {
    /// `held` goes with the exchange until its recording is handed on.
    fn finish(self, exchange: Exchange, held: Option<Arc<Held>>) {
        match self {
            Self::Trace(part) => part.finish_holding(exchange, held),
            Self::Background { recorder, trace_id } => {
                recorder.record_background(trace_id, exchange);
                drop(held);
            }
        }
    }

    /// A share of the recorder's body budget for the exchange's bodies.
    fn held(&self) -> Option<Arc<Held>> {
        match self {
            Self::Trace(part) => part.held(),
            Self::Background { recorder, .. } => Some(recorder.held()),
        }
    }
}

/// The words of the errors that differ between the two sides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wording {
    /// Put before the error type of a response body that failed.
    pub(crate) response_error_prefix: &'static str,
    /// The error of a response body dropped before its end.
    pub(crate) response_cut: &'static str,
}

/// Opens the assembly of `exchange` (its request head already in): the
/// response side, and the request body's sink.
pub(crate) fn open(
    destination: Destination,
    exchange: Exchange,
    limit: usize,
    wording: Wording,
) -> (ResponseSide, CaptureSink) {
    let held = destination.held();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            destination: Some(destination),
            exchange: Some(exchange),
            outstanding: 2,
        }),
        wording,
        held,
    });
    let response = ResponseSide {
        shared: Some(Arc::clone(&shared)),
        limit,
    };
    let request = CaptureSink {
        shared,
        side: Side::Request,
    };
    (response, request)
}

/// The response side of one exchange: turns the response into a teed
/// one, or records why none came. Dropped unused, it records the exchange
/// as [`ABANDONED`].
#[derive(Debug)]
pub(crate) struct ResponseSide {
    /// `None` once the response side has been handed on.
    shared: Option<Arc<Shared>>,
    limit: usize,
}

impl ResponseSide {
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
        let limit = self.limit;
        Response::from_parts(
            parts,
            MaybeTee::Tee {
                inner: sink.tee(body, limit),
            },
        )
    }

    /// Records that no response body will come: `response` is what was
    /// answered instead, if anything, and `error` why.
    pub(crate) fn fail(mut self, response: Option<ResponseRecord>, error: String) {
        if let Some(shared) = self.shared.take() {
            shared.close(|exchange| {
                exchange.response = response;
                exchange.error.get_or_insert(error);
            });
        }
    }
}

impl Drop for ResponseSide {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.close(|exchange| {
                exchange.error.get_or_insert_with(|| ABANDONED.to_owned());
            });
        }
    }
}

/// Where the request and response body captures of one exchange go.
#[derive(Debug)]
pub(crate) struct CaptureSink {
    shared: Arc<Shared>,
    side: Side,
}

impl CaptureSink {
    /// `body`, its first `limit` bytes captured for this sink, as far as
    /// the recorder's body budget allows.
    pub(crate) fn tee<B: Body>(self, body: B, limit: usize) -> TeeBody<B, Self> {
        match self.shared.held.clone() {
            Some(held) => TeeBody::budgeted(body, limit, held, self),
            None => TeeBody::new(body, limit, self),
        }
    }

    /// Records a body that was known whole before it was sent (the
    /// reqwest middleware's).
    #[cfg(feature = "reqwest")]
    pub(crate) fn record(self, body: BodyRecord) {
        self.finish(BodyCapture {
            body,
            end: BodyEnd::Complete,
            trailers: Vec::new(),
        });
    }
}

impl BodySink for CaptureSink {
    fn finish(self, capture: BodyCapture) {
        let side = self.side;
        let wording = self.shared.wording;
        self.shared.close(|exchange| {
            let error = match capture.end {
                BodyEnd::Complete => None,
                BodyEnd::Error { error_type } => Some(match side {
                    Side::Request => format!("request body: {error_type}"),
                    Side::Response => format!("{}{error_type}", wording.response_error_prefix),
                }),
                // A request body need not be read to its end (a handler
                // may ignore it; a failed call drops it unsent, and that
                // error is the response side's); a response cut short is
                // an error.
                BodyEnd::Incomplete => {
                    (side == Side::Response).then(|| wording.response_cut.to_owned())
                }
            };
            match side {
                Side::Request => exchange.request.body = capture.body,
                Side::Response => {
                    if let Some(response) = exchange.response.as_mut() {
                        response.body = capture.body;
                        response.trailers = capture.trailers;
                    }
                }
            }
            if let Some(error) = error {
                exchange.error.get_or_insert(error);
            }
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wording: Wording,
    /// The exchange's share of the body budget (`None` for an inert part).
    held: Option<Arc<Held>>,
}

#[derive(Debug)]
struct State {
    /// Taken when the exchange is finished.
    destination: Option<Destination>,
    /// Taken with the destination.
    exchange: Option<Exchange>,
    /// Pieces (request body, response side) not yet in.
    outstanding: u8,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `update` for one piece that came in, and hands the exchange
    /// on when it was the last one outstanding.
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
            destination.finish(exchange, self.held.clone());
        }
    }
}

/// `time` in nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    })
}
