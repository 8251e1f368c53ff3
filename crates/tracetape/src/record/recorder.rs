//! [`Recorder`]: what sits between the layers and the writer. It decides
//! which inbound requests are recorded, gathers the exchanges of one trace
//! as they finish, and hands the finished [`Recording`] to the writer
//! exactly once.
//!
//! A recording is assembled from *parts*. [`Recorder::begin`] opens one
//! for a trace and returns its first part, the server's own exchange,
//! together with a [`TraceRecording`] handle that the server layer stores
//! in the OpenTelemetry context, so that each outbound call made in that
//! context can take a part of its own ([`TraceRecording::part`]). A part
//! adds its exchange when [`finished`](Part::finish); a part dropped
//! unfinished adds nothing.
//!
//! The recording is done when every part has closed, the first one
//! included, *and* every handle is gone: every clone of the context that
//! carries it, such as the one a task spawned with
//! [`context::spawn`](crate::context::spawn) holds until it ends. So a
//! call such a task makes after the response is still the request's.
//! The server layer holds the context only while it polls the handler,
//! so an ordinary request is handed on as soon as its response body ends.
//!
//! A context may also outlive its request for good (stored in a long-lived
//! value, or held by a task that never ends). A recording whose parts have
//! all closed but whose handle is still held *lingers*; it is handed on
//! anyway, as it is then, once it has lingered for [`LINGER`] (checked
//! whenever another request or a background call is recorded), when the
//! recorder is flushed ([`Recorder::flush`], which the telemetry guard does
//! at shutdown), or when more than [`MAX_LINGERING`] recordings linger (the
//! oldest first). A part asked for after that is inert: its call is not
//! recorded, and counted ([`Recorder::late_calls_dropped`]).

use super::budget::{BodyBudget, Held};
use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::TraceId;

use super::writer::{FlushError, RecordingWriter, StartWriterError, WriterConfig};
use super::{Exchange, ExchangeKind, RecordSettings, Recording, RedactionKey, Redactor};

mod linger;
#[cfg(test)]
mod tests;

use linger::Lingering;
pub use linger::{LINGER, MAX_LINGERING};

/// The stable name of the warning about calls made too late to record.
const LATE_CALL_DROPPED: &str = "Recorder.LateCallDropped";

/// Why [`Recorder::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartRecorderError {
    /// The thread that writes recordings could not be started.
    #[error("failed to start the recording writer thread")]
    Spawn {
        /// The error from the operating system.
        #[source]
        source: std::io::Error,
    },
    /// A redaction rule can never match anything
    /// ([`RedactRule::check`](super::RedactRule::check)): recording with it
    /// would write what the user meant to hide.
    #[error("invalid redaction rule {index}")]
    InvalidRule {
        /// The rule's place in `settings.redact`, from 0.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: super::InvalidRuleError,
    },
}

impl From<StartWriterError> for StartRecorderError {
    fn from(err: StartWriterError) -> Self {
        match err {
            StartWriterError::Spawn { source } => Self::Spawn { source },
        }
    }
}

/// Why [`Recorder::flush`] returned before every recording was written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushRecorderError {
    /// Some recordings were still waiting when the timeout ran out.
    #[error("failed to write {pending} recordings within {timeout:?}")]
    Timeout {
        /// Recordings queued before the flush and not yet written.
        pending: u64,
        /// The timeout the flush was given.
        timeout: Duration,
    },
    /// Every recording was written, but some were still waiting to be
    /// posted to the collector recordings are forwarded to
    /// ([`RecordSettings::otlp_endpoint`]) when the timeout ran out.
    #[error("wrote every recording, but failed to forward {pending} of them within {timeout:?}")]
    NotForwarded {
        /// Recordings written and not yet posted (or failed).
        pending: u64,
        /// The timeout the flush was given.
        timeout: Duration,
    },
}

impl From<FlushError> for FlushRecorderError {
    fn from(err: FlushError) -> Self {
        match err {
            FlushError::Timeout { pending, timeout } => Self::Timeout { pending, timeout },
            FlushError::NotForwarded { pending, timeout } => {
                Self::NotForwarded { pending, timeout }
            }
        }
    }
}

/// Record mode's entry point: decides which requests are recorded and
/// writes their recordings, one file per trace, off the request path.
///
/// Cheap to clone (the clones share one writer); the writer is flushed,
/// for a few seconds at most, when the last clone is dropped.
///
/// ```
/// use std::time::Duration;
/// use tracetape::record::{RecordSettings, Recorder};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut settings = RecordSettings::from_env();
/// # let tmp = tempfile::tempdir()?;
/// # settings.dir = tmp.path().join("recordings");
/// settings.sample_rate = 0.1;
/// let recorder = Recorder::start(&settings, "checkout")?;
///
/// // Once per inbound request: is this one recorded?
/// let recorded = recorder.sample();
/// # let _ = recorded;
/// assert_eq!(recorder.max_body_bytes(), settings.max_body_bytes);
///
/// // Before the process exits: wait for what is queued to be written.
/// recorder.flush(Duration::from_secs(5))?;
/// assert_eq!(recorder.dropped(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service_name: String,
    sample_rate: f64,
    max_body_bytes: usize,
    redactor: Redactor,
    /// Recordings a drop rule removed whole.
    dropped_by_rules: AtomicU64,
    /// Calls whose request's recording had already been handed on.
    late_calls_dropped: AtomicU64,
    /// Recordings done but for a context that still holds them.
    lingering: Lingering,
    /// The bytes of bodies held across requests (`budget.rs`).
    budget: Arc<BodyBudget>,
    sink: Sink,
}

/// Where finished recordings go.
enum Sink {
    Writer(RecordingWriter),
    /// A closure instead of the writer, for tests.
    #[cfg(test)]
    Fn(Box<dyn Fn(Recording) + Send + Sync>),
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Writer(writer) => f.debug_tuple("Writer").field(writer).finish(),
            #[cfg(test)]
            Self::Fn(_) => f.write_str("Fn"),
        }
    }
}

impl Recorder {
    /// Starts recording for the service `service_name`: recordings are
    /// written into `settings.dir` (created, mode 0700, on the first
    /// write) by a thread of their own, with at most `settings.queue`
    /// waiting.
    ///
    /// This fails when a redaction rule can never match
    /// ([`RedactRule::check`](super::RedactRule::check)) and when the
    /// thread cannot be started; a directory that cannot be written is
    /// reported once, later, and never breaks the service.
    pub fn start(
        settings: &RecordSettings,
        service_name: impl Into<String>,
    ) -> Result<Self, StartRecorderError> {
        for (index, rule) in settings.redact.iter().enumerate() {
            rule.check()
                .map_err(|source| StartRecorderError::InvalidRule { index, source })?;
        }
        let key = redaction_key(&settings.dir);
        let writer = RecordingWriter::start(
            WriterConfig::new(settings.dir.clone())
                .with_capacity(settings.queue)
                .with_max_dir_bytes(settings.max_dir_bytes)
                .with_forwarding(settings.otlp_endpoint.clone(), &settings.forward_tls),
        )?;
        Ok(Self::with_sink(
            settings,
            service_name.into(),
            key,
            Sink::Writer(writer),
        ))
    }

    /// A recorder that hands each finished recording to `sink` instead of
    /// writing it.
    #[cfg(test)]
    pub(crate) fn with_sink_fn(
        settings: &RecordSettings,
        service_name: impl Into<String>,
        sink: impl Fn(Recording) + Send + Sync + 'static,
    ) -> Self {
        let key = RedactionKey::ephemeral().unwrap_or_else(|_| RedactionKey::fixed());
        Self::with_sink(settings, service_name.into(), key, Sink::Fn(Box::new(sink)))
    }

    /// The recorder, with recordings lingering for `linger` instead of
    /// [`LINGER`]; right after it was made (a clone shares the setting).
    #[cfg(test)]
    pub(crate) fn with_linger(mut self, linger: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.lingering = Lingering::new(linger);
        }
        self
    }

    /// Entries of the lingering list (some perhaps handed on since).
    #[cfg(test)]
    pub(crate) fn lingering(&self) -> usize {
        self.inner.lingering.len()
    }

    fn with_sink(
        settings: &RecordSettings,
        service_name: String,
        key: RedactionKey,
        sink: Sink,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service_name,
                sample_rate: settings.sample_rate,
                max_body_bytes: settings.max_body_bytes,
                redactor: Redactor::new(settings.redact.clone(), key),
                dropped_by_rules: AtomicU64::new(0),
                late_calls_dropped: AtomicU64::new(0),
                lingering: Lingering::new(LINGER),
                budget: BodyBudget::new(settings.max_held_bytes),
                sink,
            }),
        }
    }

    /// Bytes of bodies held now, against the budget.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> u64 {
        self.inner.budget.held()
    }

    /// A share of the body budget for one exchange's bodies.
    pub(crate) fn held(&self) -> Arc<Held> {
        Held::new(&self.inner.budget)
    }

    /// Bodies cut short (kept in part, marked truncated) because the
    /// bodies already held for recordings took all of
    /// [`RecordSettings::max_held_bytes`].
    pub fn cut_by_budget(&self) -> u64 {
        self.inner.budget.cut()
    }

    /// How many recordings a drop rule ([`RedactAction::Drop`](super::RedactAction::Drop))
    /// removed whole, never written.
    pub fn dropped_by_rules(&self) -> u64 {
        self.inner.dropped_by_rules.load(Ordering::Relaxed)
    }

    /// Decides whether one inbound request is recorded, with the
    /// probability `settings.sample_rate`: never at 0 (or below, or NaN),
    /// always at 1 (or above), otherwise at random. The decision applies to
    /// the request and to every outbound call made while serving it.
    ///
    /// A request sampled while the writer's queue is full would only be
    /// captured to be dropped: it is not recorded, and counted as dropped
    /// ([`dropped`](Self::dropped)) at once.
    pub fn sample(&self) -> bool {
        let rate = self.inner.sample_rate;
        let sampled = if rate >= 1.0 {
            true
        } else if rate > 0.0 {
            random_fraction() < rate
        } else {
            false
        };
        sampled
            && match &self.inner.sink {
                Sink::Writer(writer) => writer.take_room(),
                #[cfg(test)]
                Sink::Fn(_) => true,
            }
    }

    /// Whether `other` is a clone of this recorder (shares its writer).
    pub(crate) fn same_as(&self, other: &Recorder) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The key this recorder's redactions hash with, for what is
    /// redacted before it reaches an exchange (database values).
    #[cfg(feature = "postgres")]
    pub(crate) fn redaction_key(&self) -> &super::RedactionKey {
        self.inner.redactor.key()
    }

    /// How many bytes of each body are kept.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// The `service.name` the recordings carry.
    pub fn service_name(&self) -> &str {
        &self.inner.service_name
    }

    /// Recordings lost because the queue to the writer was full.
    pub fn dropped(&self) -> u64 {
        match &self.inner.sink {
            Sink::Writer(writer) => writer.dropped(),
            #[cfg(test)]
            Sink::Fn(_) => 0,
        }
    }

    /// Recordings written to disk so far.
    pub fn written(&self) -> u64 {
        match &self.inner.sink {
            Sink::Writer(writer) => writer.written(),
            #[cfg(test)]
            Sink::Fn(_) => 0,
        }
    }

    /// Recordings that could not be written (the first failure is
    /// reported as a warning, the others only counted).
    pub fn failed(&self) -> u64 {
        match &self.inner.sink {
            Sink::Writer(writer) => writer.failed(),
            #[cfg(test)]
            Sink::Fn(_) => 0,
        }
    }

    /// Files of recordings removed from the directory, oldest first, to
    /// keep it under [`RecordSettings::max_dir_bytes`]: whole segments, or
    /// files of the one-file-per-recording layout that earlier versions
    /// wrote.
    pub fn evicted(&self) -> u64 {
        match &self.inner.sink {
            Sink::Writer(writer) => writer.evicted(),
            #[cfg(test)]
            Sink::Fn(_) => 0,
        }
    }

    /// Recordings also posted to the collector named by
    /// [`RecordSettings::otlp_endpoint`] (0 when not forwarding).
    pub fn forwarded(&self) -> u64 {
        match &self.inner.sink {
            Sink::Writer(writer) => writer.forwarded(),
            #[cfg(test)]
            Sink::Fn(_) => 0,
        }
    }

    /// Outbound calls left out of their request's recording because it
    /// had been handed on before they started: made in a context that
    /// outlived the request by more than [`LINGER`], or after a
    /// [`flush`](Self::flush) (the first is reported as a warning).
    pub fn late_calls_dropped(&self) -> u64 {
        self.inner.late_calls_dropped.load(Ordering::Relaxed)
    }

    /// Hands on the recordings that linger (every exchange finished, but
    /// a context that outlived its request still holds them; see
    /// [`LINGER`]), then waits, for at most `timeout`, until every
    /// recording handed on before the call is written (or has failed) and,
    /// when recordings are forwarded
    /// ([`RecordSettings::otlp_endpoint`]), posted to the collector (or
    /// failed).
    ///
    /// A lingering recording with a call still in flight is handed on as
    /// soon as that call ends.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushRecorderError> {
        self.inner.lingering.sweep(Instant::now(), true);
        match &self.inner.sink {
            Sink::Writer(writer) => Ok(writer.flush(timeout)?),
            #[cfg(test)]
            Sink::Fn(_) => Ok(()),
        }
    }

    /// Opens the recording of one trace. Returns the handle to keep in the
    /// request's context, from which outbound calls take their parts, and
    /// the first part, for the server's own exchange.
    pub(crate) fn begin(&self, trace_id: TraceId, background: bool) -> (TraceRecording, Part) {
        // Recordings that lingered long enough go first; one atomic load
        // when none lingers.
        self.inner.lingering.sweep_if_any();
        let assembly = Arc::new(Assembly {
            recorder: self.clone(),
            trace_id,
            background,
            state: Mutex::new(State {
                open_parts: 1,
                handle_held: true,
                lingering: false,
                due: false,
                // The server's own exchange and, typically, a few calls.
                exchanges: Vec::with_capacity(4),
                held: Vec::new(),
                delivered: false,
            }),
        });
        let part = Part {
            assembly: Some(Arc::clone(&assembly)),
        };
        let handle = Handle { assembly };
        (
            TraceRecording {
                handle: Holder::Awake(Arc::new(handle)),
            },
            part,
        )
    }

    /// Records one outbound call made outside any inbound request (at
    /// start-up, by a background job) as a recording of its own, marked
    /// as background.
    pub(crate) fn record_background(&self, trace_id: TraceId, exchange: Exchange) {
        // A service quiet but for its background jobs still hands on the
        // recordings that lingered long enough.
        self.inner.lingering.sweep_if_any();
        self.deliver(Recording {
            trace_id,
            service_name: self.inner.service_name.clone(),
            background: true,
            exchanges: vec![exchange],
        });
    }

    /// Counts a call made too late for its request's recording.
    fn late_call_dropped(&self) {
        if self
            .inner
            .late_calls_dropped
            .fetch_add(1, Ordering::Relaxed)
            == 0
        {
            crate::diag::warn_once(
                LATE_CALL_DROPPED,
                format_args!(
                    "record mode: an outbound call was made in the context of a request whose \
                     recording was already written (the context outlived the request by more \
                     than {LINGER:?}, or the recorder was flushed); such calls are not recorded \
                     and are counted"
                ),
            );
        }
    }

    /// Where every finished recording leaves the recorder: the one place
    /// for anything that must happen before a recording is written.
    /// Secrets are redacted here, so no sink ever sees them.
    fn deliver(&self, recording: Recording) {
        let Some(recording) = self.inner.redactor.apply(recording) else {
            self.inner.dropped_by_rules.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match &self.inner.sink {
            Sink::Writer(writer) => {
                // A full queue is counted by the writer.
                let _ = writer.try_record(recording);
            }
            #[cfg(test)]
            Sink::Fn(sink) => sink(recording),
        }
    }
}

/// The recording of one trace while it is being assembled; see the module
/// docs. Stored in the request's OpenTelemetry context; clones share the
/// recording, and keep it open until the last one is dropped, but for
/// [`asleep`](Self::asleep) ones.
#[derive(Debug, Clone)]
pub(crate) struct TraceRecording {
    handle: Holder,
}

/// How a [`TraceRecording`] holds its recording.
#[derive(Debug, Clone)]
enum Holder {
    /// Open while this is held.
    Awake(Arc<Handle>),
    /// Not held open: reached while another handle holds it.
    Asleep(Weak<Handle>, Recorder),
}

impl TraceRecording {
    /// A handle to the same recording that does not hold it open: what a
    /// database connection keeps of the request that took it, so that the
    /// request's recording is handed on when the request ends, though the
    /// connection stays idle in its pool.
    pub(crate) fn asleep(&self) -> Self {
        let handle = match &self.handle {
            Holder::Awake(handle) => {
                Holder::Asleep(Arc::downgrade(handle), handle.assembly.recorder.clone())
            }
            asleep @ Holder::Asleep(..) => asleep.clone(),
        };
        Self { handle }
    }

    /// A handle that holds the recording open again; `None` when no other
    /// handle held it meanwhile (the request ended, and its recording was
    /// handed on or is about to be).
    pub(crate) fn awake(&self) -> Option<Self> {
        let handle = match &self.handle {
            Holder::Awake(handle) => Arc::clone(handle),
            Holder::Asleep(handle, _) => handle.upgrade()?,
        };
        Some(Self {
            handle: Holder::Awake(handle),
        })
    }

    /// A part for one more exchange of the trace. Inert (its exchange is
    /// not recorded, and counted) when the recording was already handed
    /// on, or this handle is asleep and nothing holds it any more.
    pub(crate) fn part(&self) -> Part {
        let handle = match &self.handle {
            Holder::Awake(handle) => Arc::clone(handle),
            Holder::Asleep(handle, recorder) => match handle.upgrade() {
                Some(handle) => handle,
                None => {
                    recorder.late_call_dropped();
                    return Part { assembly: None };
                }
            },
        };
        let assembly = &handle.assembly;
        let mut state = assembly.lock();
        if state.delivered {
            drop(state);
            assembly.recorder.late_call_dropped();
            return Part { assembly: None };
        }
        state.open_parts += 1;
        Part {
            assembly: Some(Arc::clone(assembly)),
        }
    }

    /// The recorder the recording goes to.
    pub(crate) fn recorder(&self) -> &Recorder {
        match &self.handle {
            Holder::Awake(handle) => &handle.assembly.recorder,
            Holder::Asleep(_, recorder) => recorder,
        }
    }
}

/// What the clones of one [`TraceRecording`] share: dropped with the last
/// of them, it lets the recording be handed on.
#[derive(Debug)]
struct Handle {
    assembly: Arc<Assembly>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.assembly.release_handle();
    }
}

/// One exchange of a [`TraceRecording`] in flight. [`finish`](Self::finish)
/// adds the exchange; dropping the part unfinished adds nothing. Either way
/// the recording is handed on once its last part is gone and no context
/// holds it.
#[derive(Debug)]
pub(crate) struct Part {
    /// `None` once finished, or for an inert part.
    assembly: Option<Arc<Assembly>>,
}

impl Part {
    /// Adds `exchange` to the recording.
    #[cfg(test)]
    pub(crate) fn finish(self, exchange: Exchange) {
        self.finish_holding(exchange, None);
    }

    /// Adds `exchange` to the recording, with the budget its bodies hold
    /// until the recording is handed on.
    pub(crate) fn finish_holding(mut self, exchange: Exchange, held: Option<Arc<Held>>) {
        if let Some(assembly) = self.assembly.take() {
            assembly.close_part(Some((exchange, held)));
        }
    }

    /// A share of the recorder's body budget for one more exchange; `None`
    /// for an inert part.
    pub(crate) fn held(&self) -> Option<Arc<Held>> {
        (self.assembly.as_ref()).map(|assembly| assembly.recorder.held())
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if let Some(assembly) = self.assembly.take() {
            assembly.close_part(None);
        }
    }
}

/// What the parts and handles of one recording share.
#[derive(Debug)]
struct Assembly {
    recorder: Recorder,
    trace_id: TraceId,
    background: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Parts not yet finished or dropped.
    open_parts: usize,
    /// Whether a [`TraceRecording`] (a context) still holds the recording.
    handle_held: bool,
    /// Whether it was put on the lingering list.
    lingering: bool,
    /// Set when it lingered long enough: handed on once no part is open,
    /// handle or not.
    due: bool,
    exchanges: Vec<Exchange>,
    /// The body budget the exchanges hold, given back when handed on.
    held: Vec<Arc<Held>>,
    /// Set when handed on; no part is handed out after.
    delivered: bool,
}

impl State {
    /// Whether the recording is complete now: no part open, and no
    /// context holding it unless it lingered long enough.
    fn complete(&self) -> bool {
        !self.delivered && self.open_parts == 0 && (!self.handle_held || self.due)
    }

    /// Marks the recording handed on and takes its exchanges.
    fn take(&mut self) -> Vec<Exchange> {
        self.delivered = true;
        // The bodies move on to the writer, whose queue bounds them.
        self.held.clear();
        std::mem::take(&mut self.exchanges)
    }
}

impl Assembly {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes one part, adding its exchange if it has one. Hands the
    /// recording on when it is then complete, or puts it on the
    /// lingering list when only a context holds it. The lock makes "last"
    /// true for exactly one caller.
    fn close_part(self: Arc<Self>, exchange: Option<(Exchange, Option<Arc<Held>>)>) {
        let (finished, linger) = {
            let mut state = self.lock();
            if let Some((exchange, held)) = exchange {
                state.exchanges.push(exchange);
                state.held.extend(held);
            }
            state.open_parts = state.open_parts.saturating_sub(1);
            if state.complete() {
                (Some(state.take()), false)
            } else {
                let linger = !state.delivered
                    && state.open_parts == 0
                    && !std::mem::replace(&mut state.lingering, true);
                (None, linger)
            }
        };
        if let Some(exchanges) = finished {
            self.hand_on(exchanges);
        } else if linger {
            self.recorder
                .inner
                .lingering
                .add(Arc::downgrade(&self), Instant::now());
        }
    }

    /// The last handle is gone: hands the recording on if no part is open.
    fn release_handle(&self) {
        let finished = {
            let mut state = self.lock();
            state.handle_held = false;
            state.complete().then(|| state.take())
        };
        if let Some(exchanges) = finished {
            self.hand_on(exchanges);
        }
    }

    /// It lingered long enough: hands it on now if no part is open, else
    /// when the last open one closes.
    fn make_due(&self) {
        let finished = {
            let mut state = self.lock();
            state.due = true;
            state.complete().then(|| state.take())
        };
        if let Some(exchanges) = finished {
            self.hand_on(exchanges);
        }
    }

    /// Hands the exchanges on as the recording, outside the lock; nothing
    /// when every part was dropped unfinished.
    fn hand_on(&self, mut exchanges: Vec<Exchange>) {
        if exchanges.is_empty() {
            return;
        }
        // The server's exchange first, then the calls as they started.
        exchanges.sort_by_key(|exchange| {
            (
                exchange.kind != ExchangeKind::Server,
                exchange.start_unix_nanos,
            )
        });
        self.recorder.deliver(Recording {
            trace_id: self.trace_id,
            service_name: self.recorder.inner.service_name.clone(),
            background: self.background,
            exchanges,
        });
    }
}

thread_local! {
    /// The state of this thread's xorshift64* generator; never zero.
    static RANDOM: Cell<u64> = Cell::new(random_seed());
}

/// A seed that differs between threads and runs: std's per-process random
/// hash keys, the time and the thread id, hashed together.
/// The redaction key beside the recordings in `dir`, made if there is
/// none. When it can be neither read nor made, a key for this process
/// alone (values are still redacted, but do not match across runs), with
/// a warning; if even that fails, a fixed key, so that values are still
/// never written as they were.
fn redaction_key(dir: &std::path::Path) -> RedactionKey {
    let made = crate::store::files::create_dir(dir)
        .map_err(|err| crate::diag::chain(&err))
        .and_then(|()| RedactionKey::load_or_create(dir).map_err(|err| crate::diag::chain(&err)));
    match made {
        Ok(key) => key,
        Err(reason) => {
            crate::diag::warn_once(
                "record.redaction_key",
                format_args!(
                    "record mode: {reason}; redacted values are hashed with a key for this process only and will not match those of other runs"
                ),
            );
            RedactionKey::ephemeral().unwrap_or_else(|_| RedactionKey::fixed())
        }
    }
}

fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
        .hash(&mut hasher);
    std::thread::current().id().hash(&mut hasher);
    hasher.finish() | 1
}

/// A uniform number in `[0, 1)` from this thread's generator. Sampling
/// needs no more than that, and must not take a lock.
fn random_fraction() -> f64 {
    let next = RANDOM
        .try_with(|state| {
            let mut x = state.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            state.set(x);
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
        // Only while the thread's locals are being destroyed.
        .unwrap_or_else(|_| random_seed());
    // The top 53 bits, as many as an f64 holds exactly.
    (next >> 11) as f64 / (1_u64 << 53) as f64
}

/// Put in a request's context when record mode decided not to record it,
/// so that the calls made while answering it are not taken for background
/// calls (made outside any request) and recorded on their own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotSampled;
