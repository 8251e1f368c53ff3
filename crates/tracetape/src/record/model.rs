//! What a recording holds: the exchanges of one trace, each a request and
//! what came back, with bodies kept byte-exact up to a size limit.

use bytes::Bytes;
use opentelemetry::trace::{SpanId, TraceId};

/// A captured body: the first bytes as they crossed the wire (still
/// compressed when `Content-Encoding` says so), whether more followed, and
/// how many bytes there were in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyRecord {
    /// The bytes kept, at most the configured limit.
    pub bytes: Bytes,
    /// More bytes crossed the wire than were kept.
    pub truncated: bool,
    /// Every byte that crossed the wire, kept or not.
    pub size: u64,
}

/// One header as sent: the name lower-cased, the value as raw bytes (header
/// values need not be UTF-8). Repeated headers are repeated entries, in
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRecord {
    /// Lower-case header name.
    pub name: String,
    /// The value's bytes.
    pub value: Bytes,
}

/// A request as it was received (server) or sent (client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The method, as sent (`GET`, or any extension method).
    pub method: String,
    /// The full URL for outbound calls; the path and query for inbound ones.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<HeaderRecord>,
    /// The body.
    pub body: BodyRecord,
}

/// A response as it was sent (server) or received (client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRecord {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<HeaderRecord>,
    /// The body.
    pub body: BodyRecord,
    /// The trailers that followed the body, in order (a gRPC call's
    /// `grpc-status` and `grpc-message`); empty when there were none.
    pub trailers: Vec<HeaderRecord>,
}

/// Which side of the wire an exchange was seen from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// An inbound request the service answered.
    Server,
    /// An outbound call the service made.
    Client,
    /// A database operation the service ran (through
    /// `tracetape::postgres`): the request's method is the operation
    /// (`SELECT`, or `QUERY`), its URL the server and database
    /// (`postgresql://host:port/db`), its body the SQL and parameters as
    /// JSON; the response's status is 0 and its body the results (and the
    /// error) as JSON. `docs/recordings.md` has the shape.
    Database,
}

/// One request and its outcome, tied to the span that traced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Inbound or outbound.
    pub kind: ExchangeKind,
    /// The span of the exchange.
    pub span_id: SpanId,
    /// Its parent span ([`SpanId::INVALID`] for a root).
    pub parent_span_id: SpanId,
    /// The span name (`GET /orders/{id}`).
    pub name: String,
    /// The route template: `http.route` of an inbound request (`/orders/{id}`)
    /// or `url.template` of an outbound call, when known.
    pub route: Option<String>,
    /// When the request started, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// When the exchange ended, in nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// The request.
    pub request: RequestRecord,
    /// The response; `None` when the exchange failed before one (see
    /// `error`) or was abandoned.
    pub response: Option<ResponseRecord>,
    /// Why no response came, when one did not.
    pub error: Option<String>,
}

/// Everything recorded for one trace: the inbound request first (absent
/// for calls made outside any request), then the outbound calls in the
/// order they started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The trace the exchanges belong to.
    pub trace_id: TraceId,
    /// `service.name` of the service that recorded it.
    pub service_name: String,
    /// `true` for outbound calls made outside any inbound request (at
    /// start-up, by background jobs).
    pub background: bool,
    /// The exchanges.
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    /// The inbound request this recording answers, if any.
    pub fn inbound(&self) -> Option<&Exchange> {
        self.exchanges
            .iter()
            .find(|exchange| exchange.kind == ExchangeKind::Server)
    }

    /// The outbound calls and database operations, in the order they
    /// started: what replay answers from, and the order its log counts
    /// them in.
    pub fn calls(&self) -> impl Iterator<Item = &Exchange> {
        self.exchanges
            .iter()
            .filter(|exchange| exchange.kind != ExchangeKind::Server)
    }

    /// The outbound HTTP calls, in the order they started.
    pub fn outbound(&self) -> impl Iterator<Item = &Exchange> {
        self.exchanges
            .iter()
            .filter(|exchange| exchange.kind == ExchangeKind::Client)
    }
}
