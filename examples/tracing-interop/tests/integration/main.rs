//! The two services over real sockets on 127.0.0.1, with the `tracing`
//! subscriber of `tracing_interop::subscriber`: spans in an in-memory
//! exporter, log lines in a buffer.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod logs;
mod support;
mod tree;
