//! Client tracing: one CLIENT span per attempt of an outbound HTTP request,
//! with its context injected into the request.
//!
//! Two integrations share one core, so they behave the same:
//!
//! - [`TraceLayer`], a tower `Layer` for HTTP client services (hyper-util's
//!   client, or any `tower::Service<http::Request<_>>`);
//! - [`TracingMiddleware`], middleware for `reqwest-middleware` clients
//!   (cargo feature `reqwest`, on by default).
//!
//! For each attempt:
//!
//! - the span is a child of the current context (the SERVER span inside a
//!   handler traced by [`crate::server::TraceLayer`], or any span made
//!   current) and is named `{method}`, or `{method} {url.template}` when the
//!   request carries a [`UrlTemplate`]; `HTTP` for methods outside the
//!   standard nine;
//! - it carries the stable HTTP semantic-convention attributes at start:
//!   `http.request.method` (and `_original`), `url.full` (passed through
//!   [`TraceLayer::with_url_filter`], then user name, password and
//!   signature query values `REDACTED`), `server.address`, `server.port`,
//!   `url.scheme`, `network.protocol.version`, `user_agent.original`,
//!   `url.template`, `http.request.resend_count` from the second send on;
//!   and at the end `http.response.status_code` and `error.type`;
//! - 4xx and 5xx responses are errors (`error.type` is the status code);
//!   an attempt that fails before a response is an error with an
//!   `exception` event and a low-cardinality `error.type`: `timeout`,
//!   `connect`, `dns`, `tls`, `body`, `redirect`, `request` or `_OTHER`;
//!   a caller that drops the request is not an error, and the span still
//!   ends;
//! - the span's context is injected with the configured propagator (the
//!   global one unless [`TraceLayer::with_propagator`]); headers the caller
//!   set are kept (see [`TraceLayer`] for the one rule on clashes);
//! - the span ends, and `http.client.request.duration` is recorded, when
//!   the response head arrives: the caller reads the body afterwards, on
//!   its own time. Time spent waiting for a pooled connection is inside
//!   the span.
//!
//! A gRPC call (`content-type: application/grpc…`) is described as one
//! instead: named `{rpc.service}/{rpc.method}`, with `rpc.system`,
//! `rpc.service`, `rpc.method` and `rpc.grpc.status_code` (from the
//! trailers, or a trailers-only response's headers), an error for every
//! code but `OK` (`error.type` the code's name), `CANCELLED` and no error
//! when the caller drops the call first; its span ends with the response
//! stream (the tower layer's [`ResponseBody`]) and it is measured by
//! `rpc.client.call.duration`. A tonic channel takes the layer as
//! [`TraceLayer::grpc`] makes it.
//!
//! Requests matching an exclusion ([`TraceLayer::with_exclude`],
//! `TRACETAPE_CLIENT_EXCLUDED_URLS` or `TRACETAPE_EXCLUDED_URLS`,
//! comma-separated regexes on the full URL) get no span, no metric and no
//! injected header. Headers named in
//! `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST` /
//! `_CLIENT_RESPONSE` are recorded as `http.{request,response}.header.<name>`,
//! those named in `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS`,
//! and the credential headers (`authorization`, `cookie`, … unless
//! `TRACETAPE_CAPTURE_HEADERS_SAFE` or [`TraceLayer::with_safe_headers`]
//! names them), redacted. `url.full` carries no user name or password and
//! no value of a credential query key (`api_key`, `token`, `password`,
//! `signature`, …; more with `TRACETAPE_REDACT_QUERY_KEYS`,
//! [`TraceLayer::with_redacted_query_keys`] and the query rules configured
//! for recordings); what is hidden where is listed in `docs/security.md`.
//!
//! In record mode each attempt made while serving a request that the
//! server layer records becomes a CLIENT exchange of that request's
//! recording; with [`TraceLayer::with_recorder`], calls made outside any
//! recorded request are recorded too, as background recordings. The tower
//! [`Trace`] therefore hands its inner client a [`RequestBody`] and its
//! caller a [`ResponseBody`], both passing `B` through unchanged.
//!
//! ```
//! # #[cfg(feature = "reqwest")]
//! # async fn run() -> Result<(), reqwest_middleware::Error> {
//! use reqwest_middleware::ClientBuilder;
//! use tracetape::client::{TracingMiddleware, UrlTemplate};
//!
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(TracingMiddleware::new())
//!     .build();
//! let response = client
//!     .get("http://127.0.0.1:3000/items/42")
//!     .with_extension(UrlTemplate::new("/items/{id}"))
//!     .send()
//!     .await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```

mod attempt;
mod body;
mod config;
mod error_type;
mod extensions;
#[cfg(feature = "grpc")]
mod grpc;
mod info;
mod layer;
mod metrics;
#[cfg(feature = "record-replay")]
mod recording;
#[cfg(feature = "reqwest")]
mod redirect;
#[cfg(feature = "record-replay")]
mod replay;
#[cfg(feature = "reqwest")]
mod reqwest;
mod resend;
mod service;
#[cfg(not(feature = "record-replay"))]
mod unbuilt;
mod url;

#[cfg(not(feature = "record-replay"))]
use unbuilt::{recording, replay};

#[cfg(all(test, feature = "record-replay"))]
mod record_tests;
#[cfg(test)]
mod tests;

pub use body::{RequestBody, ResponseBody};
pub use extensions::{ResendCount, UrlTemplate};
#[cfg(feature = "grpc")]
pub use grpc::{GrpcChannel, GrpcTraceLayer};
pub use info::{Outcome, RequestInfo, ResponseInfo};
pub use layer::TraceLayer;
#[cfg(feature = "reqwest")]
pub use redirect::{FollowRedirects, RedirectError};
#[cfg(feature = "reqwest")]
pub use reqwest::TracingMiddleware;
pub use resend::{CountResends, CountResendsFuture, CountResendsLayer};
pub use service::{BoxError, ResponseFuture, Trace};
