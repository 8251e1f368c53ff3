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
//!
//! Values of columns that hold secrets are hashed as every redaction is
//! (`REDACTED:` and a keyed hash, so equal secrets stay equal): the cells
//! of such columns in results, and the parameters the SQL binds to them
//! (`password = $1`, an `INSERT`'s column list). A column holds secrets
//! when its name is one of the credential query keys (`password`,
//! `secret`, `token`, `api_key`, … in `docs/security.md`, with those
//! `TRACETAPE_REDACT_QUERY_KEYS` and the recording rules add) or ends in
//! `_password`, `_secret`, `_token` or `_key`. Anything else is reached by
//! the recording's rules when the recorder redacts the exchange: column
//! rules (`column = "email"`), and JSON-path rules as for HTTP bodies.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::capture::{self, Captured, Column, Columns, Parameter, ResultSet};
use super::conversation::Operation;
use super::sql::Statement;
use super::values;
use crate::http_attrs::{QueryKeys, process_keys_version};
use crate::layer_modes::LayerModes;
use crate::record::assembly::unix_nanos;
use crate::record::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, NotSampled, Part, Recorder, RedactionKey,
    RequestRecord, ResponseRecord, TraceRecording,
};

/// An operation being recorded: where its exchange goes, and what it
/// kept so far.
#[derive(Debug)]
pub(crate) struct Pending {
    destination: Destination,
    /// The recorder's redaction key.
    key: RedactionKey,
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

/// The recorder of operations outside any request: the one the proxy was
/// given, else the process-wide one.
fn background(modes: &LayerModes) -> Option<Recorder> {
    modes.recorder.clone().or_else(crate::record::global)
}

/// Where an operation of `statement` starting in `context` is recorded,
/// if anywhere: one context lookup, and one atomic load when record mode
/// is off.
pub(crate) fn begin(
    context: &Context,
    modes: &LayerModes,
    statement: &Statement,
) -> Option<Pending> {
    let (destination, key) = if let Some(trace) = request(context, statement) {
        let recorder = trace.recorder();
        let key = recorder.redaction_key().clone();
        (
            Destination::Trace(trace.part(), recorder.max_body_bytes()),
            key,
        )
    } else if !statement.catalog && context.get::<NotSampled>().is_some() {
        return None;
    } else {
        let recorder = background(modes).filter(Recorder::sample)?;
        let key = recorder.redaction_key().clone();
        (Destination::Background(recorder), key)
    };
    Some(Pending {
        destination,
        key,
        captured: Captured::default(),
    })
}

/// Whether an operation of `statement` starting in `context` would be
/// recorded, without opening anything.
pub(crate) fn wanted(context: &Context, modes: &LayerModes, statement: &Statement) -> bool {
    request(context, statement).is_some()
        || ((statement.catalog || context.get::<NotSampled>().is_none())
            && background(modes).is_some())
}

/// The recording of the request an operation of `statement` in `context`
/// belongs to: none for a catalog lookup, which the driver makes once per
/// connection in whichever request meets a type first, and so is the
/// background's; none after the request ended (a connection's context
/// holds its request's recording asleep, awake while the request lasts).
fn request(context: &Context, statement: &Statement) -> Option<TraceRecording> {
    if statement.catalog {
        return None;
    }
    context
        .get::<TraceRecording>()
        .and_then(TraceRecording::awake)
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
    let exchange = Exchange {
        kind: ExchangeKind::Database,
        span_id: server.span_id,
        parent_span_id: operation.context.span().span_context().span_id(),
        name: server.name.to_owned(),
        route: None,
        start_unix_nanos: started,
        end_unix_nanos: ended,
        request: RequestRecord {
            method: statement.method(),
            url: server.url.to_owned(),
            headers: json_headers(),
            body: body(
                &RequestJson {
                    statement,
                    parameters: &captured.parameters,
                    key: &pending.key,
                },
                limit,
            ),
        },
        response: Some(ResponseRecord {
            status: 0,
            headers: json_headers(),
            body: body(
                &ResponseJson {
                    captured,
                    key: &pending.key,
                },
                limit,
            ),
            trailers: Vec::new(),
        }),
        error: None,
    };
    match pending.destination {
        Destination::Trace(part, _) => part.finish_holding(exchange, None),
        Destination::Background(recorder) => recorder.record_background(server.trace_id, exchange),
    }
}

/// Whether a column of this name holds secrets (see the module's
/// documentation).
fn secret_column(name: &str) -> bool {
    static KEYS: LazyLock<QueryKeys> = LazyLock::new(QueryKeys::default);
    // Both compare ASCII case-insensitively: no lower-case copy.
    KEYS.is_sensitive(name)
        || ["_password", "_secret", "_token", "_key"]
            .iter()
            .any(|end| {
                let name = name.as_bytes();
                name.len() >= end.len()
                    && name[name.len() - end.len()..].eq_ignore_ascii_case(end.as_bytes())
            })
}

/// Which of `columns` hold secrets: worked out once, again only when the
/// process's keys have changed since.
fn secret_columns(columns: &Columns) -> Cow<'_, [bool]> {
    let each = || {
        columns
            .list
            .iter()
            .map(|c| secret_column(&c.name))
            .collect()
    };
    let version = process_keys_version();
    let (at, secret) = columns.secret.get_or_init(|| (version, each()));
    if *at == version {
        Cow::Borrowed(secret)
    } else {
        Cow::Owned(each())
    }
}

/// A value as JSON, or its hash when it is a secret.
fn value(
    type_oid: u32,
    format: i16,
    bytes: Option<&[u8]>,
    secret: bool,
    key: &RedactionKey,
) -> Value {
    match bytes {
        Some(bytes) if secret => Value::String(key.redact(bytes)),
        _ => values::decode(type_oid, format, bytes),
    }
}

/// `{"sql": …, "parameters": [values], "types": [oids], "formats": […]}`,
/// the SQL [`normalized`](super::sql::normalized): the request body of a
/// recorded operation, and of a live one in replay; written as it is
/// serialized, as the response is.
pub(crate) struct RequestJson<'a> {
    pub(crate) statement: &'a Statement,
    pub(crate) parameters: &'a [Parameter],
    pub(crate) key: &'a RedactionKey,
}

impl Serialize for RequestJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let parameters = self.parameters;
        let mut object = serializer.serialize_map(None)?;
        object.serialize_entry("sql", self.statement.normalized())?;
        if !parameters.is_empty() {
            let secret = |index: usize| {
                (self.statement.parameter_columns.iter())
                    .any(|(number, column)| *number == index + 1 && secret_column(column))
            };
            let values = || {
                parameters.iter().enumerate().map(|(i, p)| {
                    value(
                        p.type_oid,
                        p.format,
                        p.value.as_deref(),
                        secret(i),
                        self.key,
                    )
                })
            };
            object.serialize_entry("parameters", &Each(values))?;
            let types = || parameters.iter().map(|p| p.type_oid);
            object.serialize_entry("types", &Each(types))?;
            let formats = || parameters.iter().map(|p| p.format);
            object.serialize_entry("formats", &Each(formats))?;
        }
        object.end()
    }
}

/// `{"results": [{"columns": […], "rows": [[…]], "tag": …}], "error": {…}}`,
/// written as it is serialized: the rows of a result can be many, and no
/// tree of JSON values is built for them on the connection's way.
struct ResponseJson<'a> {
    captured: &'a Captured,
    key: &'a RedactionKey,
}

impl Serialize for ResponseJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_map(None)?;
        let results = self.captured.results.iter();
        object.serialize_entry(
            "results",
            &Each(|| {
                results.clone().map(|result| ResultJson {
                    result,
                    key: self.key,
                })
            }),
        )?;
        if let Some(fields) = &self.captured.error {
            let fields = fields.iter();
            let named = || {
                fields
                    .clone()
                    .map(|(code, value)| (field_name(*code), value))
            };
            object.serialize_entry("error", &Named(named))?;
        }
        object.end()
    }
}

struct ResultJson<'a> {
    result: &'a ResultSet,
    key: &'a RedactionKey,
}

impl<'a> Serialize for ResultJson<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_map(None)?;
        if let Some(columns) = &self.result.columns {
            let each = Each(|| columns.list.iter().map(ColumnJson));
            // Written once per statement bound alike, then copied.
            let json = columns
                .json
                .get_or_init(|| serde_json::value::to_raw_value(&each).ok());
            match json {
                Some(json) => object.serialize_entry("columns", json)?,
                None => object.serialize_entry("columns", &each)?,
            }
            let secret = secret_columns(columns);
            let columns = &columns.list;
            let row = |row: &'a [Option<Bytes>]| RowJson {
                row,
                columns,
                secret: &secret,
                key: self.key,
            };
            let rows = self.result.rows.iter();
            object.serialize_entry("rows", &Each(|| rows.clone().map(|r| row(r))))?;
        }
        if let Some(copy) = &self.result.copy_out {
            object.serialize_entry("copy", &CopyJson(copy))?;
        }
        object.serialize_entry("tag", &self.result.tag)?;
        object.end()
    }
}

/// One row's cells, each read by its column's type and format (a secret
/// column's hashed).
struct RowJson<'a> {
    row: &'a [Option<Bytes>],
    columns: &'a [Column],
    secret: &'a [bool],
    key: &'a RedactionKey,
}

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.row.iter().enumerate().map(|(i, cell)| {
            let (type_oid, format) = self
                .columns
                .get(i)
                .map_or((0, 1), |c| (c.type_oid, c.format));
            let secret = self.secret.get(i).copied().unwrap_or(false);
            value(type_oid, format, cell.as_deref(), secret, self.key)
        }))
    }
}

/// `{"format": 0, "columns": [formats], "data": [chunks]}`: each chunk as
/// text when the COPY is in text and the chunk is UTF-8, else
/// `{"base64": …}`.
struct CopyJson<'a>(&'a capture::CopyOut);

impl Serialize for CopyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let copy = self.0;
        let mut object = serializer.serialize_map(Some(3))?;
        object.serialize_entry("format", &copy.format)?;
        object.serialize_entry("columns", &copy.column_formats)?;
        let chunks = copy.data.iter();
        let chunk = |data: &Bytes| match (copy.format, std::str::from_utf8(data)) {
            (0, Ok(text)) => Value::from(text),
            _ => serde_json::json!({ "base64": STANDARD.encode(data) }),
        };
        object.serialize_entry("data", &Each(|| chunks.clone().map(chunk)))?;
        object.end()
    }
}

struct ColumnJson<'a>(&'a Column);

impl Serialize for ColumnJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let column = self.0;
        let mut object = serializer.serialize_map(Some(7))?;
        object.serialize_entry("name", &column.name)?;
        object.serialize_entry("type", &column.type_oid)?;
        object.serialize_entry("format", &column.format)?;
        object.serialize_entry("table", &column.table_id)?;
        object.serialize_entry("column", &column.column_id)?;
        object.serialize_entry("size", &column.type_size)?;
        object.serialize_entry("modifier", &column.type_modifier)?;
        object.end()
    }
}

/// The items a function gives, as a JSON array.
struct Each<F>(F);

impl<F, I> Serialize for Each<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// The pairs a function gives, as a JSON object.
struct Named<F>(F);

impl<F, I, K, V> Serialize for Named<F>
where
    F: Fn() -> I,
    I: Iterator<Item = (K, V)>,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map((self.0)())
    }
}

/// The name of an ErrorResponse field, or its code letter for one
/// PostgreSQL's documentation does not name.
fn field_name(code: u8) -> Cow<'static, str> {
    match capture::ERROR_FIELDS.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(char::from(code).to_string()),
    }
}

/// `content-type: application/json`: the bodies are JSON, for the tools
/// and rules that read bodies by their type.
fn json_headers() -> Vec<HeaderRecord> {
    vec![HeaderRecord {
        name: "content-type".to_owned(),
        value: Bytes::from_static(b"application/json"),
    }]
}

/// `value` as a body: its JSON, cut at `limit` bytes.
fn body(value: &impl Serialize, limit: usize) -> BodyRecord {
    // Serializing JSON into memory fails only for a map with keys that
    // are not strings, which these do not have.
    let text = serde_json::to_vec(value).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str) -> Column {
        Column {
            name: name.to_owned(),
            table_id: 0,
            column_id: 0,
            type_oid: 25,
            type_size: -1,
            type_modifier: -1,
            format: 0,
        }
    }

    #[test]
    fn secret_columns_by_name_any_case_and_again_once_the_keys_change() {
        let columns = Columns::new(vec![
            column("id"),
            column("API_Key"),
            column("user_PASSWORD"),
            column("tracetape_test_badge"),
        ]);
        assert_eq!(&*secret_columns(&columns), [false, true, true, false]);
        // A key added for the process later (a recorder's rules) is seen.
        crate::http_attrs::add_process_keys(["tracetape_test_badge"]);
        assert_eq!(&*secret_columns(&columns), [false, true, true, true]);
    }
}
