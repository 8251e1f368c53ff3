//! How much the store keeps: [`Retention`]. The oldest traces go first,
//! whole, so a trace is never shown with half its spans gone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use rusqlite::{Connection, Transaction};

use super::ingest::nanos;
use super::{Store, attrs};

/// The limits of the store. Checked every few thousand spans written and
/// once a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention {
    /// The database's pages in use, at most; past it the oldest traces are
    /// removed until a tenth of the limit is free.
    pub(crate) max_bytes: Option<u64>,
    /// Traces that ended longer ago than this are removed.
    pub(crate) max_age: Option<Duration>,
}

/// Traces removed per transaction.
const BATCH: i64 = 500;

impl Store {
    /// Applies the retention limits now; returns how many traces went.
    pub(crate) fn enforce_retention(&self) -> anyhow::Result<u64> {
        self.retention.apply(&mut self.writer().conn)
    }
}

impl Retention {
    pub(super) fn apply(&self, conn: &mut Connection) -> anyhow::Result<u64> {
        let mut removed = 0;
        if let Some(age) = self.max_age {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let cutoff = nanos(u64::try_from(now.saturating_sub(age).as_nanos()).unwrap_or(0));
            loop {
                let tx = conn.transaction()?;
                let ids = oldest(&tx, cutoff)?;
                let done = (ids.len() as i64) < BATCH;
                removed += remove(&tx, &ids)?;
                tx.commit()?;
                if done {
                    break;
                }
            }
        }
        if let Some(max_bytes) = self.max_bytes
            && used_bytes(conn)? > max_bytes
        {
            let tx = conn.transaction()?;
            let mut to_go = spans_over(&tx, max_bytes - max_bytes / 10)?;
            while to_go > 0 {
                let traces = oldest(&tx, i64::MAX)?;
                if traces.is_empty() {
                    break;
                }
                for trace in &traces {
                    removed += remove(&tx, std::slice::from_ref(trace))?;
                    to_go -= trace.1;
                    if to_go <= 0 {
                        break;
                    }
                }
            }
            tx.commit()?;
        }
        Ok(removed)
    }
}

/// The oldest traces (by start) among those that ended before `ended`
/// (nanoseconds since the Unix epoch), with their span counts.
fn oldest(tx: &Transaction<'_>, ended: i64) -> rusqlite::Result<Vec<(Vec<u8>, i64)>> {
    let mut statement = tx.prepare_cached(&format!(
        "SELECT trace_id, spans FROM traces WHERE end_ns < ?1 ORDER BY start_ns, trace_id LIMIT {BATCH}"
    ))?;
    let rows = statement
        .query_map([ended], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Removes these traces, every row of theirs; returns how many.
fn remove(tx: &Transaction<'_>, traces: &[(Vec<u8>, i64)]) -> rusqlite::Result<u64> {
    let mut spans = tx.prepare_cached(
        "SELECT s.id, d.span FROM spans s JOIN span_data d ON d.id = s.id WHERE s.trace_id = ?1",
    )?;
    let mut attr = tx.prepare_cached("DELETE FROM attrs WHERE hash = ?1 AND span = ?2")?;
    let mut data = tx.prepare_cached("DELETE FROM span_data WHERE id = ?1")?;
    let mut trace_spans = tx.prepare_cached("DELETE FROM spans WHERE trace_id = ?1")?;
    let mut trace = tx.prepare_cached("DELETE FROM traces WHERE trace_id = ?1")?;
    for (trace_id, _) in traces {
        let rows: Vec<(i64, Vec<u8>)> = spans
            .query_map([trace_id.as_slice()], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, bytes) in rows {
            if let Ok(span) = Span::decode(bytes.as_slice()) {
                for hash in attrs::of_span(&span) {
                    attr.execute((hash, id))?;
                }
            }
            data.execute([id])?;
        }
        trace_spans.execute([trace_id.as_slice()])?;
        trace.execute([trace_id.as_slice()])?;
    }
    Ok(traces.len() as u64)
}

/// The bytes of the database's pages in use.
fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    Ok(u64::try_from((pages - free) * size).unwrap_or(0))
}

/// How many spans must go for the pages in use to come down to `target`
/// bytes, from the average bytes per span.
fn spans_over(tx: &Transaction<'_>, target: u64) -> rusqlite::Result<i64> {
    let used = used_bytes(tx)?;
    let spans: i64 = tx.query_row("SELECT count(*) FROM spans", [], |row| row.get(0))?;
    if spans == 0 || used <= target {
        return Ok(0);
    }
    let per_span = (used / spans.unsigned_abs()).max(1);
    Ok(i64::try_from((used - target).div_ceil(per_span)).unwrap_or(i64::MAX))
}
