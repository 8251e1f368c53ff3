//! The store's tables and indexes, created when missing.

use rusqlite::Connection;

/// The layout's version, kept in `PRAGMA user_version`: a file of another
/// version is refused rather than misread.
const VERSION: i64 = 1;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS origins (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL UNIQUE,
    service TEXT,
    resource BLOB NOT NULL,
    resource_schema_url TEXT NOT NULL,
    scope BLOB NOT NULL,
    scope_schema_url TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY,
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    parent_id BLOB NOT NULL,
    origin INTEGER NOT NULL,
    service TEXT,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    error INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id);
CREATE TABLE IF NOT EXISTS span_data (
    id INTEGER PRIMARY KEY,
    span BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attrs (
    hash INTEGER NOT NULL,
    span INTEGER NOT NULL,
    PRIMARY KEY (hash, span)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traces (
    trace_id BLOB PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    spans INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    root_service TEXT,
    root_name TEXT NOT NULL,
    rooted INTEGER NOT NULL,
    last_span INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_ns, trace_id);
CREATE TABLE IF NOT EXISTS imported (
    file TEXT PRIMARY KEY
) WITHOUT ROWID;
";

/// Creates what is missing, or refuses a file of another layout.
pub(super) fn create(conn: &Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let empty: bool = conn.query_row(
        "SELECT count(*) = 0 FROM sqlite_master WHERE type = 'table'",
        [],
        |row| row.get(0),
    )?;
    if !empty && version != VERSION {
        anyhow::bail!(
            "it was written by another version of tracetape (layout {version}, this one reads {VERSION}); \
             move it away or name another file with --db"
        );
    }
    conn.execute_batch(TABLES)?;
    conn.pragma_update(None, "user_version", VERSION)?;
    Ok(())
}
