//! The background writer: recordings leave the request path through a
//! bounded queue and are appended, one line each, to rotating segment
//! files by a dedicated thread (`writer/worker.rs`, `writer/segment_file.rs`;
//! the layout is in `segment.rs`).
//!
//! [`RecordingWriter::try_record`] never waits: when the queue is full (in
//! recordings, or in bytes held), the recording is dropped and counted.
//! The queue's bound is counted, not allocated, so a large configured
//! queue costs nothing until used. Queuing rarely wakes the thread
//! (`writer/queue.rs`): once woken, it gathers for a few milliseconds,
//! then takes every recording waiting, encodes them into one buffer and
//! appends it with one write; a
//! segment is synced to disk and closed once it holds `segment_bytes` or
//! has been open `segment_age`, and when the writer stops. A failing disk
//! is reported once and counted; the service never notices. The directory
//! is kept under its size cap by removing the oldest segments whole, and
//! created again if it is removed while the service runs. Dropping the
//! writer waits, up to a timeout, for the queue to drain, and says how
//! many recordings were lost and why.

mod queue;
mod segment_file;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceId;

use super::error::EncodeError;
use super::forward::{ForwardCounts, Forwarder};
use super::tally::Tally;
use super::{Recording, RecordingStore};
use crate::diag;
use crate::setup::TlsFiles;
use crate::store::cap::SizeCap;
use crate::store::files::WriteError;
use queue::Queue;
use segment_file::SegmentFile;
use worker::Worker;

/// The stable names of the writer's warnings.
const WRITE_FAILED: &str = "RecordingWriter.WriteFailed";
const DROPPING_STARTED: &str = "RecordingWriter.RecordingDroppingStarted";
const FLUSH_TIMED_OUT: &str = "RecordingWriter.FlushTimedOut";
const EVICTING: &str = "RecordingWriter.Evicting";
const EVICTION_FAILED: &str = "RecordingWriter.EvictionFailed";
const LOST: &str = "RecordingWriter.Lost";

/// How a [`RecordingWriter`] is set up.
#[derive(Debug, Clone)]
pub(crate) struct WriterConfig {
    dir: PathBuf,
    capacity: usize,
    max_queued_bytes: u64,
    drop_timeout: Duration,
    /// The directory's size cap.
    max_dir_bytes: u64,
    /// The largest recording written.
    max_recording_bytes: u64,
    /// A segment's size, past which the next recording opens a new one;
    /// `None`: an eighth of the directory's cap, at most
    /// [`MAX_SEGMENT_BYTES`](Self::MAX_SEGMENT_BYTES).
    segment_bytes: Option<u64>,
    /// How long a segment stays open at most.
    segment_age: Duration,
    /// Where each document is also posted, if anywhere, and the TLS files
    /// for an https endpoint.
    forward_to: Option<(String, TlsFiles)>,
    /// Holds the writer thread before each write, for tests.
    #[cfg(test)]
    gate: Option<Arc<Gate>>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self::new(RecordingStore::default_dir())
    }
}

impl WriterConfig {
    /// Recordings queued at most, unless [`with_capacity`](Self::with_capacity).
    pub(crate) const DEFAULT_CAPACITY: usize = super::DEFAULT_QUEUE;
    /// Bytes of recordings held in the queue at most, unless
    /// [`with_max_queued_bytes`](Self::with_max_queued_bytes): 16 MiB.
    pub(crate) const DEFAULT_MAX_QUEUED_BYTES: u64 = 16 * 1024 * 1024;
    /// How long dropping the writer waits for the queue to drain, unless
    /// [`with_drop_timeout`](Self::with_drop_timeout).
    pub(crate) const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(5);
    /// The largest a segment grows before the next recording opens a new
    /// one: 64 MiB (less when the directory's cap is small).
    pub(crate) const MAX_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
    /// How long a segment stays open before it is synced and closed: one
    /// minute.
    pub(crate) const SEGMENT_AGE: Duration = Duration::from_secs(60);

    /// The size at which a segment is closed: as set, else an eighth of
    /// the directory's cap (so the cap removes an eighth at a time at
    /// most), at most [`MAX_SEGMENT_BYTES`](Self::MAX_SEGMENT_BYTES).
    fn segment_bytes(&self) -> u64 {
        self.segment_bytes
            .unwrap_or_else(|| (self.max_dir_bytes / 8).clamp(1, Self::MAX_SEGMENT_BYTES))
    }

    /// Writes into `dir`, created (mode 0700) on the first write.
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            capacity: Self::DEFAULT_CAPACITY,
            max_queued_bytes: Self::DEFAULT_MAX_QUEUED_BYTES,
            drop_timeout: Self::DEFAULT_DROP_TIMEOUT,
            max_dir_bytes: super::DEFAULT_MAX_DIR_BYTES,
            max_recording_bytes: super::MAX_RECORDING_BYTES,
            segment_bytes: None,
            segment_age: Self::SEGMENT_AGE,
            forward_to: None,
            #[cfg(test)]
            gate: None,
        }
    }

    /// Also posts each recording's document to the OTLP/HTTP traces
    /// endpoint `endpoint`, with `tls` when it is https (see `forward.rs`).
    #[must_use]
    pub(crate) fn with_forwarding(mut self, endpoint: Option<String>, tls: &TlsFiles) -> Self {
        self.forward_to = endpoint.map(|endpoint| (endpoint, tls.clone()));
        self
    }

    /// Keeps the directory's segments (and `*.json` files of the earlier
    /// layout) under `max_bytes` together, removing the oldest whole.
    #[must_use]
    pub(crate) fn with_max_dir_bytes(mut self, max_bytes: u64) -> Self {
        self.max_dir_bytes = max_bytes;
        self
    }

    /// How many recordings may wait to be written (at least 1).
    #[must_use]
    pub(crate) fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// How many bytes of bodies, headers and URLs the waiting recordings
    /// may hold together. A recording larger than this alone is still
    /// taken when nothing else waits, so it is never dropped for its size
    /// only.
    #[must_use]
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "set and read by tests only; the recorder needs neither"
        )
    )]
    pub(crate) fn with_max_queued_bytes(mut self, max: u64) -> Self {
        self.max_queued_bytes = max;
        self
    }

    /// How long dropping the writer waits for the queue to drain before it
    /// leaves the rest to the thread and returns.
    #[must_use]
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "set and read by tests only; the recorder needs neither"
        )
    )]
    pub(crate) fn with_drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }

    #[cfg(test)]
    fn with_max_recording_bytes(mut self, max: u64) -> Self {
        self.max_recording_bytes = max;
        self
    }

    #[cfg(test)]
    fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = Some(bytes);
        self
    }

    #[cfg(test)]
    fn with_segment_age(mut self, age: Duration) -> Self {
        self.segment_age = age;
        self
    }

    #[cfg(test)]
    fn with_gate(mut self, gate: Arc<Gate>) -> Self {
        self.gate = Some(gate);
        self
    }
}

/// Writes recordings as files on a thread of its own; see the module docs.
///
/// Share it between layers behind an `Arc`; the last one dropped flushes.
#[derive(Debug)]
pub(crate) struct RecordingWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
    drop_timeout: Duration,
    forwarded: Option<Arc<ForwardCounts>>,
}

/// A recording waiting to be written, and what it counts against the byte
/// budget.
#[derive(Debug)]
struct Queued {
    recording: Recording,
    bytes: u64,
}

/// What the request path and the writer thread share.
#[derive(Debug)]
struct Shared {
    /// The recordings handed to the thread (unbounded itself: the bound
    /// is `queued`, so no room is allocated for recordings that never
    /// come).
    queue: Queue,
    capacity: u64,
    max_queued_bytes: u64,
    /// Recordings in the queue, not yet taken by the thread.
    queued: AtomicU64,
    queued_bytes: AtomicU64,
    accepted: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    /// Recordings removed to keep the directory under its cap.
    evicted: AtomicU64,
    /// Why the last recording that failed was not written.
    last_failure: Mutex<Option<String>>,
    /// Recordings written or failed, which `flush` waits on.
    finished: Tally,
}

impl Shared {
    /// Reserves a place in the queue and `bytes` of the budget; `false`
    /// when either is full.
    fn reserve(&self, bytes: u64) -> bool {
        let placed = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued < self.capacity).then_some(queued + 1)
            })
            .is_ok();
        if !placed {
            return false;
        }
        let budgeted = self
            .queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                let total = queued.saturating_add(bytes);
                (queued == 0 || total <= self.max_queued_bytes).then_some(total)
            })
            .is_ok();
        if !budgeted {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        budgeted
    }

    /// The place of a recording the thread has taken.
    fn taken(&self) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    fn release(&self, bytes: u64) {
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Counts `count` recordings as written or failed, waking flushes
    /// once for all of them.
    fn finish(&self, count: u64) {
        self.finished.add(count);
    }
}

/// Why the writer thread could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartWriterError {
    #[error("failed to start the recording writer thread")]
    Spawn {
        #[source]
        source: std::io::Error,
    },
}

/// Why [`RecordingWriter::flush`] returned before the queue drained.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FlushError {
    #[error("{pending} recordings still unwritten after {timeout:?}")]
    Timeout { pending: u64, timeout: Duration },
    #[error("{pending} recordings written but still not forwarded after {timeout:?}")]
    NotForwarded { pending: u64, timeout: Duration },
}

/// Why one recording could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteRecordingError {
    #[error("failed to encode the recording of trace {trace_id}")]
    Encode {
        trace_id: TraceId,
        #[source]
        source: EncodeError,
    },
    #[error(
        "the recording of trace {trace_id} is {size} bytes, more than the {limit} a recording may have; not written"
    )]
    TooLarge {
        trace_id: TraceId,
        size: u64,
        limit: u64,
    },
    #[error("failed to write recordings")]
    Store {
        #[source]
        source: WriteError,
    },
}

impl RecordingWriter {
    /// Starts the writer thread.
    pub(crate) fn start(config: WriterConfig) -> Result<Self, StartWriterError> {
        let shared = Arc::new(Shared {
            queue: Queue::default(),
            capacity: config.capacity as u64,
            max_queued_bytes: config.max_queued_bytes,
            queued: AtomicU64::new(0),
            queued_bytes: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            last_failure: Mutex::new(None),
            finished: Tally::default(),
        });
        let forwarder = match &config.forward_to {
            Some((endpoint, tls)) => Forwarder::start(endpoint.clone(), tls)
                .map_err(|source| StartWriterError::Spawn { source })?,
            None => None,
        };
        let forwarded = forwarder.as_ref().map(Forwarder::counts);
        let worker = Worker {
            shared: Arc::clone(&shared),
            dir: config.dir.clone(),
            dir_ready: false,
            cap: SizeCap::default(),
            max_dir_bytes: config.max_dir_bytes,
            max_recording_bytes: config.max_recording_bytes,
            segment_bytes: config.segment_bytes(),
            segment_age: config.segment_age,
            forwarder,
            segment: SegmentFile::default(),
            buf: Vec::new(),
            pending: 0,
            #[cfg(test)]
            gate: config.gate.clone(),
        };
        let thread = thread::Builder::new()
            .name("tracetape-recordings".to_owned())
            .spawn(move || worker.run())
            .map_err(|source| StartWriterError::Spawn { source })?;
        Ok(Self {
            shared,
            thread: Some(thread),
            dir: config.dir,
            drop_timeout: config.drop_timeout,
            forwarded,
        })
    }

    /// Queues `recording` to be written, without ever waiting. Returns
    /// `false` when it was dropped (and counted) because the queue is full.
    pub(crate) fn try_record(&self, recording: Recording) -> bool {
        let bytes = approximate_size(&recording);
        if !self.shared.reserve(bytes) {
            self.drop_one();
            return false;
        }
        match self.shared.queue.push(Queued { recording, bytes }) {
            Ok(()) => {
                self.shared.accepted.fetch_add(1, Ordering::AcqRel);
                true
            }
            // The writer is going, or its thread is gone: the recording
            // is lost.
            Err(_) => {
                self.shared.taken();
                self.shared.release(bytes);
                self.drop_one();
                false
            }
        }
    }

    /// Whether a recording started now could be queued when it is done:
    /// `false`, counting it as dropped, when the queue is full in
    /// recordings or bytes.
    pub(crate) fn take_room(&self) -> bool {
        let room = self.shared.queued.load(Ordering::Acquire) < self.shared.capacity
            && self.shared.queued_bytes.load(Ordering::Acquire) < self.shared.max_queued_bytes;
        if !room {
            self.drop_one();
        }
        room
    }

    fn drop_one(&self) {
        if self.shared.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            diag::warn_once(
                DROPPING_STARTED,
                format_args!(
                    "the recording queue is full ({} recordings or {} bytes); \
                     recordings are dropped and counted until it drains",
                    self.shared.capacity, self.shared.max_queued_bytes
                ),
            );
        }
    }

    /// Waits until every recording queued before the call is written (or
    /// failed) and, when forwarding, posted to the collector (or failed),
    /// for at most `timeout` in all.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let target = self.shared.accepted.load(Ordering::Acquire);
        if self.shared.finished.get() < target {
            self.shared.queue.hurry();
        }
        let deadline = Instant::now().checked_add(timeout);
        (self.shared.finished.wait_for(target, deadline))
            .map_err(|pending| FlushError::Timeout { pending, timeout })?;
        // Each of them was queued for forwarding (or not, and counted)
        // when it was written: those queued are waited for too.
        match &self.forwarded {
            Some(forwarded) => forwarded
                .wait_handled(deadline)
                .map_err(|pending| FlushError::NotForwarded { pending, timeout }),
            None => Ok(()),
        }
    }

    /// The directory the files go to.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "set and read by tests only; the recorder needs neither"
        )
    )]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Recordings dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Recordings written to disk.
    pub(crate) fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Recordings that could not be written (reported once).
    pub(crate) fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Recordings removed to keep the directory under its size cap.
    pub(crate) fn evicted(&self) -> u64 {
        self.shared.evicted.load(Ordering::Relaxed)
    }

    /// How many recordings were lost, and why; `None` when none were.
    fn losses(&self) -> Option<String> {
        let (dropped, failed) = (self.dropped(), self.failed());
        if dropped + failed == 0 {
            return None;
        }
        let mut causes = Vec::new();
        if dropped > 0 {
            causes.push(format!("{dropped} dropped because the queue was full"));
        }
        if failed > 0 {
            let last = self
                .shared
                .last_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_default();
            causes.push(format!("{failed} not written (the last: {last})"));
        }
        Some(format!(
            "record mode: {} recordings lost: {}; {} written to {}",
            dropped + failed,
            causes.join(", "),
            self.written(),
            self.dir.display()
        ))
    }

    /// Recordings posted to the collector, when forwarding.
    pub(crate) fn forwarded(&self) -> u64 {
        self.forwarded
            .as_ref()
            .map_or(0, |counts| counts.sent.load(Ordering::Relaxed))
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        let flushed = self.flush(self.drop_timeout);
        if let Some(losses) = self.losses() {
            diag::warn_once(LOST, losses);
        }
        // Closing the queue ends the thread once it is empty.
        self.shared.queue.close();
        match flushed {
            Ok(()) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
            Err(err) => {
                // Left to finish on its own: the process may still be
                // running long enough.
                diag::warn_once(
                    FLUSH_TIMED_OUT,
                    format_args!("recordings may be lost: {err}"),
                );
            }
        }
    }
}

/// About how much memory a queued recording holds: its bodies, headers,
/// URLs and names, plus a little for the structure.
fn approximate_size(recording: &Recording) -> u64 {
    let headers = |headers: &[super::HeaderRecord]| -> usize {
        headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 32)
            .sum()
    };
    let exchanges: usize = recording
        .exchanges
        .iter()
        .map(|exchange| {
            let request = &exchange.request;
            let response = exchange.response.as_ref().map_or(0, |response| {
                headers(&response.headers) + headers(&response.trailers) + response.body.bytes.len()
            });
            256 + exchange.name.len()
                + request.method.len()
                + request.url.len()
                + headers(&request.headers)
                + request.body.bytes.len()
                + response
                + exchange.error.as_ref().map_or(0, String::len)
        })
        .sum();
    (128 + recording.service_name.len() + exchanges) as u64
}

/// Holds the writer thread before each write until opened, so tests can
/// fill the queue deterministically.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    changed: std::sync::Condvar,
}

#[cfg(test)]
#[derive(Debug, Default)]
struct GateState {
    open: bool,
    /// Threads waiting at the gate.
    waiting: usize,
}

#[cfg(test)]
impl Gate {
    pub(crate) fn closed() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn open(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.open = true;
        self.changed.notify_all();
    }

    /// Waits until the writer is held at the gate with a recording in hand.
    pub(crate) fn wait_until_held(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.waiting == 0 {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn pass(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.waiting += 1;
        self.changed.notify_all();
        while !state.open {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting -= 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;
    use std::net::SocketAddr;
    use std::sync::mpsc::RecvTimeoutError;

    use super::*;
    use crate::record::testing::{background_recording, rich_recording};
    use crate::store::files;

    fn temp_dir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".tracetape").join("recordings");
        (tmp, dir)
    }

    fn json_files(dir: &Path) -> Vec<PathBuf> {
        files::batch_files(dir).unwrap()
    }

    /// The trace ids of the recordings in `dir`, oldest first.
    fn traces_in(dir: &Path) -> Vec<TraceId> {
        let loaded = RecordingStore::new(dir).load().unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let mut traces: Vec<TraceId> = loaded
            .recordings
            .iter()
            .map(|stored| stored.recording.trace_id)
            .collect();
        traces.reverse();
        traces
    }

    fn traces(range: std::ops::RangeInclusive<u128>) -> Vec<TraceId> {
        range.map(TraceId::from).collect()
    }

    /// Runs `f` on another thread and fails the test, instead of hanging
    /// it, if `f` takes more than a few seconds.
    fn promptly<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (send, recv) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let _ = send.send(f());
        });
        match recv.recv_timeout(Duration::from_secs(10)) {
            Ok(value) => value,
            Err(RecvTimeoutError::Timeout) => panic!("blocked"),
            Err(RecvTimeoutError::Disconnected) => panic!("panicked"),
        }
    }

    #[test]
    fn recordings_are_lines_of_one_segment_after_its_header() {
        let (_tmp, dir) = temp_dir();
        let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
        assert_eq!(writer.dir(), dir);
        for trace in 1..=3_u128 {
            assert!(writer.try_record(background_recording(trace)));
        }
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!(
            (writer.written(), writer.failed(), writer.dropped()),
            (3, 0, 0)
        );

        let [segment] = json_files(&dir).try_into().unwrap();
        let name = segment.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(".jsonl"), "{name}");
        let text = fs::read(&segment).unwrap();
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], super::super::segment::header());
        for (line, trace) in lines[1..].iter().zip(1..=3_u128) {
            assert_eq!(
                *line,
                background_recording(trace).to_otlp_json().unwrap(),
                "each line is the recording's document, byte for byte"
            );
        }
        // In the order they were queued, and nothing else: no temporary
        // files.
        assert_eq!(traces_in(&dir), traces(1..=3));
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn a_full_segment_is_closed_and_the_next_recording_opens_another() {
        let (_tmp, dir) = temp_dir();
        let one = background_recording(1).to_otlp_json().unwrap().len() as u64;
        let header = super::super::segment::header().len() as u64;
        // Room for the header and two recordings, not three.
        let writer = RecordingWriter::start(
            WriterConfig::new(&dir).with_segment_bytes(header + 2 * one + one / 2),
        )
        .unwrap();
        for trace in 1..=5_u128 {
            assert!(writer.try_record(background_recording(trace)));
            writer.flush(Duration::from_secs(10)).unwrap();
        }
        let counts: Vec<u64> = json_files(&dir)
            .iter()
            .map(|path| RecordingStore::count_in_file(path).unwrap())
            .collect();
        assert_eq!(counts, [2, 2, 1]);
        assert_eq!(traces_in(&dir), traces(1..=5));

        // A recording larger than a segment gets one of its own.
        let (_tmp, dir) = temp_dir();
        let writer =
            RecordingWriter::start(WriterConfig::new(&dir).with_segment_bytes(one / 2)).unwrap();
        for trace in 1..=3_u128 {
            assert!(writer.try_record(background_recording(trace)));
        }
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!(json_files(&dir).len(), 3);
        assert_eq!(traces_in(&dir), traces(1..=3));
    }

    #[test]
    fn an_old_segment_is_closed_even_when_idle() {
        let (_tmp, dir) = temp_dir();
        // Every segment is past its age as soon as it is written: whether
        // the thread closes it while idle or finds it so at the next
        // write, the next recording goes to a new segment.
        let writer =
            RecordingWriter::start(WriterConfig::new(&dir).with_segment_age(Duration::ZERO))
                .unwrap();
        for trace in 1..=3_u128 {
            assert!(writer.try_record(background_recording(trace)));
            writer.flush(Duration::from_secs(10)).unwrap();
        }
        assert_eq!(json_files(&dir).len(), 3);
        assert_eq!(traces_in(&dir), traces(1..=3));
    }

    /// A crash while a line was being written leaves it cut short at the
    /// end of the segment: readers skip it and read every line before it.
    #[test]
    fn a_segment_cut_short_by_a_crash_keeps_its_whole_lines() {
        let (_tmp, dir) = temp_dir();
        let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
        for trace in 1..=3_u128 {
            assert!(writer.try_record(background_recording(trace)));
        }
        drop(writer);
        let [segment] = json_files(&dir).try_into().unwrap();
        let full = fs::read(&segment).unwrap();
        let last = background_recording(3).to_otlp_json().unwrap().len();
        for cut in [1, last / 2, last - 1] {
            fs::write(&segment, &full[..full.len() - cut]).unwrap();
            let loaded = RecordingStore::new(&dir).load().unwrap();
            assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
            assert_eq!(loaded.torn_tails, [(segment.clone(), (last - cut) as u64)]);
            assert_eq!(traces_in(&dir), traces(1..=2), "cut {cut}");
            assert_eq!(RecordingStore::new(&dir).count().unwrap(), 2);
        }
    }

    #[cfg(unix)]
    #[test]
    fn directory_is_private_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let (tmp, dir) = temp_dir();
        let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
        writer.try_record(rich_recording());
        writer.flush(Duration::from_secs(10)).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join(".tracetape")), 0o700);
        let [file] = json_files(&dir).try_into().unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn full_queue_drops_and_counts_without_blocking() {
        // Regression guard: a slow disk must never hold up a request.
        let (_tmp, dir) = temp_dir();
        let gate = Gate::closed();
        let writer = Arc::new(
            RecordingWriter::start(
                WriterConfig::new(&dir)
                    .with_capacity(2)
                    .with_gate(Arc::clone(&gate)),
            )
            .unwrap(),
        );
        // The thread takes the first recording and is held at the gate with
        // it; two more fill the queue; the rest are dropped.
        assert!(writer.try_record(background_recording(1)));
        gate.wait_until_held();
        let results = promptly({
            let writer = Arc::clone(&writer);
            move || {
                (2..=6_u128)
                    .map(|trace| writer.try_record(background_recording(trace)))
                    .collect::<Vec<_>>()
            }
        });
        assert_eq!(results, [true, true, false, false, false]);
        assert_eq!(writer.dropped(), 3);
        assert_eq!(writer.written(), 0);
        // A request starting now is not captured at all, and counted.
        assert!(!writer.take_room());
        assert_eq!(writer.dropped(), 4);
        assert_eq!(
            writer.flush(Duration::from_millis(20)),
            Err(FlushError::Timeout {
                pending: 3,
                timeout: Duration::from_millis(20)
            })
        );

        gate.open();
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!((writer.written(), writer.dropped()), (3, 4));
        assert_eq!(traces_in(&dir), traces(1..=3));
        // Room again once drained.
        assert!(writer.take_room());
        assert!(writer.try_record(background_recording(7)));
    }

    #[test]
    fn byte_budget_drops_large_recordings_while_others_wait() {
        let (_tmp, dir) = temp_dir();
        let gate = Gate::closed();
        let big = rich_recording();
        let size = approximate_size(&big);
        let writer = RecordingWriter::start(
            WriterConfig::new(&dir)
                .with_max_queued_bytes(size + size / 2)
                .with_gate(Arc::clone(&gate)),
        )
        .unwrap();
        // Larger than the budget alone? Still taken when nothing waits.
        assert!(writer.try_record(big.clone()));
        gate.wait_until_held();
        // The first is held in memory until written, so a second does not fit.
        assert!(!writer.try_record(big.clone()));
        assert!(writer.try_record(background_recording(1)));
        assert_eq!(writer.dropped(), 1);
        gate.open();
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!(writer.written(), 2);
        assert!(writer.try_record(big));
    }

    #[test]
    fn unwritable_directory_warns_once_counts_and_keeps_going() {
        // Regression guard: a disk error must not panic or stop the service.
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-directory");
        fs::write(&file, b"").unwrap();
        // Below a regular file, so not even root can create it.
        let dir = file.join("recordings");
        let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
        for trace in 1..=3_u128 {
            assert!(writer.try_record(background_recording(trace)));
        }
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!((writer.written(), writer.failed()), (0, 3));
        // Reported already, under its stable name.
        assert!(!diag::warn_once(WRITE_FAILED, "probe"));

        // The writer still takes recordings, and writes them once it can.
        fs::remove_file(&file).unwrap();
        assert!(writer.try_record(background_recording(4)));
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!((writer.written(), writer.failed()), (1, 3));
        assert_eq!(traces_in(&dir), traces(4..=4));
    }

    #[test]
    fn directory_removed_while_running_is_created_again() {
        let (_tmp, dir) = temp_dir();
        let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
        writer.try_record(background_recording(1));
        writer.flush(Duration::from_secs(10)).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        writer.try_record(background_recording(2));
        writer.try_record(background_recording(3));
        writer.flush(Duration::from_secs(10)).unwrap();
        // Nothing lost: the write that finds the directory gone makes it
        // again, and a new segment in it.
        assert_eq!((writer.written(), writer.failed()), (3, 0));
        assert_eq!(traces_in(&dir), traces(2..=3));
    }

    #[test]
    fn the_directory_stays_under_its_cap_whole_segments_oldest_first() {
        let (_tmp, dir) = temp_dir();
        let one = background_recording(1).to_otlp_json().unwrap().len() as u64;
        let header = super::super::segment::header().len() as u64;
        let segment = header + 2 * one;
        // Segments of two recordings; room for two such segments and a
        // half, not three.
        let writer = RecordingWriter::start(
            WriterConfig::new(&dir)
                .with_segment_bytes(segment)
                .with_max_dir_bytes(2 * segment + segment / 2),
        )
        .unwrap();
        // An earlier version's file, oldest of all, is evicted first.
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("00000000000000000001-1-000000-old.json"),
            background_recording(99).to_otlp_json().unwrap(),
        )
        .unwrap();
        for trace in 1..=8_u128 {
            assert!(writer.try_record(background_recording(trace)));
            writer.flush(Duration::from_secs(10)).unwrap();
        }
        assert_eq!(writer.written(), 8);
        // The old file and two whole segments (1, 2 and 3, 4) are gone,
        // never a part of one.
        assert_eq!(writer.evicted(), 3);
        assert_eq!(traces_in(&dir), traces(5..=8));
        let total: u64 = json_files(&dir)
            .iter()
            .map(|path| fs::metadata(path).unwrap().len())
            .sum();
        assert!(total <= 2 * segment + segment / 2, "{total}");
        assert!(!diag::warn_once(EVICTING, "probe"), "said once");
    }

    /// A queue configured far larger than memory costs nothing until used
    /// (the channel used to allocate every place up front, and a queue of
    /// 2^40 aborted the process).
    /// No recording is written that readers would refuse.
    #[test]
    fn a_recording_larger_than_readers_take_is_not_written() {
        let (_tmp, dir) = temp_dir();
        let writer =
            RecordingWriter::start(WriterConfig::new(&dir).with_max_recording_bytes(200)).unwrap();
        assert!(writer.try_record(rich_recording()));
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!((writer.written(), writer.failed()), (0, 1));
        let losses = writer.losses().unwrap();
        assert!(
            losses.contains("bytes, more than the 200 a recording may have"),
            "{losses}"
        );
        assert!(!dir.exists() || json_files(&dir).is_empty());
    }

    #[test]
    fn a_huge_queue_is_not_allocated() {
        let (_tmp, dir) = temp_dir();
        let writer =
            RecordingWriter::start(WriterConfig::new(&dir).with_capacity(1 << 40)).unwrap();
        assert!(writer.try_record(background_recording(1)));
        writer.flush(Duration::from_secs(10)).unwrap();
        assert_eq!(writer.written(), 1);
    }

    #[test]
    fn losses_are_totalled_when_the_writer_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-directory");
        fs::write(&file, b"").unwrap();
        let writer = RecordingWriter::start(WriterConfig::new(file.join("recordings"))).unwrap();
        for trace in 1..=2_u128 {
            writer.try_record(background_recording(trace));
        }
        writer.flush(Duration::from_secs(10)).unwrap();
        let losses = writer.losses().unwrap();
        assert!(
            losses.starts_with("record mode: 2 recordings lost: 2 not written (the last: "),
            "{losses}"
        );
        assert!(losses.contains("not-a-directory"), "{losses}");
        assert!(losses.contains("; 0 written to "), "{losses}");
    }

    #[test]
    fn drop_waits_for_the_queue() {
        let (_tmp, dir) = temp_dir();
        let gate = Gate::closed();
        let writer =
            RecordingWriter::start(WriterConfig::new(&dir).with_gate(Arc::clone(&gate))).unwrap();
        for trace in 1..=5_u128 {
            writer.try_record(background_recording(trace));
        }
        gate.wait_until_held();
        let opener = thread::spawn({
            let gate = Arc::clone(&gate);
            move || {
                thread::sleep(Duration::from_millis(20));
                gate.open();
            }
        });
        drop(writer);
        opener.join().unwrap();
        assert_eq!(traces_in(&dir), traces(1..=5));
    }

    #[test]
    fn drop_gives_up_after_its_timeout() {
        let (_tmp, dir) = temp_dir();
        let gate = Gate::closed();
        let writer = RecordingWriter::start(
            WriterConfig::new(&dir)
                .with_drop_timeout(Duration::from_millis(20))
                .with_gate(Arc::clone(&gate)),
        )
        .unwrap();
        writer.try_record(background_recording(1));
        gate.wait_until_held();
        promptly(move || drop(writer));
        // The detached thread finishes once it may.
        gate.open();
    }

    /// A collector on loopback that answers each post once the test sends
    /// on the returned channel; its address.
    fn held_collector() -> (
        std::sync::mpsc::Sender<()>,
        SocketAddr,
        tokio::runtime::Runtime,
    ) {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let addr = runtime.block_on(async {
            let answer = move || {
                let held = Arc::clone(&held);
                async move {
                    let _ = tokio::task::spawn_blocking(move || held.lock().unwrap().recv()).await;
                }
            };
            let app = axum::Router::new().route("/v1/traces", axum::routing::post(answer));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            addr
        });
        (release, addr, runtime)
    }

    #[test]
    fn flush_waits_for_forwarding_within_its_timeout() {
        let (_tmp, dir) = temp_dir();
        let (release, addr, _runtime) = held_collector();
        let writer = RecordingWriter::start(WriterConfig::new(&dir).with_forwarding(
            Some(format!("http://{addr}/v1/traces")),
            &TlsFiles::default(),
        ))
        .unwrap();
        assert!(writer.try_record(background_recording(1)));
        // Written, but the collector has not answered the post.
        let timeout = Duration::from_secs(2);
        assert_eq!(
            writer.flush(timeout),
            Err(FlushError::NotForwarded {
                pending: 1,
                timeout
            })
        );
        assert_eq!((writer.written(), writer.forwarded()), (1, 0));
        release.send(()).unwrap();
        writer.flush(Duration::from_secs(30)).unwrap();
        assert_eq!(writer.forwarded(), 1);
    }

    #[test]
    fn flush_with_nothing_queued_returns_at_once() {
        let (_tmp, dir) = temp_dir();
        let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
        writer.flush(Duration::ZERO).unwrap();
        writer.flush(Duration::MAX).unwrap();
        assert!(!dir.exists(), "created before anything was written");
    }
}
