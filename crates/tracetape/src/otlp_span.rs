//! What the OTLP protobuf and JSON writers both derive from the SDK's
//! `SpanData`: spans grouped by scope, and the span fields OTLP spells
//! differently from the SDK.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;

#[cfg(test)]
pub(crate) mod fixtures;

/// `SpanFlags`: the span's context says whether its parent is remote.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// `spans` grouped by instrumentation scope, scopes in order of first
/// appearance, as the SDK's own conversion does. A batch rarely holds more
/// than a few scopes, so a linear search is enough.
pub(crate) fn by_scope(spans: &[SpanData]) -> Vec<(&InstrumentationScope, Vec<&SpanData>)> {
    let mut scopes: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
    for span in spans {
        match scopes
            .iter_mut()
            .find(|(s, _)| **s == span.instrumentation_scope)
        {
            Some((_, members)) => members.push(span),
            None => scopes.push((&span.instrumentation_scope, vec![span])),
        }
    }
    scopes
}

/// The `Span.SpanKind` enum value.
pub(crate) fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// The `flags` field: the W3C trace flags plus whether the parent is remote.
pub(crate) fn flags(parent_is_remote: bool, trace_flags: u8) -> u32 {
    let mut flags = u32::from(trace_flags) | HAS_IS_REMOTE;
    if parent_is_remote {
        flags |= IS_REMOTE;
    }
    flags
}

/// Nanoseconds since the epoch; 0 before it and, as the SDK's conversion
/// does, wrapped past the year 2554.
pub(crate) fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
