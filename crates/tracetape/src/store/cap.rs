//! A directory's size cap (the span store's, and the recordings'),
//! enforced without listing the directory after every file: the writer
//! keeps the `*.json` files (and the recordings' `*.jsonl` segments) it
//! knows of, oldest first, with their sizes and a running total, adds each
//! file it writes (or the bytes it appends to the newest) and drops each
//! file it removes. Other processes may add or remove files too (another service
//! writing to the same directory, `rm`), so it lists the directory again
//! now and then, and after any failure.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::EvictError;
use super::files;

/// How often the directory is listed again: at every this many files
/// written.
const RESCAN_EVERY: u32 = 64;

/// The size cap of one directory, as its single writer enforces it.
#[derive(Debug)]
pub(crate) struct SizeCap {
    /// `None` until the first file, and after a failure to enforce the
    /// cap, so that the next file lists the directory.
    usage: Option<Usage>,
    rescan_every: u32,
}

/// Nothing known yet: the first file lists the directory.
impl Default for SizeCap {
    fn default() -> Self {
        Self {
            usage: None,
            rescan_every: RESCAN_EVERY,
        }
    }
}

impl SizeCap {
    /// Lists the directory at every `n`-th file instead.
    #[cfg(test)]
    pub(crate) fn with_rescan_every(mut self, n: u32) -> Self {
        self.rescan_every = n;
        self
    }

    /// Counts the file just written into `dir` (`len` bytes at `written`,
    /// or `len` bytes appended to `written` when it is the newest file
    /// counted) and removes the oldest files while the directory holds
    /// more than `max_bytes`, never `written`; how many were removed.
    pub(crate) fn after_write(
        &mut self,
        dir: &Path,
        (written, len): (PathBuf, u64),
        max_bytes: u64,
    ) -> Result<usize, EvictError> {
        let mut current = match self.usage.take() {
            Some(mut known) if known.added_since_scan + 1 < self.rescan_every => {
                known.add(written.clone(), len);
                known
            }
            // The listing includes the file just written.
            _ => Usage::scan(dir)?,
        };
        let removed = current.evict(max_bytes, &written)?;
        self.usage = Some(current);
        Ok(removed)
    }

    /// How many files are counted, and their total size; `None` before
    /// the first file.
    #[cfg(test)]
    pub(crate) fn counted(&self) -> Option<(usize, u64)> {
        self.usage.as_ref().map(Usage::counted)
    }
}

/// The `*.json` files of one directory as its writer last knew them.
struct Usage {
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
    fn scan(dir: &Path) -> Result<Self, EvictError> {
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

    /// Counts a file just written, or `len` bytes appended to the newest
    /// file (a segment of recordings); it is the newest.
    fn add(&mut self, path: PathBuf, len: u64) {
        self.total = self.total.saturating_add(len);
        match self.files.back_mut() {
            Some((newest, newest_len)) if *newest == path => {
                *newest_len = newest_len.saturating_add(len);
            }
            _ => self.files.push_back((path, len)),
        }
        self.added_since_scan = self.added_since_scan.saturating_add(1);
    }

    /// How many files are counted, and their total size.
    #[cfg(test)]
    fn counted(&self) -> (usize, u64) {
        (self.files.len(), self.total)
    }

    /// Removes the oldest files until the total is at most `max_bytes`,
    /// never removing `keep`. Returns how many files were removed. A file
    /// already gone (removed by someone else) just stops counting.
    fn evict(&mut self, max_bytes: u64, keep: &Path) -> Result<usize, EvictError> {
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
