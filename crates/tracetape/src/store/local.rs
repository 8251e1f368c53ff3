//! [`LocalStore`]: where the store lives and how large it may grow.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{LocalSpanExporter, files};

/// A directory of OTLP/JSON trace files with a size cap.
///
/// The same value configures the writer ([`LocalStore::exporter`]) and
/// says where readers find its files ([`LocalStore::files`]). Cloning is
/// cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStore {
    dir: Arc<Path>,
    max_bytes: u64,
}

impl LocalStore {
    /// The size cap used unless [`with_max_bytes`](Self::with_max_bytes)
    /// says otherwise: 64 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

    /// A store in `dir`, which is created (with its parents) on the first
    /// export.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Arc::from(dir.into()),
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }

    /// The default directory, `.tracetape/traces`, relative to the working
    /// directory.
    pub fn default_dir() -> PathBuf {
        Path::new(".tracetape").join("traces")
    }

    /// Sets the size cap: after each export the oldest files are removed
    /// until the `*.json` files together take at most `max_bytes`. The file
    /// just written is always kept, even if it alone is larger. The exporter
    /// counts the files it writes and removes itself; files that others add
    /// or remove count from its next listing of the directory.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size cap in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The store's finished batch files, oldest first: the `*.json` files
    /// of [`dir`](Self::dir) whose names do not start with `.` (a file
    /// being written is a hidden temporary until it is complete), each one
    /// or more OTLP/JSON `TracesData` documents. A file may be evicted
    /// between this listing and its reading. A store not written to yet
    /// has no directory: an error of kind [`io::ErrorKind::NotFound`].
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub fn files(&self) -> io::Result<Vec<PathBuf>> {
        files::batch_files(&self.dir)
    }

    /// A span exporter that writes into this store.
    pub fn exporter(&self) -> LocalSpanExporter {
        LocalSpanExporter::new(self.clone())
    }
}

impl Default for LocalStore {
    /// A store in [`LocalStore::default_dir`] with the default size cap.
    fn default() -> Self {
        Self::new(Self::default_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let store = LocalStore::default();
        assert_eq!(store.dir(), Path::new(".tracetape/traces"));
        assert_eq!(store.max_bytes(), 64 * 1024 * 1024);
        assert_eq!(store.with_max_bytes(10).max_bytes(), 10);
    }
}
