//! One replayed request's share of the replay: the session its outbound
//! calls are answered from, kept in the request's OpenTelemetry context
//! by the server layer and read there by the client layers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use opentelemetry::Context;

use super::matching::{LiveCall, MockSession, NoMatch, Outcome};
use super::polls::TaskPolls;
use super::turns::Seat;
use super::{Late, PollTimes, ReplayLog, ReplayedBody, Replayer};
use crate::record::{HeaderRecord, ResponseRecord};

/// Why a replayed call got no recorded response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// No recorded call matches.
    #[error(transparent)]
    NoMatch(#[from] Box<NoMatch>),
    /// The replayed request names a recording the store does not have.
    #[error(
        "the replayed request names recording {id}, which is not among the recordings in {}; replay from the store the service was started with",
        dir.display()
    )]
    UnknownRecording {
        /// The name the request carried.
        id: String,
        /// Where the recordings were loaded from.
        dir: PathBuf,
    },
    /// The recorded call failed, so the replayed one does too.
    #[error("the recorded call failed: {message}")]
    RecordedFailure {
        /// The recorded error.
        message: String,
    },
    /// Replay mode has ended (the service's telemetry was shut down) while
    /// the service still makes calls: they are refused, never sent.
    #[error(
        "replay mode has ended (the service's telemetry was shut down), so this call is refused rather than sent to the network"
    )]
    Ended,
    /// The recorded call was given up before it was answered.
    #[error("the recorded call was given up before an answer came, so there is nothing to replay")]
    Abandoned,
    /// Replay mode was asked for (`TRACETAPE_MODE=replay`) and could not
    /// start: the call is refused rather than sent to the network.
    #[error(
        "replay mode could not start ({reason}), so this call is refused rather than sent to the network"
    )]
    NotStarted {
        /// Why it could not start (the configuration file, the recordings).
        reason: String,
    },
}

/// The replay of one request, in its context: which recording, and the
/// session answering its calls.
#[derive(Debug, Clone)]
pub(crate) struct ReplayScope {
    inner: Arc<ScopeInner>,
}

#[derive(Debug)]
struct ScopeInner {
    /// The recording's name as the request carried it (`background` for
    /// calls outside any replayed request).
    id: String,
    /// The session, or the directory that lacked the recording.
    session: Result<Arc<MockSession>, PathBuf>,
    /// When the recorded inbound request started, in nanoseconds since
    /// the Unix epoch (what the replay clock is set to).
    recorded_start: Option<u64>,
    /// Where the calls made after the response are reported, when the
    /// scope outlives it.
    late: Option<Arc<Late>>,
    /// The calls the response's log told of; [`NOT_SENT`] before then.
    reported: AtomicUsize,
    /// Its place among the requests replayed together with it, whose
    /// steps take turns (`turns.rs`).
    seat: Option<Seat>,
    /// Why replay mode could not start, when it could not: every call is
    /// refused.
    refused: Option<Arc<str>>,
    /// When and where work carrying its context ran on other threads,
    /// when the replay detects connections bypassing tracetape
    /// (`polls.rs`).
    tasks: Option<Arc<TaskPolls>>,
    /// Set on an [`asleep`](ReplayScope::asleep) scope, which stands for
    /// this one without holding it.
    asleep: Option<Weak<ScopeInner>>,
}

/// The name of the scope that answers calls once replay mode has ended.
const ENDED: &str = "(replay ended)";
/// The name of the scope that answers calls when replay mode could not
/// start.
const REFUSED: &str = "(replay not started)";

/// [`ScopeInner::reported`] before the response's log was made.
const NOT_SENT: usize = usize::MAX;

/// What a request carrying the replay header asks for.
#[derive(Debug)]
pub(crate) enum Begun {
    /// The replay of a recording.
    Replay(ReplayScope),
    /// The replay's status ([`REPLAY_STATUS`](super::REPLAY_STATUS)):
    /// the header's value.
    Status(HeaderValue),
}

impl ReplayScope {
    pub(crate) fn new(id: String, session: Result<Arc<MockSession>, PathBuf>) -> Self {
        Self::reporting(id, session, None, None)
    }

    /// The scope of a replayed request whose recording started at
    /// `recorded_start` (nanoseconds since the Unix epoch), reporting the
    /// calls it makes after its response to `late`.
    pub(crate) fn reporting(
        id: String,
        session: Result<Arc<MockSession>, PathBuf>,
        recorded_start: Option<u64>,
        late: Option<Arc<Late>>,
    ) -> Self {
        Self {
            inner: Arc::new(ScopeInner {
                id,
                session,
                recorded_start,
                late,
                reported: AtomicUsize::new(NOT_SENT),
                seat: None,
                refused: None,
                tasks: TaskPolls::when_detecting().map(Arc::new),
                asleep: None,
            }),
        }
    }

    /// A scope that stands for this one without holding it: what a
    /// database connection keeps of the request that took it, so that the
    /// request's work is done when the request ends, though the
    /// connection stays idle in its pool. Only [`current`](Self::current)
    /// reads it: its own session is none.
    pub(crate) fn asleep(&self) -> Self {
        if self.inner.asleep.is_some() {
            return self.clone();
        }
        Self {
            inner: Arc::new(ScopeInner {
                id: String::new(),
                session: Err(PathBuf::new()),
                recorded_start: None,
                late: None,
                reported: AtomicUsize::new(NOT_SENT),
                seat: None,
                refused: None,
                tasks: None,
                asleep: Some(Arc::downgrade(&self.inner)),
            }),
        }
    }

    /// The scope itself again, holding it; `None` when nothing else held
    /// it meanwhile (the request ended).
    pub(crate) fn awake(&self) -> Option<Self> {
        match &self.inner.asleep {
            None => Some(self.clone()),
            Some(scope) => scope.upgrade().map(|inner| Self { inner }),
        }
    }

    /// The scope with its place among the requests replayed together with
    /// it (made before anyone else holds it).
    pub(crate) fn seated(mut self, seat: Option<Seat>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.seat = seat;
        }
        self
    }

    /// Its place among the requests replayed together with it.
    pub(crate) fn seat(&self) -> Option<&Seat> {
        self.inner.seat.as_ref()
    }

    /// Where the runs of work carrying its context on other threads are
    /// noted, when they are.
    pub(crate) fn task_polls(&self) -> Option<&Arc<TaskPolls>> {
        self.inner.tasks.as_ref()
    }

    /// When the replayed request's recording started, in nanoseconds since
    /// the Unix epoch; `None` for the background scope, a recording not
    /// in the store, or one without its inbound request.
    pub(crate) fn recorded_start(&self) -> Option<u64> {
        self.inner.recorded_start
    }

    /// The scope that answers calls made in `cx`: the replayed request's,
    /// else (when replay mode is on: `replayer`, or the process-wide one)
    /// the background one.
    pub(crate) fn current(cx: &Context, replayer: Option<&Replayer>) -> Option<Self> {
        // An asleep scope whose request ended stands for nothing: what
        // comes after is the background's.
        if let Some(scope) = cx.get::<Self>().and_then(Self::awake) {
            return Some(scope);
        }
        let Some(replayer) = replayer.cloned().or_else(super::global) else {
            if let Some(why) = super::global::refused() {
                let mut scope = Self::new(REFUSED.to_owned(), Err(PathBuf::new()));
                if let Some(inner) = Arc::get_mut(&mut scope.inner) {
                    inner.refused = Some(why);
                }
                return Some(scope);
            }
            return super::global::ended()
                .then(|| Self::new(ENDED.to_owned(), Err(PathBuf::new())));
        };
        Some(Self::new(
            "background".to_owned(),
            Ok(replayer.background()),
        ))
    }

    /// The session that answers, when there is one (not for a recording
    /// the store lacks, nor once replay has ended or was refused).
    #[cfg(feature = "postgres")]
    pub(crate) fn session(&self) -> Option<&Arc<MockSession>> {
        self.inner.session.as_ref().ok()
    }

    /// The key the recordings' redactions hashed with: live calls are
    /// redacted with it before they are compared.
    #[cfg(feature = "postgres")]
    pub(crate) fn redaction_key(&self) -> crate::record::RedactionKey {
        match self.session() {
            Some(session) => session.redaction_key().clone(),
            None => crate::record::RedactionKey::fixed(),
        }
    }

    /// The recorded response that answers `call`, once its turn has come
    /// when the request takes turns with others.
    pub(crate) async fn answer(&self, call: &LiveCall) -> Result<ResponseRecord, ReplayError> {
        if let Some(why) = &self.inner.refused {
            return Err(ReplayError::NotStarted {
                reason: why.to_string(),
            });
        }
        let session = match &self.inner.session {
            Ok(session) => session,
            Err(_) if self.inner.id == ENDED => return Err(ReplayError::Ended),
            Err(dir) => {
                return Err(ReplayError::UnknownRecording {
                    id: self.inner.id.clone(),
                    dir: dir.clone(),
                });
            }
        };
        let answer = session.answer(call).map_err(Box::new)?;
        if let (Some(seat), false) = (&self.inner.seat, answer.matched.reused) {
            seat.answer(answer.matched.index).await;
        }
        match answer.outcome {
            Outcome::Response(response) => Ok(response),
            Outcome::Failed(message) => Err(ReplayError::RecordedFailure { message }),
            Outcome::Abandoned => Err(ReplayError::Abandoned),
        }
    }

    /// What became of the request's calls so far, as the JSON value of the
    /// replay log header: the recording, each call with the recorded call
    /// that answered it and how, the recorded calls left unused, and the
    /// poll times of the handler and of the work carrying its context to
    /// other threads, when they were noted.
    pub(crate) fn log_header(&self, polls: Option<&PollTimes>) -> Option<HeaderValue> {
        let session = self.inner.session.as_ref().ok().map(|session| &**session);
        let polls = match &self.inner.tasks {
            Some(tasks) => tasks.with_handler(polls),
            None => polls.cloned(),
        };
        let log = ReplayLog::of(&self.inner.id, session, polls.as_ref());
        let calls = session.map_or(0, MockSession::calls);
        let first = self
            .inner
            .reported
            .swap(calls, Ordering::Relaxed)
            .eq(&NOT_SENT);
        if let (true, Some(late)) = (first, &self.inner.late) {
            late.opened();
        }
        serde_json::to_string(&log)
            .ok()
            .and_then(|json| HeaderValue::try_from(json).ok())
    }
}

impl Drop for ScopeInner {
    /// The last holder of the scope is gone: the response's log has told
    /// of every call but those made after it, which go to the replay's
    /// [`Late`] report.
    fn drop(&mut self) {
        let reported = *self.reported.get_mut();
        let (Some(late), false) = (&self.late, reported == NOT_SENT) else {
            return;
        };
        let session = self.session.as_ref().ok().map(|session| &**session);
        let made_more = session.is_some_and(|session| session.calls() > reported);
        late.closed(made_more.then(|| ReplayLog::of(&self.id, session, None)));
    }
}

/// The status, headers and body a recorded response is served with. The
/// body is served as recorded (still encoded as its headers say), then
/// its trailers (a gRPC call's status); its length is the body's own, so
/// recorded `content-length` and `transfer-encoding` headers are left
/// out, and so are headers that cannot be sent again.
pub(crate) fn response_parts(record: &ResponseRecord) -> (StatusCode, HeaderMap, ReplayedBody) {
    let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = header_map(&record.headers);
    let body =
        ReplayedBody::new(record.body.bytes.clone()).with_trailers(header_map(&record.trailers));
    (status, headers, body)
}

/// Recorded headers as sent again, but for the framing ones.
fn header_map(records: &[HeaderRecord]) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(records.len());
    for header in records {
        if header.name == "content-length" || header.name == "transfer-encoding" {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(&header.value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}
