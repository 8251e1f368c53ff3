//! The segment the writer appends to: opened (with its header line) by
//! the first write after the last one closed, synced to disk and closed
//! when it is full, old, or the writer stops.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::record::segment;
use crate::store::files::WriteError;

/// The open segment, if any.
#[derive(Debug, Default)]
pub(super) struct SegmentFile {
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    file: File,
    path: PathBuf,
    /// Bytes written to it, header included.
    len: u64,
    opened: Instant,
}

impl SegmentFile {
    /// Bytes in the open segment; 0 when none is open.
    pub(super) fn len(&self) -> u64 {
        self.open.as_ref().map_or(0, |open| open.len)
    }

    /// When the open segment reaches `max_age`; `None` when none is open.
    pub(super) fn due(&self, max_age: Duration) -> Option<Instant> {
        let open = self.open.as_ref()?;
        Some(open.opened.checked_add(max_age).unwrap_or(open.opened))
    }

    /// Appends `lines` (whole lines) to the open segment, first opening a
    /// new one in `dir` when none is open or the open one is gone from
    /// the directory (removed while the service runs). Returns the
    /// segment's path and the bytes the write added to the directory
    /// (the header included when it opened one).
    pub(super) fn append(
        &mut self,
        dir: &Path,
        lines: &[u8],
    ) -> Result<(PathBuf, u64), WriteError> {
        if self.open.as_ref().is_some_and(|open| !open.path.exists()) {
            // Its directory entry is gone: what is written to it now would
            // be lost, so a new one is opened (its old bytes are gone too).
            self.open = None;
        }
        let mut added = 0;
        let open = match &mut self.open {
            Some(open) => open,
            None => {
                let path = dir.join(segment::next_name());
                let write = |source| WriteError::Write {
                    path: path.clone(),
                    source,
                };
                let mut file = create_new(&path).map_err(write)?;
                let header = segment::header();
                file.write_all(&header).map_err(write)?;
                added = header.len() as u64;
                self.open.insert(Open {
                    file,
                    path,
                    len: added,
                    opened: Instant::now(),
                })
            }
        };
        if let Err(source) = open.file.write_all(lines) {
            let path = open.path.clone();
            // Part of the lines may be in the file: it ends in a torn tail,
            // which readers skip, and nothing more is written to it.
            self.open = None;
            return Err(WriteError::Write { path, source });
        }
        open.len += lines.len() as u64;
        Ok((open.path.clone(), added + lines.len() as u64))
    }

    /// Syncs the open segment to disk and closes it, so the next write
    /// opens a new one; nothing when none is open.
    pub(super) fn close(&mut self) -> Result<(), WriteError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let sync = |source| WriteError::Write {
            path: open.path.clone(),
            source,
        };
        open.file.sync_all().map_err(sync)?;
        // The segment's name, durable too.
        if let Some(dir) = open.path.parent() {
            sync_dir(dir).map_err(|source| WriteError::Write {
                path: dir.to_owned(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Creates `path`, which must not exist yet, readable only by the user on
/// Unix.
fn create_new(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Syncs a directory's entries to disk (Unix; elsewhere nothing).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
