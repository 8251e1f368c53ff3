//! OpenTelemetry tracing, and later record/replay, for tower HTTP services.
//!
//! tracetape gives an axum or hyper service one SERVER span per request that
//! follows the stable OpenTelemetry HTTP semantic conventions, continues the
//! caller's trace from `traceparent`/`tracestate`/`baggage`, records the
//! standard HTTP server metrics, and exports over OTLP to any collector. With
//! nothing configured, spans go to an embedded local store under
//! `.tracetape/` that the `tracetape` command reads.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use tracetape::server::TraceLayer;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Reads OTEL_* variables; flushes and shuts down when `_telemetry` drops.
//!     let _telemetry = tracetape::init();
//!     let app = Router::new()
//!         .route("/hello/{name}", get(|| async { "hello" }))
//!         .layer(TraceLayer::new());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | the route template of a request comes from axum's `MatchedPath` |
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
mod diag;
pub mod export;
mod hook;
mod http_attrs;
mod otlp_span;
pub mod propagation;
mod providers;
pub mod server;
pub mod setup;
pub mod store;
#[cfg(test)]
mod test_support;

pub use setup::{Telemetry, TelemetryGuard, init};

pub use http;
pub use opentelemetry;
pub use opentelemetry_sdk;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
