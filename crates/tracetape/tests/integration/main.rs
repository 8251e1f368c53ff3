//! Cross-cutting flows over real sockets on 127.0.0.1 with real clients.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod context;
mod export;
mod grpc_status;
mod postgres;
#[cfg(all(feature = "postgres", feature = "record-replay"))]
mod postgres_pools;
#[cfg(feature = "postgres")]
mod postgres_spans;
#[cfg(feature = "record-replay")]
mod secrets;
mod server;
mod support;
mod tls;
mod tls_collector;
#[cfg(feature = "record-replay")]
mod tls_forward;
