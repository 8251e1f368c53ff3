//! Record mode: turning real traffic into recordings that a later replay
//! can serve.
//!
//! With `TRACETAPE_MODE=record`, the server and client layers that trace
//! a service also capture what it received, what it answered and every
//! outbound call it made while answering, as [`Recording`]s: one per
//! trace, each a list of [`Exchange`]s tied to the spans that traced them.
//! Bodies are captured as they stream past, never buffered whole first,
//! and kept byte-exact up to a limit.
//!
//! This module holds the data model; capture, the store and the writer
//! arrive with it step by step.

mod body;
mod config;
mod model;

pub use body::{BodyCapture, BodyEnd, BodySink, TeeBody};
pub use config::{DEFAULT_DIR, DEFAULT_MAX_BODY_BYTES, DEFAULT_QUEUE, Mode, RecordSettings};
pub use model::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RequestRecord, ResponseRecord,
};
