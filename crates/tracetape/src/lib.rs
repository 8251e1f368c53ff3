//! OpenTelemetry tracing and record/replay for tower HTTP services.
//!
//! tracetape gives an axum or hyper service one SERVER span per request
//! ([`server::TraceLayer`]) and its reqwest or hyper-util clients one CLIENT
//! span per attempt ([`client::TracingMiddleware`], [`client::TraceLayer`]),
//! following the stable OpenTelemetry HTTP semantic conventions. Trace
//! context and baggage travel between services with the propagators of
//! [`propagation`] (W3C Trace Context Level 2, W3C Baggage, B3), so a request
//! through several services is one trace. It records the standard HTTP
//! metrics and exports over OTLP to any collector; with nothing configured,
//! spans go to an embedded local store under `.tracetape/` that the
//! `tracetape` command reads.
//!
//! Work that leaves the request's task (tokio tasks, blocking threads, thread
//! pools, child processes) takes the trace context along with [`context`].
//!
//! ```no_run
//! use axum::{extract::State, routing::get, Router};
//! use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
//! use tracetape::client::TracingMiddleware;
//! use tracetape::server::TraceLayer;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Reads OTEL_* variables; flushes and shuts down when `_telemetry` drops.
//!     let _telemetry = tracetape::init();
//!     let client = ClientBuilder::new(reqwest::Client::new())
//!         .with(TracingMiddleware::new())
//!         .build();
//!     let app = Router::new()
//!         .route("/hello/{name}", get(hello))
//!         .with_state(client)
//!         .layer(TraceLayer::new());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//!
//! // Calls made inside a handler are children of its SERVER span, and the
//! // service called continues the same trace.
//! async fn hello(State(client): State<ClientWithMiddleware>) -> String {
//!     match client.get("http://127.0.0.1:8081/greeting").send().await {
//!         Ok(response) => response.text().await.unwrap_or_default(),
//!         Err(_) => "hello".to_owned(),
//!     }
//! }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | the route template of a request comes from axum's `MatchedPath` |
//! | `reqwest` | yes | [`client::TracingMiddleware`] and [`client::FollowRedirects`] for `reqwest-middleware` clients |
//! | `grpc` | yes | OTLP export over gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`), with TLS and gzip: tonic and its transport (spans through [`export::OtlpGrpcExporter`], metrics through opentelemetry-otlp's exporter). Without it spans and metrics go over http/protobuf only, and asking for gRPC is an error at start ([`setup::SetupError::GrpcNotBuilt`]) |
//! | `record-replay` | yes | record and replay mode (`TRACETAPE_MODE=record` / `replay`): the [`record`] and [`replay`] modules, the layers' `with_recorder` and `with_replayer`, [`TelemetryGuard::recorder`] and [`TelemetryGuard::replayer`], and the crates only they need (flate2, toml, blake3, getrandom, base64, serde, http-body-util). Without it the layers trace only, and asking for record or replay mode is an error at start ([`setup::SetupError::RecordReplayNotBuilt`]; [`init`] says so on standard error) |
//! | `postgres` | yes | [`postgres`]: PostgreSQL queries as CLIENT spans through an in-process proxy of the wire protocol (pgwire's codec) |
//! | `sqlx`, `deadpool-postgres`, `tokio-postgres` | no | the check-out hooks that tell the proxy which request took a pooled connection: `postgres::sqlx_traced` (sqlx 0.9, which needs Rust 1.94), `postgres::deadpool_traced`, `postgres::tokio_postgres_mark` |
//! | `tracing` | no | the `tracing` module: log lines of the `tracing` crate that carry the current span's trace and span id (`WithTraceIds`, `current_ids`), and events outside `tracing` spans recorded on the current span (`SpanEvents`) |
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The docs speak of record and replay mode throughout; built without them
// (docs.rs builds every feature), those links have nowhere to go.
#![cfg_attr(not(feature = "record-replay"), allow(rustdoc::broken_intra_doc_links))]

mod body;
pub mod client;
pub mod context;
mod diag;
pub mod export;
pub mod grpc;
mod hook;
mod http_attrs;
mod layer_modes;
mod layer_options;
mod otlp_span;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub mod propagation;
mod providers;
#[cfg(feature = "record-replay")]
#[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
pub mod record;
#[cfg(feature = "record-replay")]
#[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
pub mod replay;
pub mod server;
pub mod setup;
#[cfg(feature = "record-replay")]
mod slot;
pub mod store;
#[cfg(test)]
mod test_support;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod tracing;

pub use setup::{Telemetry, TelemetryGuard, init};

pub use http;
pub use opentelemetry;
pub use opentelemetry_sdk;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
