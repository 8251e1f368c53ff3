//! Record mode for database operations: each recorded operation becomes a
//! [`Database`](ExchangeKind::Database) exchange, in the recording of the
//! request that ran it (the context its connection's last marker
//! carried), or in a background recording of its own when no request
//! did (start-up, migrations, background jobs).
//!
//! The exchange's request body is the SQL and its parameters, its
//! response body the results (columns, rows, command tags) and the error,
//! both as JSON: values read by their types ([`values`](super::values)),
//! so a recording shows what the database held, redaction rules reach
//! it as they reach HTTP bodies, and replay can give the driver back the
//! same bytes.

use bytes::Bytes;
use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use serde_json::{Map, Value, json};

use super::capture::{Captured, Column, ResultSet};
use super::conversation::Operation;
use super::values;
use crate::record::assembly::unix_nanos;
use crate::record::{
    BodyRecord, Exchange, ExchangeKind, NotSampled, Part, Recorder, RequestRecord, ResponseRecord,
    TraceRecording,
};

/// An operation being recorded: where its exchange goes, and what it
/// kept so far.
#[derive(Debug)]
pub(crate) struct Pending {
    destination: Destination,
    pub(crate) captured: Captured,
}

#[derive(Debug)]
enum Destination {
    /// Into the recording of the request, which waits for it; with the
    /// body limit.
    Trace(Part, usize),
    /// Into a background recording of its own.
    Background(Recorder),
}

/// Where an operation starting in `context` is recorded, if anywhere: one
/// context lookup, and one atomic load when record mode is off.
pub(crate) fn begin(context: &Context) -> Option<Pending> {
    let destination = if let Some(trace) = context.get::<TraceRecording>() {
        Destination::Trace(trace.part(), trace.recorder().max_body_bytes())
    } else if context.get::<NotSampled>().is_some() {
        return None;
    } else {
        Destination::Background(crate::record::global().filter(Recorder::sample)?)
    };
    Some(Pending {
        destination,
        captured: Captured::default(),
    })
}

/// Whether an operation starting in `context` would be recorded, without
/// opening anything.
pub(crate) fn wanted(context: &Context) -> bool {
    context.get::<TraceRecording>().is_some()
        || (context.get::<NotSampled>().is_none() && crate::record::global().is_some())
}

/// What the exchange says of where the operation ran.
#[derive(Debug)]
pub(crate) struct Server<'a> {
    /// `postgresql://host:port/database`.
    pub(crate) url: &'a str,
    /// The operation's span: its exchange's span, and for a background
    /// recording, its trace.
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) name: &'a str,
}

/// Hands the exchange of `operation` on.
pub(crate) fn finish(pending: Pending, operation: &Operation, server: &Server<'_>) {
    let started = unix_nanos(operation.started);
    let elapsed = operation.ended_at.duration_since(operation.started_at);
    let ended = started.saturating_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
    let limit = match &pending.destination {
        Destination::Trace(_, limit) => *limit,
        Destination::Background(recorder) => recorder.max_body_bytes(),
    };
    let captured = &pending.captured;
    let statement = &operation.statement;
    let method = statement.operation.as_deref().unwrap_or("QUERY");
    let exchange = Exchange {
        kind: ExchangeKind::Database,
        span_id: server.span_id,
        parent_span_id: operation.context.span().span_context().span_id(),
        name: server.name.to_owned(),
        route: None,
        start_unix_nanos: started,
        end_unix_nanos: ended,
        request: RequestRecord {
            // `BATCH INSERT` has no space in a method.
            method: method.replace(' ', "_"),
            url: server.url.to_owned(),
            headers: Vec::new(),
            body: body(&request_json(&statement.sql, captured), limit),
        },
        response: Some(ResponseRecord {
            status: 0,
            headers: Vec::new(),
            body: body(&response_json(captured), limit),
        }),
        error: None,
    };
    match pending.destination {
        Destination::Trace(part, _) => part.finish_holding(exchange, None),
        Destination::Background(recorder) => recorder.record_background(server.trace_id, exchange),
    }
}

/// `{"sql": …, "parameters": [values], "types": [oids], "formats": […]}`.
fn request_json(sql: &str, captured: &Captured) -> Value {
    let parameters = &captured.parameters;
    let values: Vec<Value> = parameters
        .iter()
        .map(|p| values::decode(p.type_oid, p.format, p.value.as_deref()))
        .collect();
    let mut object = Map::new();
    object.insert("sql".into(), Value::from(sql));
    if !parameters.is_empty() {
        object.insert("parameters".into(), Value::from(values));
        object.insert(
            "types".into(),
            parameters.iter().map(|p| p.type_oid).collect(),
        );
        object.insert(
            "formats".into(),
            parameters.iter().map(|p| p.format).collect(),
        );
    }
    Value::Object(object)
}

/// `{"results": [{"columns": […], "rows": [[…]], "tag": …}], "error": {…}}`.
fn response_json(captured: &Captured) -> Value {
    let mut object = Map::new();
    object.insert(
        "results".into(),
        captured.results.iter().map(result_json).collect(),
    );
    if let Some(fields) = &captured.error {
        let error: Map<String, Value> = fields
            .iter()
            .map(|(code, value)| (field_name(*code), Value::from(value.as_str())))
            .collect();
        object.insert("error".into(), Value::Object(error));
    }
    Value::Object(object)
}

fn result_json(result: &ResultSet) -> Value {
    let mut object = Map::new();
    if let Some(columns) = &result.columns {
        object.insert("columns".into(), columns.iter().map(column_json).collect());
        let rows: Vec<Value> = result
            .rows
            .iter()
            .map(|row| {
                let cells = row.iter().enumerate().map(|(i, cell)| {
                    let (type_oid, format) =
                        columns.get(i).map_or((0, 1), |c| (c.type_oid, c.format));
                    values::decode(type_oid, format, cell.as_deref())
                });
                Value::Array(cells.collect())
            })
            .collect();
        object.insert("rows".into(), Value::Array(rows));
    }
    object.insert(
        "tag".into(),
        result.tag.as_deref().map_or(Value::Null, Value::from),
    );
    Value::Object(object)
}

fn column_json(column: &Column) -> Value {
    json!({
        "name": column.name,
        "type": column.type_oid,
        "format": column.format,
        "table": column.table_id,
        "column": column.column_id,
        "size": column.type_size,
        "modifier": column.type_modifier,
    })
}

/// The name of an ErrorResponse field (PostgreSQL's documentation's
/// names), or its code letter for one it does not name.
fn field_name(code: u8) -> String {
    let name = match code {
        b'S' => "severity",
        b'V' => "severity_nonlocalized",
        b'C' => "code",
        b'M' => "message",
        b'D' => "detail",
        b'H' => "hint",
        b'P' => "position",
        b'p' => "internal_position",
        b'q' => "internal_query",
        b'W' => "where",
        b's' => "schema",
        b't' => "table",
        b'c' => "column",
        b'd' => "data_type",
        b'n' => "constraint",
        b'F' => "file",
        b'L' => "line",
        b'R' => "routine",
        other => return char::from(other).to_string(),
    };
    name.to_owned()
}

/// `value` as a body: its JSON, cut at `limit` bytes.
fn body(value: &Value, limit: usize) -> BodyRecord {
    let text = value.to_string();
    let size = text.len() as u64;
    let mut bytes = Bytes::from(text);
    let truncated = bytes.len() > limit;
    bytes.truncate(limit);
    BodyRecord {
        bytes,
        truncated,
        size,
    }
}
