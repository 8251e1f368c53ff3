//! `tracetape show --format json`: the recordings of a trace, or a trace
//! of the span store, as one JSON document with everything whole (every
//! field in docs/list-show-json.md).

use std::io::{self, Write};

use crate::span_store::{SpanEvent, SpanStatus, StoredSpan, Trace};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tracetape::record::{BodyRecord, Exchange, ExchangeKind, HeaderRecord, StoredRecording};
use tracetape::replay::ReplayId;

use crate::format::rfc3339;
use crate::output::{JSON_VERSION, attributes, millis, write_json};
use crate::recordings::start_unix_nanos;

/// The recordings of one trace.
#[derive(Debug, Serialize)]
struct JsonRecorded<'a> {
    version: u32,
    /// `recordings`: this document; `traces`: [`JsonTrace`].
    source: &'static str,
    trace_id: &'a str,
    recordings: Vec<JsonRecording<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonRecording<'a> {
    id: Option<String>,
    file: String,
    /// The line of `file` holding it.
    line: u64,
    service: &'a str,
    background: bool,
    start: Option<String>,
    exchanges: Vec<JsonExchange<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonExchange<'a> {
    /// `inbound` (the request the service served) or `outbound` (a call).
    kind: &'static str,
    span_id: String,
    parent_span_id: String,
    name: &'a str,
    route: Option<&'a str>,
    start_unix_nanos: u64,
    end_unix_nanos: u64,
    duration_ms: f64,
    request: JsonRequest<'a>,
    response: Option<JsonResponse<'a>>,
    error: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct JsonRequest<'a> {
    method: &'a str,
    url: &'a str,
    headers: Vec<JsonHeader<'a>>,
    body: JsonBody,
}

#[derive(Debug, Serialize)]
struct JsonResponse<'a> {
    status: u16,
    headers: Vec<JsonHeader<'a>>,
    body: JsonBody,
}

#[derive(Debug, Serialize)]
struct JsonHeader<'a> {
    name: &'a str,
    /// The value as text (bytes that are not UTF-8 replaced by U+FFFD).
    value: String,
}

/// A body as recorded (still compressed if it was sent so): as text when
/// it is UTF-8, else in base64.
#[derive(Debug, Serialize)]
struct JsonBody {
    /// Bytes that crossed the wire.
    size: u64,
    /// Fewer were kept than crossed the wire.
    truncated: bool,
    text: Option<String>,
    base64: Option<String>,
}

/// A trace of the span store.
#[derive(Debug, Serialize)]
struct JsonTrace<'a> {
    version: u32,
    source: &'static str,
    trace_id: &'a str,
    start: String,
    duration_ms: f64,
    skipped_files: usize,
    /// Depth first, each span after its parent.
    spans: Vec<JsonSpan<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonSpan<'a> {
    span_id: &'a str,
    parent_span_id: Option<&'a str>,
    name: &'a str,
    kind: &'static str,
    service: Option<&'a str>,
    start_unix_nanos: u64,
    end_unix_nanos: u64,
    duration_ms: f64,
    /// `unset`, `ok` or `error`.
    status: &'static str,
    status_message: Option<&'a str>,
    #[serde(serialize_with = "attributes")]
    attributes: &'a [(String, String)],
    events: Vec<JsonEvent<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonEvent<'a> {
    name: &'a str,
    time_unix_nanos: u64,
    #[serde(serialize_with = "attributes")]
    attributes: &'a [(String, String)],
}

/// Writes the recordings of the trace `trace_id`, in time order.
pub(super) fn recorded(
    trace_id: &str,
    recordings: &[StoredRecording],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut in_time_order: Vec<&StoredRecording> = recordings.iter().collect();
    in_time_order.sort_by_key(|stored| {
        (
            start_unix_nanos(&stored.recording),
            &stored.path,
            stored.line,
        )
    });
    let json = JsonRecorded {
        version: JSON_VERSION,
        source: "recordings",
        trace_id,
        recordings: in_time_order.into_iter().map(recording).collect(),
    };
    write_json(&json, out)
}

fn recording(stored: &StoredRecording) -> JsonRecording<'_> {
    let recording = &stored.recording;
    JsonRecording {
        id: ReplayId::of(recording).map(|id| id.to_string()),
        file: stored.path.display().to_string(),
        line: stored.line,
        service: &recording.service_name,
        background: recording.background,
        start: start_unix_nanos(recording).map(rfc3339),
        exchanges: recording.exchanges.iter().map(exchange).collect(),
    }
}

fn exchange(exchange: &Exchange) -> JsonExchange<'_> {
    let request = &exchange.request;
    JsonExchange {
        kind: match exchange.kind {
            ExchangeKind::Server => "inbound",
            ExchangeKind::Client => "outbound",
            ExchangeKind::Database => "database",
        },
        span_id: exchange.span_id.to_string(),
        parent_span_id: exchange.parent_span_id.to_string(),
        name: &exchange.name,
        route: exchange.route.as_deref(),
        start_unix_nanos: exchange.start_unix_nanos,
        end_unix_nanos: exchange.end_unix_nanos,
        duration_ms: millis(
            exchange
                .end_unix_nanos
                .saturating_sub(exchange.start_unix_nanos),
        ),
        request: JsonRequest {
            method: &request.method,
            url: &request.url,
            headers: headers(&request.headers),
            body: body(&request.body),
        },
        response: exchange.response.as_ref().map(|response| JsonResponse {
            status: response.status,
            headers: headers(&response.headers),
            body: body(&response.body),
        }),
        error: exchange.error.as_deref(),
    }
}

fn headers(headers: &[HeaderRecord]) -> Vec<JsonHeader<'_>> {
    headers
        .iter()
        .map(|header| JsonHeader {
            name: &header.name,
            value: String::from_utf8_lossy(&header.value).into_owned(),
        })
        .collect()
}

fn body(body: &BodyRecord) -> JsonBody {
    let (text, base64) = match std::str::from_utf8(&body.bytes) {
        Ok(text) => (Some(text.to_owned()), None),
        Err(_) => (None, Some(STANDARD.encode(&body.bytes))),
    };
    JsonBody {
        size: body.size,
        truncated: body.truncated,
        text,
        base64,
    }
}

/// Writes the spans of `trace`.
pub(super) fn trace(trace: &Trace, out: &mut dyn Write) -> io::Result<()> {
    let json = JsonTrace {
        version: JSON_VERSION,
        source: "traces",
        trace_id: trace.trace_id(),
        start: rfc3339(trace.start_unix_nanos()),
        duration_ms: millis(u64::try_from(trace.duration().as_nanos()).unwrap_or(u64::MAX)),
        skipped_files: trace.skipped_files(),
        spans: trace.walk().map(|entry| span(entry.span)).collect(),
    };
    write_json(&json, out)
}

fn span(span: &StoredSpan) -> JsonSpan<'_> {
    let (status, status_message) = match &span.status {
        SpanStatus::Ok => ("ok", None),
        SpanStatus::Error { message } => ("error", Some(message.as_str())),
        _ => ("unset", None),
    };
    JsonSpan {
        span_id: &span.span_id,
        parent_span_id: span.parent_span_id.as_deref(),
        name: &span.name,
        kind: span.kind.as_str(),
        service: span.service_name.as_deref(),
        start_unix_nanos: span.start_unix_nanos,
        end_unix_nanos: span.end_unix_nanos,
        duration_ms: millis(span.end_unix_nanos.saturating_sub(span.start_unix_nanos)),
        status,
        status_message,
        attributes: &span.attributes,
        events: span.events.iter().map(event).collect(),
    }
}

fn event(event: &SpanEvent) -> JsonEvent<'_> {
    JsonEvent {
        name: &event.name,
        time_unix_nanos: event.time_unix_nanos,
        attributes: &event.attributes,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_text_when_utf8_else_base64() {
        let utf8 = body(&BodyRecord {
            bytes: b"{\"a\":1}".to_vec().into(),
            truncated: false,
            size: 7,
        });
        assert_eq!(utf8.text.as_deref(), Some("{\"a\":1}"));
        assert_eq!(utf8.base64, None);
        let binary = body(&BodyRecord {
            bytes: vec![0x1f, 0x8b, 0xff].into(),
            truncated: true,
            size: 300,
        });
        assert_eq!(binary.text, None);
        assert_eq!(binary.base64.as_deref(), Some("H4v/"));
        assert!(binary.truncated);
    }
}
