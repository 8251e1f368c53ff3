//! The recorded calls one replayed request (or the background of a whole
//! store) may be answered from, which of them each live call took, and
//! which were never taken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use super::no_match::{self, NoMatch};
use super::request::{Fit, NormalRequest};
use super::varying::Varying;
use super::{CallDifference, CallSummary, Level, LiveCall, Similarity};
use crate::http_attrs::interned::FnvBuild;
use crate::record::{Exchange, Recording, RedactRule, RedactionKey, Redactor, ResponseRecord};

/// What every session of one replay shares: the redaction the recordings
/// were written with, applied to each live call before it is compared, so
/// that a secret hashed by the same key compares equal.
///
/// Build one per replay from the recordings' settings
/// ([`RecordSettings::redact`](crate::record::RecordSettings::redact)) and
/// the key beside them ([`RedactionKey::load_or_create`]), then one
/// [`MockSession`] per replayed request and one for the background.
///
/// ```
/// use tracetape::record::{RecordSettings, RedactionKey};
/// use tracetape::replay::matching::Matcher;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let settings = RecordSettings::from_env();
/// # let mut settings = settings;
/// # settings.dir = dir.path().to_owned();
/// let key = RedactionKey::load_or_create(&settings.dir)?;
/// let matcher = Matcher::new(settings.redact.clone(), key);
/// let background = matcher.background_session(&[]);
/// assert!(background.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Matcher {
    redactor: Arc<Redactor>,
    /// (recorded, live) origins of dependencies that moved.
    origins: Arc<Vec<(String, String)>>,
    /// Headers compared, by lower-case name.
    headers: Arc<Vec<String>>,
}

impl Matcher {
    /// A matcher that redacts live calls with the defaults, then `rules`,
    /// hashing with `key`: the rules and key the recordings were made with.
    pub fn new(rules: Vec<RedactRule>, key: RedactionKey) -> Self {
        Self {
            redactor: Arc::new(Redactor::new(rules, key)),
            origins: Arc::default(),
            headers: Arc::default(),
        }
    }

    /// Compares the headers `names` (any case) too, at every level: equal
    /// up to [`Redacted`](Level::Redacted), alike at
    /// [`Dynamic`](Level::Dynamic) (a header on one side only is a
    /// difference). For headers that tell calls apart, such as a tenant
    /// or an API version; by default none is compared.
    ///
    /// ```
    /// use tracetape::record::RedactionKey;
    /// use tracetape::replay::matching::Matcher;
    ///
    /// let matcher = Matcher::new(Vec::new(), RedactionKey::ephemeral()?)
    ///     .with_headers(["X-Tenant"]);
    /// # Ok::<(), tracetape::record::RedactionKeyError>(())
    /// ```
    pub fn with_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.headers = Arc::new(
            names
                .into_iter()
                .map(|name| name.as_ref().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// Takes calls to each live origin as calls to its recorded one: a
    /// dependency recorded at `http://127.0.0.1:8082` that answers at
    /// `http://pricing:9000` in this environment. Origins as
    /// [`normal_origin`](super::normal_origin) writes them.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use tracetape::opentelemetry::trace::{SpanId, TraceId};
    /// # use tracetape::record::{BodyRecord, Exchange, ExchangeKind, RequestRecord, ResponseRecord};
    /// use tracetape::record::{RedactionKey, Recording};
    /// use tracetape::replay::matching::{Level, LiveCall, Matcher};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let recording = Recording {
    /// #     trace_id: TraceId::from(7), service_name: "checkout".into(), background: false,
    /// #     exchanges: vec![Exchange {
    /// #         kind: ExchangeKind::Client, span_id: SpanId::from(2), parent_span_id: SpanId::from(1),
    /// #         name: "GET".into(), route: None, start_unix_nanos: 1, end_unix_nanos: 2,
    /// #         request: RequestRecord { method: "GET".into(), url: "http://127.0.0.1:8082/price".into(), headers: vec![], body: BodyRecord::default() },
    /// #         response: Some(ResponseRecord { status: 200, headers: vec![], body: BodyRecord::default(), trailers: Vec::new() }),
    /// #         error: None,
    /// #     }],
    /// # };
    /// let matcher = Matcher::new(Vec::new(), RedactionKey::ephemeral()?).with_origins(vec![(
    ///     "http://127.0.0.1:8082".to_owned(),
    ///     "http://pricing:9000".to_owned(),
    /// )]);
    /// let answer = matcher.session(&recording).answer(&LiveCall::new("GET", "http://pricing:9000/price"))?;
    /// assert_eq!(answer.matched.level, Level::Exact);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_origins(mut self, origins: Vec<(String, String)>) -> Self {
        self.origins = Arc::new(origins);
        self
    }

    /// The session for replaying `recording`'s inbound request: its
    /// outbound calls and database operations
    /// ([`Recording::calls`]), in recorded order.
    pub fn session(&self, recording: &Recording) -> MockSession {
        let scope = match recording.inbound() {
            Some(inbound) => format!(
                "the recording of {} (trace {})",
                inbound.name, recording.trace_id
            ),
            None => format!("recording {}", recording.trace_id),
        };
        self.session_over(scope, recording.calls().cloned().collect())
    }

    /// The session for calls made outside any replayed request (at
    /// start-up, by background jobs): the outbound calls of every
    /// background recording among `recordings`, in the order they started
    /// (calls that started together in the order given). Pass the
    /// recordings of the service being replayed: a directory shared by
    /// several services holds theirs too.
    pub fn background_session<'a>(
        &self,
        recordings: impl IntoIterator<Item = &'a Recording>,
    ) -> MockSession {
        let mut exchanges: Vec<Exchange> = recordings
            .into_iter()
            .filter(|recording| recording.background)
            .flat_map(|recording| recording.calls().cloned())
            .collect();
        exchanges.sort_by_key(|exchange| exchange.start_unix_nanos);
        let scope = "the background recordings".to_owned();
        let mut session = self.session_over(scope, exchanges);
        session.varying = Varying::among(session.mocks.iter().map(|mock| &mock.request));
        session.background = true;
        session
    }

    /// A session over `exchanges`, the calls of [`Recording::calls`].
    fn session_over(&self, scope: String, exchanges: Vec<Exchange>) -> MockSession {
        let mocks: Vec<Mock> = exchanges
            .into_iter()
            .map(|exchange| Mock {
                request: NormalRequest::recorded(&exchange.request, &self.headers),
                call: CallSummary::of(&exchange.request),
                exchange,
            })
            .collect();
        MockSession {
            redactor: Arc::clone(&self.redactor),
            origins: Arc::clone(&self.origins),
            headers: Arc::clone(&self.headers),
            scope,
            exact: Exact::of(&mocks),
            varying: Varying::default(),
            background: false,
            state: Mutex::new(State {
                uses: vec![0; mocks.len()],
                log: Vec::new(),
                log_bytes: 0,
                omitted: Omitted::default(),
            }),
            mocks,
        }
    }
}

/// The recorded calls that answer the live calls of one replayed request
/// (or, from [`Matcher::background_session`], the calls made outside any).
///
/// Each [`answer`](Self::answer) compares the live call, redacted as
/// recordings are, with every recorded call, level by level ([`Level`]);
/// the first level with a match decides. Of the calls that match there,
/// the most alike not yet used answers (recorded order among equals);
/// once all have been used, the same call is answered again by the last
/// of the most alike when the recording made it more than once (a polled
/// status settles on its last recorded state) or in the background
/// session, but an extra call to something recorded once, and a
/// [`Similar`](Level::Similar) one, are not. Every call is
/// logged, answered or not.
///
/// Calls of one request may run concurrently: the session is `Send +
/// Sync`, and choosing a recorded call and marking it used is one step,
/// so no recorded call is handed out twice while another is unused.
///
/// ```
/// # use bytes::Bytes;
/// # use tracetape::opentelemetry::trace::{SpanId, TraceId};
/// # use tracetape::record::{BodyRecord, Exchange, ExchangeKind, RequestRecord, ResponseRecord};
/// use tracetape::record::{RedactionKey, Recording};
/// use tracetape::replay::matching::{Level, LiveCall, Matcher, Outcome};
///
/// # fn call(url: &str, answer: &'static [u8]) -> Exchange {
/// #     Exchange {
/// #         kind: ExchangeKind::Client, span_id: SpanId::from(2), parent_span_id: SpanId::from(1),
/// #         name: "GET".into(), route: None, start_unix_nanos: 1, end_unix_nanos: 2,
/// #         request: RequestRecord { method: "GET".into(), url: url.into(), headers: vec![], body: BodyRecord::default() },
/// #         response: Some(ResponseRecord { status: 200, headers: vec![], body: BodyRecord { bytes: Bytes::from_static(answer), truncated: false, size: answer.len() as u64 }, trailers: Vec::new() }),
/// #         error: None,
/// #     }
/// # }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A recording whose request polled a status twice.
/// let recording = Recording {
///     trace_id: TraceId::from(7),
///     service_name: "checkout".into(),
///     background: false,
///     exchanges: vec![
///         call("http://jobs/status?id=1&v=2", b"pending"),
///         call("http://jobs/status?id=1&v=2", b"done"),
///     ],
/// };
/// let session = Matcher::new(Vec::new(), RedactionKey::ephemeral()?).session(&recording);
///
/// let live = LiveCall::new("GET", "http://JOBS:80/status?v=2&id=1");
/// let bodies: Vec<Bytes> = (0..3)
///     .map(|_| match session.answer(&live)?.outcome {
///         Outcome::Response(response) => Ok(response.body.bytes),
///         other => Err(format!("{other:?}").into()),
///     })
///     .collect::<Result<_, Box<dyn std::error::Error>>>()?;
/// assert_eq!(bodies, ["pending", "done", "done"]);
///
/// let log = session.log();
/// assert_eq!(log[2].matched.map(|m| (m.index, m.level, m.reused)), Some((1, Level::Exact, true)));
/// assert!(session.unused().is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MockSession {
    redactor: Arc<Redactor>,
    origins: Arc<Vec<(String, String)>>,
    headers: Arc<Vec<String>>,
    scope: String,
    mocks: Vec<Mock>,
    /// The recorded calls by [`NormalRequest::exact_key`], each list in
    /// recorded order, and those without a key: where a live call with a
    /// key may match exactly.
    exact: Exact,
    /// In the background session: what varies among the recorded calls to
    /// one endpoint (a periodic job's counter), which live calls may vary
    /// in too.
    varying: Varying,
    /// The background session, whose calls may be made more often than
    /// recorded.
    background: bool,
    state: Mutex<State>,
}

/// Where to look for the recorded calls a live one matches exactly.
#[derive(Debug, Default)]
struct Exact {
    by_key: HashMap<u64, Vec<usize>, FnvBuild>,
    unkeyed: Vec<usize>,
}

impl Exact {
    fn of(mocks: &[Mock]) -> Self {
        let mut exact = Self::default();
        for (index, mock) in mocks.iter().enumerate() {
            match mock.request.exact_key() {
                Some(key) => exact.by_key.entry(key).or_default().push(index),
                None => exact.unkeyed.push(index),
            }
        }
        exact
    }

    /// The recorded calls that may match `live` exactly, in recorded
    /// order; `None` for a live call without a key, which any may match.
    fn may_match(&self, live: &NormalRequest) -> Option<Vec<usize>> {
        let key = live.exact_key()?;
        let keyed = self.by_key.get(&key).map_or(&[][..], Vec::as_slice);
        let mut indices: Vec<usize> = keyed.iter().chain(&self.unkeyed).copied().collect();
        indices.sort_unstable();
        Some(indices)
    }
}

/// One recorded call, and its request in the form compared.
#[derive(Debug)]
struct Mock {
    exchange: Exchange,
    request: NormalRequest,
    call: CallSummary,
}

/// Live calls a session's log keeps; later ones are only counted, so that
/// a long-lived session (the background one of a service left running in
/// replay mode) stays small, and so does the replay log header.
pub const LOG_ENTRIES: usize = 1_000;

/// Bytes of method and URL a session's log keeps, at most; later calls are
/// only counted.
pub const LOG_BYTES: usize = 64 * 1024;

/// What changes as calls are answered.
#[derive(Debug)]
struct State {
    /// How often each recorded call has answered.
    uses: Vec<u32>,
    log: Vec<LogEntry>,
    /// Method and URL bytes in `log`.
    log_bytes: usize,
    /// Calls past the log's limits.
    omitted: Omitted,
}

impl State {
    /// Logs `entry`, or counts it when the log is full.
    fn record(&mut self, entry: LogEntry) {
        let bytes = entry.call.method.len() + entry.call.url.len();
        if self.log.len() < LOG_ENTRIES && self.log_bytes + bytes <= LOG_BYTES {
            self.log_bytes += bytes;
            self.log.push(entry);
        } else {
            self.omitted.calls += 1;
            if entry.matched.is_none() {
                self.omitted.unmatched += 1;
            }
        }
    }
}

/// The live calls of a session its log left out (past [`LOG_ENTRIES`] or
/// [`LOG_BYTES`]): counted, not described.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Omitted {
    /// Calls left out.
    pub calls: usize,
    /// Of those, calls no recorded call answered.
    pub unmatched: usize,
}

/// The recorded call that answered a live call, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Matched {
    /// Its position among the session's recorded calls
    /// ([`MockSession::recorded`]).
    pub index: usize,
    /// How closely it matched.
    pub level: Level,
    /// It had answered before: every call that matched as well had been
    /// used.
    pub reused: bool,
    /// At [`Level::Similar`], how alike the calls are.
    pub similarity: Option<Similarity>,
}

/// What a live call gets back: which recorded call answered and what it
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer {
    /// The recorded call, and how it matched.
    pub matched: Matched,
    /// At [`Level::Similar`], how the live call differs from it.
    pub differences: Vec<CallDifference>,
    /// What the recorded call got.
    pub outcome: Outcome,
}

/// What a recorded call got, to be given to the live call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A response: status, headers and body, as recorded (the body still
    /// encoded as its headers say).
    Response(ResponseRecord),
    /// No response: the call failed (`connection refused`), which the
    /// live call should fail with too.
    Failed(String),
    /// No response and no error: the caller gave up on the call before
    /// an answer came.
    Abandoned,
}

/// One live call of a session, in the order answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LogEntry {
    /// The live call, redacted as recordings are.
    pub call: CallSummary,
    /// The recorded call that answered it; `None` when none matched.
    pub matched: Option<Matched>,
    /// At [`Level::Similar`], how it differs from the recorded call (the
    /// first [`MAX_DIFFERENCES`](super::MAX_DIFFERENCES)).
    pub differences: Vec<CallDifference>,
}

/// A recorded call no live call used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UnusedMock {
    /// Its position among the session's recorded calls.
    pub index: usize,
    /// The recorded call.
    pub call: CallSummary,
}

impl MockSession {
    /// Answers `call` from the recorded calls, or says why none matches.
    /// Never blocks for longer than another call's choice takes.
    pub fn answer(&self, call: &LiveCall) -> Result<Answer, NoMatch> {
        let (request, kept) = call.redacted(&self.redactor);
        let mut live = NormalRequest::live(&request, &self.headers);
        if let Some((recorded, _)) = self
            .origins
            .iter()
            .find(|(_, moved)| *moved == live.url.origin)
        {
            live.url.origin.clone_from(recorded);
        }
        let summary = CallSummary::of(&request);
        let mut candidates = self.candidates(&live);
        let mut state = self.lock();
        let chosen = self.choose(&candidates, &state.uses);
        let Some((at, reused)) = chosen else {
            state.record(LogEntry {
                call: summary.clone(),
                matched: None,
                differences: Vec::new(),
            });
            drop(state);
            return Err(self.no_match(&live, summary, !kept, candidates.len()));
        };
        let (index, fit) = candidates.swap_remove(at);
        if let Some(uses) = state.uses.get_mut(index) {
            *uses = uses.saturating_add(1);
        }
        let matched = Matched {
            index,
            level: fit.level,
            reused,
            similarity: (fit.level == Level::Similar).then_some(fit.similarity),
        };
        state.record(LogEntry {
            call: summary,
            matched: Some(matched),
            differences: fit.differences.clone(),
        });
        drop(state);
        let outcome = self
            .mocks
            .get(index)
            .map_or(Outcome::Abandoned, |mock| outcome(&mock.exchange));
        Ok(Answer {
            matched,
            differences: fit.differences,
            outcome,
        })
    }

    /// The recorded calls that match `live` at the first level any does,
    /// most alike first (recorded order among equals).
    fn candidates(&self, live: &NormalRequest) -> Vec<(usize, Fit)> {
        // When some recorded call matches exactly, only those can be
        // chosen: found cheaply before working out how alike every other
        // is, which a long session (the background one) makes slow. Only
        // the calls that share the live one's key can (or that have none).
        let exact = |(index, mock): (usize, &Mock)| {
            let fit = mock.request.exactly(live).then(|| mock.request.fit(live));
            fit.flatten().map(|fit| (index, fit))
        };
        let mut candidates: Vec<(usize, Fit)> = match self.exact.may_match(live) {
            Some(indices) => (indices.into_iter())
                .filter_map(|index| Some((index, self.mocks.get(index)?)))
                .filter_map(exact)
                .collect(),
            None => self.mocks.iter().enumerate().filter_map(exact).collect(),
        };
        if !candidates.is_empty() {
            candidates.sort_by_key(|(_, fit)| std::cmp::Reverse(fit.similarity));
            return candidates;
        }
        let mut candidates: Vec<(usize, Fit)> = self
            .mocks
            .iter()
            .enumerate()
            .filter_map(|(index, mock)| mock.request.fit(live).map(|fit| (index, fit)))
            .collect();
        for (index, fit) in &mut candidates {
            let recorded = self.mocks.get(*index).map(|mock| &mock.request);
            if fit.level == Level::Similar
                && recorded.is_some_and(|recorded| self.varying.covers(recorded, &fit.differences))
            {
                // Only in what the recording itself varies in: the same
                // call, as a periodic job makes it again.
                fit.level = Level::Dynamic;
                fit.differences.clear();
            }
        }
        if let Some(best) = candidates.iter().map(|(_, fit)| fit.level).min() {
            candidates.retain(|(_, fit)| fit.level == best);
        }
        // A stable sort keeps recorded order among equals.
        candidates.sort_by_key(|(_, fit)| std::cmp::Reverse(fit.similarity));
        candidates
    }

    /// Which of `candidates` answers, given how often each recorded call
    /// has (`uses`), and whether it answered before: the first unused;
    /// else the same call again, only where the recording shows it made
    /// more than once (a poll, a retry) or made by background work, which
    /// runs as long as the replay: the last of the most alike. `None`: a
    /// call made more often than recorded.
    fn choose(&self, candidates: &[(usize, Fit)], uses: &[u32]) -> Option<(usize, bool)> {
        if let Some(at) = candidates
            .iter()
            .position(|(index, _)| uses.get(*index) == Some(&0))
        {
            return Some((at, false));
        }
        if !self.background && candidates.len() < 2 {
            return None;
        }
        let top = candidates.first().map(|(_, fit)| fit.similarity)?;
        candidates
            .iter()
            .rposition(|(_, fit)| fit.level.is_same_call() && fit.similarity == top)
            .map(|at| (at, true))
    }

    /// The live calls so far, in the order answered, with the recorded
    /// call that answered each: the first [`LOG_ENTRIES`] (within
    /// [`LOG_BYTES`]); the others are counted in [`omitted`](Self::omitted).
    pub fn log(&self) -> Vec<LogEntry> {
        self.lock().log.clone()
    }

    /// How many live calls the session has had, logged or only counted.
    pub fn calls(&self) -> usize {
        let state = self.lock();
        state.log.len() + state.omitted.calls
    }

    /// The live calls [`log`](Self::log) left out.
    pub fn omitted(&self) -> Omitted {
        self.lock().omitted
    }

    /// The recorded calls no live call has used, in recorded order.
    pub fn unused(&self) -> Vec<UnusedMock> {
        let state = self.lock();
        self.mocks
            .iter()
            .zip(&state.uses)
            .enumerate()
            .filter(|(_, (_, uses))| **uses == 0)
            .map(|(index, (mock, _))| UnusedMock {
                index,
                call: mock.call.clone(),
            })
            .collect()
    }

    /// Of [`unused`](Self::unused), the calls to an endpoint (method,
    /// origin and path) the session's recordings call only once: in the
    /// background session, a start-up call the new build no longer makes,
    /// where an unused call of a periodic job only means the replay ran
    /// shorter than the recording.
    pub fn unused_once(&self) -> Vec<UnusedMock> {
        let mut calls_to: std::collections::HashMap<(&str, &str, &str), usize> =
            std::collections::HashMap::new();
        for mock in &self.mocks {
            let request = &mock.request;
            *calls_to
                .entry((&request.method, &request.url.origin, &request.url.path))
                .or_default() += 1;
        }
        self.unused()
            .into_iter()
            .filter(|unused| {
                self.mocks.get(unused.index).is_some_and(|mock| {
                    let request = &mock.request;
                    calls_to
                        .get(&(
                            request.method.as_str(),
                            request.url.origin.as_str(),
                            request.url.path.as_str(),
                        ))
                        .is_some_and(|&calls| calls == 1)
                })
            })
            .collect()
    }

    /// The key redactions hash with.
    #[cfg(feature = "postgres")]
    pub(crate) fn redaction_key(&self) -> &crate::record::RedactionKey {
        self.redactor.key()
    }

    /// The recorded call at `index`, as recorded.
    pub fn recorded(&self, index: usize) -> Option<&Exchange> {
        self.mocks.get(index).map(|mock| &mock.exchange)
    }

    /// How many recorded calls the session holds.
    pub fn len(&self) -> usize {
        self.mocks.len()
    }

    /// Whether the session holds no recorded calls.
    pub fn is_empty(&self) -> bool {
        self.mocks.is_empty()
    }

    /// The recorded calls looked in, as [`NoMatch::scope`] names them.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn no_match(
        &self,
        live: &NormalRequest,
        call: CallSummary,
        dropped_by_rule: bool,
        used_up: usize,
    ) -> NoMatch {
        NoMatch {
            call,
            scope: self.scope.clone(),
            recorded: self.mocks.len(),
            closest: no_match::closest(
                live,
                self.mocks.iter().map(|mock| (&mock.request, &mock.call)),
            ),
            dropped_by_rule,
            used_up,
        }
    }

    /// The state, also after a thread panicked holding it: every update
    /// is a single push or increment, so it is never half done.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `exchange` got.
fn outcome(exchange: &Exchange) -> Outcome {
    match (&exchange.response, &exchange.error) {
        (Some(response), _) => Outcome::Response(response.clone()),
        (None, Some(error)) => Outcome::Failed(error.clone()),
        (None, None) => Outcome::Abandoned,
    }
}
