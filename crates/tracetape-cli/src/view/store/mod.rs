//! The view's span store: one SQLite file holding every span `tracetape
//! view` received or imported, whole, with the columns and indexes that
//! keep a trace lookup and a search fast at a million spans.
//!
//! Tables (`schema.rs`): `origins` (a resource with an instrumentation
//! scope, kept once), `spans` (what a search reads: ids, service, name,
//! start, duration, error), `span_data` (the span itself as protobuf, apart
//! so that scans stay narrow), `attrs` (a keyed hash of each short
//! `key=value` of a span, so that an attribute search is an index range),
//! `traces` (one summary row per trace, what the list shows) and
//! `imported` (the local store's files already read).
//!
//! One connection writes (`ingest.rs`, `retention.rs`, `import.rs`), under
//! a lock; readers (`search.rs`, `lookup.rs`) take a connection of their
//! own from a small pool, and SQLite's write-ahead log lets them read while
//! it writes. Every call blocks: async callers run it on a blocking thread.

mod attrs;
mod import;
mod ingest;
mod lookup;
mod retention;
mod schema;
mod search;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::Connection;

pub(crate) use lookup::{Origin, StoredTrace};
pub(crate) use retention::Retention;
pub(crate) use search::{Query, unhex};

/// The store. Shared between the receivers and the web UI behind an `Arc`.
pub(crate) struct Store {
    path: PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    retention: Retention,
}

/// The writing connection and what it remembers between batches.
struct Writer {
    conn: Connection,
    /// Origin ids by the hash of their encoding; origins are never removed.
    origins: HashMap<[u8; 32], i64>,
    /// Spans written since retention was last checked.
    since_check: u64,
}

impl Store {
    /// Opens (or creates) the store at `path`, its directory created too.
    pub(crate) fn open(path: &Path, retention: Retention) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        let conn = connect(path)?;
        schema::create(&conn).with_context(|| format!("failed to set up {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(Writer {
                conn,
                origins: HashMap::new(),
                since_check: 0,
            }),
            readers: Mutex::new(Vec::new()),
            retention,
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while writing rolled its transaction back: the
        // connection is still good.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` on a reading connection of the pool (opened when none
    /// is free), then gives the connection back.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = read(&conn);
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < 4 {
            readers.push(conn);
        }
        result
    }
}

/// A connection with the settings every one of the store's uses: the
/// write-ahead log (readers never wait for the writer), commits not synced
/// one by one (a crash loses at most the last moments, never the file),
/// and a wait instead of an error while another connection holds a lock.
fn connect(path: &Path) -> anyhow::Result<Connection> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -64 * 1024)?;
        conn.pragma_update(None, "foreign_keys", false)?;
        Ok(conn)
    };
    open().with_context(|| format!("failed to open the view's store {}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
