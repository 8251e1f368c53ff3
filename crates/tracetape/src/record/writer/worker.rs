//! The writer thread: takes every recording waiting in the queue, encodes
//! each as one line into a buffer, and appends the buffer to the open
//! segment in one write, so a busy service costs one system call per
//! batch rather than a file per recording.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

#[cfg(test)]
use super::Gate;
use super::queue::Taken;
use super::segment_file::SegmentFile;
use super::{EVICTING, EVICTION_FAILED, Queued, Shared, WRITE_FAILED, WriteRecordingError};
use crate::diag;
use crate::record::forward::Forwarder;
use crate::store::cap::SizeCap;
use crate::store::files;

/// A batch is written once it holds this many bytes, even while more of
/// the recordings taken wait to be encoded.
const WRITE_AT: usize = 1024 * 1024;

/// The buffer's capacity is given back above this, after a batch of large
/// recordings.
const KEEP_CAPACITY: usize = 4 * 1024 * 1024;

/// The writer thread's side.
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) dir: PathBuf,
    /// Whether `dir` was created (or found) since the last failure.
    pub(super) dir_ready: bool,
    /// The directory's size cap.
    pub(super) cap: SizeCap,
    pub(super) max_dir_bytes: u64,
    pub(super) max_recording_bytes: u64,
    /// A segment is closed once it holds this many bytes (a recording
    /// larger than that alone gets a segment of its own).
    pub(super) segment_bytes: u64,
    /// ... or once it has been open this long.
    pub(super) segment_age: Duration,
    pub(super) forwarder: Option<Forwarder>,
    pub(super) segment: SegmentFile,
    /// Encoded lines not yet written.
    pub(super) buf: Vec<u8>,
    /// Recordings in `buf`.
    pub(super) pending: u64,
    #[cfg(test)]
    pub(super) gate: Option<Arc<Gate>>,
}

impl Worker {
    pub(super) fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        // Closed when the thread ends, panicking or not, so that nothing is
        // queued for a thread that is gone.
        let _closing = CloseOnExit(&shared);
        let mut batch = Vec::new();
        loop {
            let due = self.segment.due(self.segment_age);
            match shared.queue.take(due, &mut batch) {
                Taken::Batch => {}
                Taken::TimedOut => {
                    self.close_segment();
                    continue;
                }
                Taken::Closed => break,
            }
            for queued in batch.drain(..) {
                self.take(queued);
                if self.buf.len() >= WRITE_AT {
                    self.write_out(self.buf.len());
                }
            }
            self.write_out(self.buf.len());
        }
        self.write_out(self.buf.len());
        self.close_segment();
    }

    /// Encodes one recording into the buffer, writing what the buffer held
    /// before it to the open segment first when the line would take that
    /// segment past its size.
    fn take(&mut self, Queued { recording, bytes }: Queued) {
        self.shared.taken();
        #[cfg(test)]
        if let Some(gate) = &self.gate {
            gate.pass();
        }
        let trace_id = recording.trace_id;
        let start = self.buf.len();
        let encoded = recording.write_otlp_json(&mut self.buf);
        drop(recording);
        self.shared.release(bytes);
        let line = (self.buf.len() - start) as u64;
        let failure = match encoded {
            Err(source) => Some(WriteRecordingError::Encode { trace_id, source }),
            Ok(()) if line > self.max_recording_bytes => Some(WriteRecordingError::TooLarge {
                trace_id,
                size: line,
                limit: self.max_recording_bytes,
            }),
            Ok(()) => None,
        };
        if let Some(err) = failure {
            self.buf.truncate(start);
            self.fail(1, &err);
            return;
        }
        if let Some(forwarder) = &self.forwarder {
            forwarder.forward(Bytes::copy_from_slice(&self.buf[start..]));
        }
        let before = self.segment.len() + start as u64;
        if before > 0 && before + line > self.segment_bytes {
            self.write_out(start);
            self.close_segment();
        }
        self.pending += 1;
    }

    /// Appends the first `len` bytes of the buffer (whole lines, all the
    /// pending recordings) to the open segment, opening one when needed.
    fn write_out(&mut self, len: usize) {
        if len == 0 {
            return;
        }
        if self
            .segment
            .due(self.segment_age)
            .is_some_and(|due| due <= Instant::now())
        {
            self.close_segment();
        }
        let count = self.pending;
        self.pending = 0;
        let result = self.append(len);
        self.buf.drain(..len);
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf.shrink_to(WRITE_AT);
        }
        match result {
            Ok(written) => {
                self.shared.written.fetch_add(count, Ordering::Relaxed);
                self.shared.finish(count);
                self.enforce_cap(written);
            }
            Err(err) => self.fail(count, &err),
        }
    }

    fn append(&mut self, len: usize) -> Result<(PathBuf, u64), WriteRecordingError> {
        let store = |source| WriteRecordingError::Store { source };
        if !self.dir_ready {
            files::create_dir(&self.dir).map_err(store)?;
            self.dir_ready = true;
        }
        let lines = &self.buf[..len];
        match self.segment.append(&self.dir, lines) {
            Ok(written) => Ok(written),
            // Removed while the service runs (`rm -rf .tracetape`): made
            // again, and these recordings written into it.
            Err(_) if !self.dir.is_dir() => {
                files::create_dir(&self.dir).map_err(store)?;
                self.segment.append(&self.dir, lines).map_err(store)
            }
            Err(err) => {
                self.dir_ready = false;
                Err(store(err))
            }
        }
    }

    /// Syncs the open segment to disk and closes it.
    fn close_segment(&mut self) {
        if let Err(err) = self.segment.close() {
            diag::warn_once(
                WRITE_FAILED,
                format_args!(
                    "{}; recordings written to it may be lost if the system stops",
                    diag::chain(&err)
                ),
            );
        }
    }

    /// Counts `count` recordings as failed for `err`, saying so once.
    fn fail(&self, count: u64, err: &WriteRecordingError) {
        if count == 0 {
            return;
        }
        self.shared.failed.fetch_add(count, Ordering::Relaxed);
        *self
            .shared
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(diag::chain(err));
        diag::warn_once(
            WRITE_FAILED,
            format_args!(
                "{}; recordings are being lost (later failures are counted, not reported)",
                diag::chain(err)
            ),
        );
        self.shared.finish(count);
    }

    /// Removes the oldest segments (and files of the earlier layout) while
    /// the directory is over its cap, saying so once.
    fn enforce_cap(&mut self, written: (PathBuf, u64)) {
        match self.cap.after_write(&self.dir, written, self.max_dir_bytes) {
            Ok(0) => {}
            Ok(removed) => {
                self.shared
                    .evicted
                    .fetch_add(removed as u64, Ordering::Relaxed);
                diag::warn_once(
                    EVICTING,
                    format_args!(
                        "record mode: {} holds more than its cap of {} bytes; the oldest segments of recordings are removed (TRACETAPE_RECORD_MAX_DIR_BYTES)",
                        self.dir.display(),
                        self.max_dir_bytes
                    ),
                );
            }
            // The recordings are safely written; the next batch tries again.
            Err(err) => {
                diag::warn_once(EVICTION_FAILED, diag::chain(&err));
            }
        }
    }
}

/// Closes the queue when the writer thread ends.
struct CloseOnExit<'a>(&'a Shared);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        self.0.queue.close();
    }
}
