//! Server tracing: a tower layer that gives every request one SERVER span.
//!
//! [`TraceLayer`] wraps any `tower::Service<http::Request<_>>` (an axum
//! `Router`, a hyper service) and, for each request:
//!
//! - extracts the caller's context (parent span, tracestate and baggage)
//!   with the configured propagator, and makes the SERVER span's context
//!   current while the handler runs, so spans and outbound calls made there
//!   are its children;
//! - names the span `{method} {http.route}` (from axum's `MatchedPath` or
//!   [`TraceLayer::with_route`]), `{method}` when no route is known, `HTTP`
//!   for methods outside the standard nine;
//! - sets the stable HTTP semantic-convention attributes at start, so
//!   samplers see them: `http.request.method` (and `_original`), `url.path`,
//!   `url.query` (signature values `REDACTED`), `url.scheme`,
//!   `server.address`/`server.port` (from `Forwarded`, `X-Forwarded-Host`,
//!   `Host`), `client.address` (from `Forwarded`, `X-Forwarded-For`, else the
//!   peer), `network.peer.address`/`port` (see [`PeerAddr`]),
//!   `network.protocol.version`, `user_agent.original`, `http.route`; and at
//!   the end `http.response.status_code` and `error.type`;
//! - marks 5xx as errors (4xx are not errors on the server), catches a
//!   handler panic, answers it with a 500 and records an `exception` event;
//! - ends the span when the response body has been sent or dropped, so a
//!   streamed body is inside its span and a client that goes away mid-request
//!   is not an error;
//! - records `http.server.request.duration` and `http.server.active_requests`.
//!
//! A gRPC call (`content-type: application/grpc…`, a tonic service) is
//! described as one instead of as an HTTP request: named
//! `{rpc.service}/{rpc.method}`, with `rpc.system`, `rpc.service`,
//! `rpc.method` and `rpc.grpc.status_code` (from the trailers, or the
//! headers of a trailers-only answer); an error for `UNKNOWN`,
//! `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE` and
//! `DATA_LOSS` only; `CANCELLED` and no error when the client goes away
//! first; measured by `rpc.server.call.duration`. A handler that panics
//! answers a gRPC client a trailers-only `INTERNAL` (anyone else a 500).
//! On tonic's server:
//! `Server::builder().layer(TraceLayer::new())`.
//!
//! Requests matching an exclusion ([`TraceLayer::with_exclude`],
//! `TRACETAPE_SERVER_EXCLUDED_URLS` or `TRACETAPE_EXCLUDED_URLS`,
//! comma-separated regexes on the path) get no span and no metric. Headers
//! named in `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST` /
//! `_SERVER_RESPONSE` are recorded as `http.{request,response}.header.<name>`
//! string arrays, with those named in
//! `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS`, and the
//! credential headers (`authorization`, `cookie`, … unless
//! `TRACETAPE_CAPTURE_HEADERS_SAFE` or [`TraceLayer::with_safe_headers`]
//! names them), redacted. The values of credential query keys (`api_key`,
//! `token`, `password`, `signature`, …; more with
//! `TRACETAPE_REDACT_QUERY_KEYS`, [`TraceLayer::with_redacted_query_keys`]
//! and the query rules configured for recordings) are `REDACTED` in
//! `url.query`. What is hidden where is listed in `docs/security.md`.
//!
//! With [`TraceLayer::with_recorder`] the layer also records: each request
//! the recorder samples becomes the SERVER exchange of its trace's
//! recording (request and response heads, bodies copied as they stream
//! past), and the trace's recording is in the handler's context for the
//! client layers.
//!
//! # The request body type
//!
//! The wrapped service receives `Request<`[`RequestBody<B>`]`>` rather than
//! `Request<B>`: the same body, which in record mode also copies what is
//! read. An axum `Router` accepts any body, so axum users see no
//! difference. A plain hyper or tower service takes the wrapper in its
//! signature (it implements [`http_body::Body`] with `B`'s data and error
//! types):
//!
//! ```
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use tracetape::server::{RequestBody, TraceLayer};
//!
//! async fn hello(
//!     _request: http::Request<RequestBody<Incoming>>,
//! ) -> Result<http::Response<Full<Bytes>>, Infallible> {
//!     Ok(http::Response::new(Full::new(Bytes::from("hello"))))
//! }
//!
//! let service = tower::ServiceBuilder::new()
//!     .layer(TraceLayer::new())
//!     .service_fn(hello);
//! # let _ = service;
//! ```
//!
//! ```
//! use axum::{Router, routing::get};
//! use opentelemetry::{KeyValue, trace::TraceContextExt};
//! use tracetape::server::TraceLayer;
//!
//! async fn order() -> &'static str {
//!     // The SERVER span is current inside the handler.
//!     opentelemetry::Context::current()
//!         .span()
//!         .set_attribute(KeyValue::new("order.priority", "high"));
//!     "order"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/orders/{id}", get(order))
//!     .layer(TraceLayer::new());
//! ```

mod active;
mod body;
mod config;
mod forwarded;
mod future;
mod inbound;
mod inflight;
mod layer;
mod metrics;
mod mode;
mod on_request;
mod on_response;
mod peer;
#[cfg(feature = "record-replay")]
mod record_replay;
#[cfg(feature = "record-replay")]
mod recording;
#[cfg(feature = "record-replay")]
mod replay;
mod request;
mod route;
mod service;

#[cfg(all(test, feature = "record-replay"))]
mod record_tests;
#[cfg(test)]
mod tests;

pub use body::{RequestBody, ResponseBody};
pub use future::ResponseFuture;
pub use layer::TraceLayer;
pub use on_request::OnRequest;
pub use on_response::OnResponse;
pub use peer::PeerAddr;
pub use service::Trace;
