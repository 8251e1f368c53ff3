//! The store's size cap, enforced without listing the directory after
//! every batch: the exporter keeps the batch files it knows of, oldest
//! first, with their sizes and a running total, adds each file it writes
//! and drops each file it removes. Other processes may add or remove files
//! too (another service writing to the same store, `rm`), so the exporter
//! lists the directory again now and then, and after any failure.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::EvictError;
use super::files;

/// The batch files of one store as the exporter last knew them.
pub(crate) struct Usage {
    /// (path, size in bytes), oldest first.
    files: VecDeque<(PathBuf, u64)>,
    /// The sum of the sizes in `files`.
    total: u64,
    /// Files added since the directory was last listed.
    added_since_scan: u32,
}

impl std::fmt::Debug for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Usage")
            .field("files", &self.files.len())
            .field("total", &self.total)
            .field("added_since_scan", &self.added_since_scan)
            .finish()
    }
}

impl Usage {
    /// Lists `dir` and the size of each batch file in it.
    pub(crate) fn scan(dir: &Path) -> Result<Self, EvictError> {
        let files = files::sized_batch_files(dir).map_err(|source| EvictError::List {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            total: files.iter().map(|(_, len)| len).sum(),
            files: files.into(),
            added_since_scan: 0,
        })
    }

    /// Counts a file just written; it is the newest.
    pub(crate) fn add(&mut self, path: PathBuf, len: u64) {
        self.total = self.total.saturating_add(len);
        self.files.push_back((path, len));
        self.added_since_scan = self.added_since_scan.saturating_add(1);
    }

    /// Files added since the directory was last listed.
    pub(crate) fn added_since_scan(&self) -> u32 {
        self.added_since_scan
    }

    /// How many files are counted, and their total size.
    #[cfg(test)]
    pub(crate) fn counted(&self) -> (usize, u64) {
        (self.files.len(), self.total)
    }

    /// Removes the oldest files until the total is at most `max_bytes`,
    /// never removing `keep`. Returns how many files were removed. A file
    /// already gone (removed by someone else) just stops counting.
    pub(crate) fn evict(&mut self, max_bytes: u64, keep: &Path) -> Result<usize, EvictError> {
        let mut removed = 0;
        let mut kept = None;
        let mut result = Ok(());
        while self.total > max_bytes {
            let Some((path, len)) = self.files.pop_front() else {
                break;
            };
            if path == keep {
                kept = Some((path, len));
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    self.files.push_front((path.clone(), len));
                    result = Err(EvictError::Remove { path, source });
                    break;
                }
            }
            self.total = self.total.saturating_sub(len);
        }
        if let Some(kept) = kept {
            self.files.push_front(kept);
        }
        result.map(|()| removed)
    }
}
