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
//! it records; a task spawned with the request's context carries it, also
//! after the response, and the recording waits for such a task), otherwise, when the client layer has a recorder of its
//! own (or else a process-wide one is installed), to a background
//! recording of its own.

use std::time::SystemTime;

use http::{Response, request};
use http_body::Body;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;

use super::config::Config;
use crate::body::LayerBody;
use crate::record::assembly::{self, CaptureSink, Destination, ResponseSide, Wording, unix_nanos};
use crate::record::{
    BodyRecord, Exchange, ExchangeKind, MaybeTee, NotSampled, Part, Recorder, RequestRecord,
    TraceRecording, request_record,
};

/// The error of an exchange whose response body was dropped before its
/// end.
pub(crate) const NOT_READ: &str = "response body dropped before its end";

/// A response body that fails, or is dropped before its end, says so.
const WORDING: Wording = Wording {
    response_error_prefix: "response body: ",
    response_cut: NOT_READ,
};

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
    (config.modes.recorder.clone())
        .or_else(crate::record::global)
        .filter(Recorder::sample)
        .map(Plan::Background)
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
        (name, route): (String, Option<String>),
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
            route,
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

    /// The tower client's request: its head of `parts` (as sent, the
    /// context injected) recorded, and `body` teed as the inner client
    /// sends it.
    pub(crate) fn tee_request<B: Body>(
        self,
        parts: &request::Parts,
        body: B,
    ) -> (LayerBody<B>, Option<ClientCapture>) {
        let request = request_record(parts, ExchangeKind::Client, BodyRecord::default());
        let Begun {
            capture,
            request_sink,
            limit,
        } = self.begin(request);
        (
            LayerBody::recorded(body, limit, request_sink),
            Some(capture),
        )
    }

    /// reqwest's request, recorded whole before it is sent (see
    /// [`reqwest_body`]).
    #[cfg(feature = "reqwest")]
    pub(crate) fn record_reqwest(self, request: &reqwest::Request) -> ClientCapture {
        let Begun {
            capture,
            request_sink,
            limit,
        } = self.begin(RequestRecord {
            method: request.method().as_str().to_owned(),
            url: request.url().as_str().to_owned(),
            headers: crate::record::header_records(request.headers()),
            body: BodyRecord::default(),
        });
        request_sink.record(reqwest_body(request, limit));
        capture
    }

    /// Records the request head (its body is filled in by the sink) and
    /// opens the two captures.
    fn begin(mut self, request: RequestRecord) -> Begun {
        self.exchange.request = request;
        let (capture, request_sink) =
            assembly::open(self.destination, self.exchange, self.limit, WORDING);
        Begun {
            capture: ClientCapture(capture),
            request_sink,
            limit: self.limit,
        }
    }
}

/// What [`Pending::begin`] returns: the response side, the request body's
/// sink and the body limit.
#[derive(Debug)]
struct Begun {
    capture: ClientCapture,
    request_sink: CaptureSink,
    limit: usize,
}

/// The response side of one recorded attempt: turns the response into a
/// teed one, or records the error that came instead. Dropped unused, it
/// records the exchange as abandoned.
#[derive(Debug)]
pub(crate) struct ClientCapture(ResponseSide);

impl ClientCapture {
    /// Records the head of `response` and tees its body, as the tower
    /// client hands it on.
    pub(crate) fn response<B: Body>(self, response: Response<B>) -> Response<LayerBody<B>> {
        self.0.response(response).map(LayerBody::from_maybe)
    }

    /// Records the error that came instead of a response.
    pub(crate) fn fail(self, error: &(dyn std::error::Error + 'static)) {
        self.0.fail(None, error_text(error));
    }

    /// reqwest's `response` with its body teed. reqwest's conversion to
    /// `http::Response` leaves the URL behind, so it is put back as the
    /// extension reqwest reads it from.
    #[cfg(feature = "reqwest")]
    pub(crate) fn reqwest_response(self, response: reqwest::Response) -> reqwest::Response {
        use reqwest::ResponseBuilderExt as _;

        let url = response.url().clone();
        let response: Response<MaybeTee<reqwest::Body, CaptureSink>> =
            self.0.response(Response::<reqwest::Body>::from(response));
        let (mut parts, body) = response.into_parts();
        if let Ok(carrier) = Response::builder()
            .url(url)
            .body(())
            .map(|carrier| carrier.into_parts().0)
        {
            parts.extensions.extend(carrier.extensions);
        }
        reqwest::Response::from(Response::from_parts(parts, reqwest::Body::wrap(body)))
    }
}

/// What a recorded exchange keeps of an error: the span's `error.type`
/// and the message, as `{error.type}: {message}`.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    format!(
        "{}: {}",
        super::error_type::classify(error),
        super::attempt::error_message(error)
    )
}

/// What can be recorded of a reqwest request body before it is sent: its
/// bytes when reqwest holds them in memory, up to `limit`; for a streamed
/// body nothing, marked truncated, with the size when it is known.
#[cfg(feature = "reqwest")]
fn reqwest_body(request: &reqwest::Request, limit: usize) -> BodyRecord {
    let Some(body) = request.body() else {
        return BodyRecord::default();
    };
    match body.as_bytes() {
        Some(bytes) => {
            let kept = bytes.len().min(limit);
            BodyRecord {
                bytes: bytes::Bytes::copy_from_slice(&bytes[..kept]),
                truncated: kept < bytes.len(),
                size: bytes.len() as u64,
            }
        }
        None => BodyRecord {
            bytes: bytes::Bytes::new(),
            truncated: true,
            size: Body::size_hint(body).exact().unwrap_or(0),
        },
    }
}
