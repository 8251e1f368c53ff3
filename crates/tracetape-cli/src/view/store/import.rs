//! The local store's files read into the view's store:
//! [`Store::import`]. Each file is read once (its name is remembered in
//! the same transaction as its spans), so spans written by services to
//! the local store while `tracetape view` runs show up too.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context as _;
use tracetape::store::LocalStore;

use super::Store;
use crate::span_store::{Unreadable, documents, files};

/// What one pass over the local store did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Imported {
    /// Files read.
    pub(crate) files: usize,
    /// Spans written from them.
    pub(crate) spans: usize,
    /// Files that are not OTLP/JSON: left out, and not tried again.
    pub(crate) unreadable: Vec<PathBuf>,
}

impl Store {
    /// Reads the files of `local` not read before. A store that does not
    /// exist yet has nothing to read.
    pub(crate) fn import(&self, local: &LocalStore) -> anyhow::Result<Imported> {
        let files =
            files(local).with_context(|| format!("failed to list {}", local.dir().display()))?;
        let known: HashSet<String> = self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT file FROM imported")?;
            let names = statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(names)
        })?;
        let mut imported = Imported::default();
        for path in files {
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if known.contains(name) {
                continue;
            }
            match documents(&path) {
                Ok(batches) => {
                    imported.spans += self.write(&batches, Some(name))?;
                    imported.files += 1;
                }
                // Evicted since it was listed.
                Err(Unreadable::Gone) => {}
                Err(Unreadable::Bad) => {
                    self.write(&[], Some(name))?;
                    imported.unreadable.push(path);
                }
            }
        }
        Ok(imported)
    }
}
