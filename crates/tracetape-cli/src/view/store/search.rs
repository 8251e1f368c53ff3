//! Finding traces: [`Store::search`] and [`Store::services`].
//!
//! Without a span condition the list is the `traces` table by start time,
//! newest first. With one (service, name, errors, duration, attributes,
//! time), spans are scanned newest written first (through the attribute
//! index when an attribute is asked for) and each trace is listed where
//! its newest matching span is; a page ends when it has its traces or the
//! spans run out.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;

use super::ingest::nanos;
use super::{Store, attrs};
use crate::span_store::hex;

/// What to look for. Every condition given must hold for one span of the
/// trace; the time range is the trace's start (with no span condition) or
/// the matching span's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// The span's `service.name`.
    pub(crate) service: Option<String>,
    /// Part of the span's name (ASCII letters in either case).
    pub(crate) name: Option<String>,
    /// Only spans with an error status.
    pub(crate) errors: bool,
    /// The span took at least this long.
    pub(crate) min_duration: Option<Duration>,
    /// `key`, `value` pairs: the span has each attribute with that value
    /// (as `tracetape show` prints it).
    pub(crate) attributes: Vec<(String, String)>,
    /// Started at or after, in nanoseconds since the Unix epoch.
    pub(crate) from: Option<u64>,
    /// Started at or before.
    pub(crate) to: Option<u64>,
    /// Traces per page.
    pub(crate) limit: usize,
    /// Where the previous page ended ([`Page::next`]).
    pub(crate) after: Option<String>,
}

impl Query {
    fn spanwise(&self) -> bool {
        self.service.is_some()
            || self.name.is_some()
            || self.errors
            || self.min_duration.is_some()
            || !self.attributes.is_empty()
    }
}

/// One page of traces.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Page {
    pub(crate) traces: Vec<TraceRow>,
    /// Give this as [`Query::after`] for the next page; `None` on the last.
    pub(crate) next: Option<String>,
}

/// One trace at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TraceRow {
    pub(crate) trace_id: String,
    /// Nanoseconds since the Unix epoch, as a string: JSON numbers lose
    /// precision past 2^53.
    pub(crate) start_ns: String,
    pub(crate) duration_ns: u64,
    pub(crate) spans: u64,
    pub(crate) errors: u64,
    pub(crate) root_service: Option<String>,
    pub(crate) root_name: String,
}

impl Store {
    /// A page of the traces that `query` finds, newest first.
    pub(crate) fn search(&self, query: &Query) -> anyhow::Result<Page> {
        self.read(|conn| {
            if query.spanwise() {
                by_spans(conn, query)
            } else {
                by_start(conn, query)
            }
        })
    }

    /// Every `service.name` the store has seen, sorted.
    pub(crate) fn services(&self) -> anyhow::Result<Vec<String>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT DISTINCT service FROM origins WHERE service IS NOT NULL ORDER BY service",
            )?;
            let services = statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(services)
        })
    }
}

const TRACE_COLUMNS: &str = "trace_id, start_ns, end_ns, spans, errors, root_service, root_name";

fn trace_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TraceRow> {
    let id: Vec<u8> = row.get(0)?;
    let start: i64 = row.get(1)?;
    let end: i64 = row.get(2)?;
    Ok(TraceRow {
        trace_id: hex(&id),
        start_ns: start.to_string(),
        duration_ns: u64::try_from(end.saturating_sub(start)).unwrap_or(0),
        spans: row.get::<_, i64>(3)?.unsigned_abs(),
        errors: row.get::<_, i64>(4)?.unsigned_abs(),
        root_service: row.get(5)?,
        root_name: row.get(6)?,
    })
}

/// The list without span conditions: the `traces` table by start time.
fn by_start(conn: &Connection, query: &Query) -> anyhow::Result<Page> {
    let mut sql = format!("SELECT {TRACE_COLUMNS} FROM traces WHERE 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(after) = &query.after {
        let (start, id) = start_cursor(after)?;
        sql.push_str(" AND (start_ns < ? OR (start_ns = ? AND trace_id < ?))");
        values.extend([
            Value::Integer(start),
            Value::Integer(start),
            Value::Blob(id),
        ]);
    }
    time_range(&mut sql, &mut values, query, "start_ns");
    let limit = query.limit.max(1);
    let _ = write!(
        sql,
        " ORDER BY start_ns DESC, trace_id DESC LIMIT {}",
        limit + 1
    );
    let mut statement = conn.prepare(&sql)?;
    let mut traces: Vec<TraceRow> = statement
        .query_map(params_from_iter(values), trace_row)?
        .collect::<Result<_, _>>()?;
    let next = (traces.len() > limit).then(|| {
        traces.truncate(limit);
        traces
            .last()
            .map(|last| format!("t{}-{}", last.start_ns, last.trace_id))
    });
    Ok(Page {
        traces,
        next: next.flatten(),
    })
}

/// The list with span conditions: spans newest first, their traces.
/// Rows are read one at a time and the scan stops as soon as the page is
/// full, so a selective condition costs the spans up to its matches, not
/// the whole table.
fn by_spans(conn: &Connection, query: &Query) -> anyhow::Result<Page> {
    let limit = query.limit.max(1);
    let cursor = match &query.after {
        Some(after) => span_cursor(after)?,
        None => i64::MAX,
    };
    let (sql, values) = span_sql(query);
    let mut statement = conn.prepare(&sql)?;
    let mut bound = vec![Value::Integer(cursor)];
    bound.extend(values);
    let mut rows = statement.query(params_from_iter(bound))?;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut next = None;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let trace_id: Vec<u8> = row.get(1)?;
        if seen.insert(trace_id.clone()) {
            if found.len() == limit {
                // One more trace exists: the next page starts at it.
                next = Some(format!("s{}", id + 1));
                break;
            }
            found.push(trace_id);
        }
    }
    drop(rows);
    let mut traces = Vec::with_capacity(found.len());
    let mut lookup = conn.prepare_cached(&format!(
        "SELECT {TRACE_COLUMNS} FROM traces WHERE trace_id = ?1"
    ))?;
    for trace_id in &found {
        if let Ok(row) = lookup.query_row([trace_id.as_slice()], trace_row) {
            traces.push(row);
        }
    }
    Ok(Page { traces, next })
}

/// The span scan's SQL (its first parameter the cursor) and the values
/// after it.
fn span_sql(query: &Query) -> (String, Vec<Value>) {
    let mut values = Vec::new();
    let mut hashes = query
        .attributes
        .iter()
        .map(|(key, value)| attrs::hash(key, value));
    let mut sql = match hashes.next() {
        Some(first) => {
            values.push(Value::Integer(first));
            "SELECT s.id, s.trace_id FROM attrs a JOIN spans s ON s.id = a.span \
             WHERE a.span < ?1 AND a.hash = ?"
                .to_owned()
        }
        None => "SELECT s.id, s.trace_id FROM spans s WHERE s.id < ?1".to_owned(),
    };
    for hash in hashes {
        sql.push_str(" AND EXISTS (SELECT 1 FROM attrs b WHERE b.hash = ? AND b.span = s.id)");
        values.push(Value::Integer(hash));
    }
    if let Some(service) = &query.service {
        sql.push_str(" AND s.service = ?");
        values.push(Value::Text(service.clone()));
    }
    if let Some(name) = &query.name {
        sql.push_str(" AND s.name LIKE ? ESCAPE '\\'");
        values.push(Value::Text(format!("%{}%", like_escaped(name))));
    }
    if query.errors {
        sql.push_str(" AND s.error = 1");
    }
    if let Some(min) = query.min_duration {
        sql.push_str(" AND s.duration_ns >= ?");
        values.push(Value::Integer(
            i64::try_from(min.as_nanos()).unwrap_or(i64::MAX),
        ));
    }
    time_range(&mut sql, &mut values, query, "s.start_ns");
    let order = if query.attributes.is_empty() {
        "s.id"
    } else {
        "a.span"
    };
    let _ = write!(sql, " ORDER BY {order} DESC");
    (sql, values)
}

fn time_range(sql: &mut String, values: &mut Vec<Value>, query: &Query, column: &str) {
    if let Some(from) = query.from {
        let _ = write!(sql, " AND {column} >= ?");
        values.push(Value::Integer(nanos(from)));
    }
    if let Some(to) = query.to {
        let _ = write!(sql, " AND {column} <= ?");
        values.push(Value::Integer(nanos(to)));
    }
}

fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `t{start}-{trace id}`: where a list by start time stopped.
fn start_cursor(after: &str) -> anyhow::Result<(i64, Vec<u8>)> {
    let parsed = after.strip_prefix('t').and_then(|rest| {
        let (start, id) = rest.split_once('-')?;
        Some((start.parse().ok()?, unhex(id)?))
    });
    parsed.ok_or_else(|| anyhow::anyhow!("not a page cursor of this list: {after:?}"))
}

/// `s{span row}`: where a span scan stopped.
fn span_cursor(after: &str) -> anyhow::Result<i64> {
    after
        .strip_prefix('s')
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not a page cursor of this search: {after:?}"))
}

/// Lowercase or uppercase hex digits as bytes.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}
