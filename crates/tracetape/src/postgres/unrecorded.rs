//! Without the `record-replay` feature no operation is recorded: the names
//! of `record.rs`, with nothing to hold.

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceId};

use super::capture::Captured;
use super::conversation::Operation;
use crate::layer_modes::LayerModes;

/// An operation being recorded: never, in this build.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) captured: Captured,
    never: std::convert::Infallible,
}

/// Never recorded.
pub(crate) fn begin(
    _context: &Context,
    _modes: &LayerModes,
    _statement: &super::sql::Statement,
) -> Option<Pending> {
    None
}

/// Never recorded.
pub(crate) fn wanted(
    _context: &Context,
    _modes: &LayerModes,
    _statement: &super::sql::Statement,
) -> bool {
    false
}

/// What the exchange would say of where the operation ran (the fields
/// of `record::Server`, which nothing reads in this build).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct Server<'a> {
    pub(crate) url: &'a str,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) name: &'a str,
}

pub(crate) fn finish(pending: Pending, _operation: &Operation, _server: &Server<'_>) {
    match pending.never {}
}
