//! Writing spans: [`Store::ingest`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, status};
use prost::Message as _;
use rusqlite::{OptionalExtension as _, Transaction, params};

use super::{Store, Writer, attrs};
use crate::span_store::service_name;

/// How many spans are written between two checks of the retention limits.
const CHECK_EVERY: u64 = 20_000;

impl Store {
    /// Writes every span of `batches` in one transaction (a span without a
    /// trace or span id is left out: it can be neither looked up nor
    /// placed) and returns how many were written. Now and then, the
    /// retention limits are applied after it.
    pub(crate) fn ingest(&self, batches: &[ResourceSpans]) -> anyhow::Result<usize> {
        self.write(batches, None)
    }

    /// [`ingest`](Self::ingest), and in the same transaction notes `file`
    /// as imported.
    pub(super) fn write(
        &self,
        batches: &[ResourceSpans],
        file: Option<&str>,
    ) -> anyhow::Result<usize> {
        let mut writer = self.writer();
        let written = match writer.ingest(batches, file) {
            Ok(written) => written,
            Err(err) => {
                // The transaction was rolled back: origins it added are gone.
                writer.origins.clear();
                return Err(anyhow::Error::new(err).context("failed to write spans"));
            }
        };
        writer.since_check += written as u64;
        if writer.since_check >= CHECK_EVERY {
            writer.since_check = 0;
            self.retention.apply(&mut writer.conn)?;
        }
        Ok(written)
    }
}

impl Writer {
    fn ingest(&mut self, batches: &[ResourceSpans], file: Option<&str>) -> rusqlite::Result<usize> {
        let tx = self.conn.transaction()?;
        if let Some(file) = file {
            tx.execute("INSERT OR IGNORE INTO imported (file) VALUES (?1)", [file])?;
        }
        let mut traces: HashMap<&[u8], TraceDelta> = HashMap::new();
        let mut written = 0;
        {
            let mut insert_span = tx.prepare_cached(
                "INSERT INTO spans (trace_id, span_id, parent_id, origin, service, name, start_ns, duration_ns, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut insert_data =
                tx.prepare_cached("INSERT INTO span_data (id, span) VALUES (?1, ?2)")?;
            let mut insert_attr =
                tx.prepare_cached("INSERT OR IGNORE INTO attrs (hash, span) VALUES (?1, ?2)")?;
            for batch in batches {
                let service = service_name(batch.resource.as_ref());
                for scope in &batch.scope_spans {
                    let origin = origin(&tx, &mut self.origins, batch, scope, service.as_deref())?;
                    for span in &scope.spans {
                        if span.trace_id.is_empty() || span.span_id.is_empty() {
                            continue;
                        }
                        let error = is_error(span);
                        insert_span.execute(params![
                            span.trace_id,
                            span.span_id,
                            span.parent_span_id,
                            origin,
                            service,
                            span.name,
                            nanos(span.start_time_unix_nano),
                            nanos(duration(span)),
                            error,
                        ])?;
                        let id = tx.last_insert_rowid();
                        insert_data.execute(params![id, span.encode_to_vec()])?;
                        for hash in attrs::of_span(span) {
                            insert_attr.execute(params![hash, id])?;
                        }
                        traces.entry(&span.trace_id).or_default().add(
                            span,
                            service.as_deref(),
                            id,
                            error,
                        );
                        written += 1;
                    }
                }
            }
            let mut upsert = tx.prepare_cached(UPSERT_TRACE)?;
            for (trace_id, delta) in traces {
                let (root_service, root_name) = delta.root.unwrap_or_default();
                upsert.execute(params![
                    trace_id,
                    nanos(delta.start),
                    nanos(delta.end),
                    delta.spans,
                    delta.errors,
                    root_service,
                    root_name,
                    delta.rooted,
                    delta.last_span,
                ])?;
            }
        }
        tx.commit()?;
        Ok(written)
    }
}

/// A trace's row gains a batch's spans. Every expression reads the row as
/// it was (SQLite evaluates an UPDATE's assignments together): the root
/// is a span without a parent once one is seen, else the earliest span.
const UPSERT_TRACE: &str = "
INSERT INTO traces (trace_id, start_ns, end_ns, spans, errors, root_service, root_name, rooted, last_span)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (trace_id) DO UPDATE SET
    root_service = CASE WHEN rooted THEN root_service
        WHEN excluded.rooted OR excluded.start_ns < start_ns THEN excluded.root_service
        ELSE root_service END,
    root_name = CASE WHEN rooted THEN root_name
        WHEN excluded.rooted OR excluded.start_ns < start_ns THEN excluded.root_name
        ELSE root_name END,
    rooted = max(rooted, excluded.rooted),
    start_ns = min(start_ns, excluded.start_ns),
    end_ns = max(end_ns, excluded.end_ns),
    spans = spans + excluded.spans,
    errors = errors + excluded.errors,
    last_span = max(last_span, excluded.last_span)";

/// What one batch adds to a trace's row.
#[derive(Default)]
struct TraceDelta {
    start: u64,
    end: u64,
    spans: i64,
    errors: i64,
    /// The service and name of the root span, or of the earliest span.
    root: Option<(Option<String>, String)>,
    rooted: bool,
    last_span: i64,
}

impl TraceDelta {
    fn add(&mut self, span: &Span, service: Option<&str>, id: i64, error: bool) {
        let start = span.start_time_unix_nano;
        let first = self.spans == 0;
        let root = span.parent_span_id.is_empty();
        // The first root seen wins; before one, the earliest span.
        if !self.rooted && (root || first || start < self.start) {
            self.root = Some((service.map(str::to_owned), span.name.clone()));
            self.rooted = root;
        }
        self.start = if first { start } else { self.start.min(start) };
        self.end = self.end.max(span.end_time_unix_nano);
        self.spans += 1;
        self.errors += i64::from(error);
        self.last_span = self.last_span.max(id);
    }
}

/// The id of the origin (resource and scope) of `scope`'s spans, added
/// when new.
fn origin(
    tx: &Transaction<'_>,
    known: &mut HashMap<[u8; 32], i64>,
    batch: &ResourceSpans,
    scope: &ScopeSpans,
    service: Option<&str>,
) -> rusqlite::Result<i64> {
    let resource = batch.resource.clone().unwrap_or_default().encode_to_vec();
    let instrumentation = scope.scope.clone().unwrap_or_default().encode_to_vec();
    let mut hasher = blake3::Hasher::new();
    for part in [
        resource.as_slice(),
        batch.schema_url.as_bytes(),
        instrumentation.as_slice(),
        scope.schema_url.as_bytes(),
    ] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let key = *hasher.finalize().as_bytes();
    let entry = match known.entry(key) {
        Entry::Occupied(entry) => return Ok(*entry.get()),
        Entry::Vacant(entry) => entry,
    };
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM origins WHERE key = ?1")?
        .query_row([key.as_slice()], |row| row.get(0))
        .optional()?;
    let id = match found {
        Some(id) => id,
        None => {
            tx.prepare_cached(
                "INSERT INTO origins (key, service, resource, resource_schema_url, scope, scope_schema_url)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key.as_slice(),
                service,
                resource,
                batch.schema_url,
                instrumentation,
                scope.schema_url,
            ])?;
            tx.last_insert_rowid()
        }
    };
    Ok(*entry.insert(id))
}

fn is_error(span: &Span) -> bool {
    span.status
        .as_ref()
        .is_some_and(|status| status.code == status::StatusCode::Error as i32)
}

fn duration(span: &Span) -> u64 {
    span.end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano)
}

/// Nanoseconds as SQLite's integer (times until the year 2262).
pub(super) fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
