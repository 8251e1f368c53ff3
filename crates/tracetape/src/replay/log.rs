//! [`ReplayLog`]: what the service tells the replayer about one replayed
//! request's outbound calls, in the `x-tracetape-replay-log` response
//! header.

use serde::{Deserialize, Serialize};

use super::PollTimes;
use super::matching::{CallDifference, Level, MockSession};

/// How the outbound calls of one replayed request were answered, as the
/// server layer reports it in [`REPLAY_LOG_HEADER`](super::REPLAY_LOG_HEADER)
/// (compact JSON).
///
/// ```
/// use tracetape::replay::ReplayLog;
///
/// let log = ReplayLog::from_json(br#"{"recording":"r","found":true,
///     "calls":[{"method":"GET","url":"http://stock/items","level":"exact","index":0,"reused":false},
///              {"method":"GET","url":"http://stock/new","level":null,"index":null,"reused":false}],
///     "unused":[{"index":1,"method":"POST","url":"http://stock/reserve"}]}"#)?;
/// assert_eq!(log.missing().count(), 1);
/// assert_eq!(log.unused[0].url, "http://stock/reserve");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplayLog {
    /// The recording the request named.
    pub recording: String,
    /// Whether the store had it (when not, every call failed).
    pub found: bool,
    /// Every outbound call, in the order answered.
    pub calls: Vec<LoggedCall>,
    /// The recorded calls no call used.
    pub unused: Vec<LoggedUnused>,
    /// When and on which threads the handler ran, when the replay detects
    /// connections bypassing tracetape (see [`PollTimes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<PollTimes>,
    /// Calls past the log's limits
    /// ([`LOG_ENTRIES`](super::matching::LOG_ENTRIES) and
    /// [`LOG_BYTES`](super::matching::LOG_BYTES)), left out of `calls`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_calls: usize,
    /// Of those, calls no recorded call answered.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_unmatched: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One outbound call of a replayed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggedCall {
    /// Its method.
    pub method: String,
    /// Its URL, redacted as recordings are.
    pub url: String,
    /// How closely a recorded call matched; `None` when none did.
    pub level: Option<Level>,
    /// Which recorded call answered (its position among the recording's
    /// outbound calls).
    pub index: Option<usize>,
    /// That recorded call had answered before.
    pub reused: bool,
    /// At [`Level::Similar`], how the call differs from the recorded one
    /// that answered it: a deviation of the call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<CallDifference>,
}

impl LoggedCall {
    /// Whether the call deviates from the recording: answered by a
    /// recorded call that is not the same call ([`Level::Similar`]).
    pub fn deviates(&self) -> bool {
        self.level.is_some_and(|level| !level.is_same_call())
    }
}

/// A recorded outbound call nothing used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggedUnused {
    /// Its position among the recording's outbound calls.
    pub index: usize,
    /// Its method.
    pub method: String,
    /// Its URL.
    pub url: String,
}

impl ReplayLog {
    /// Reads the header's value.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The calls in `calls` no recorded call answered (and
    /// `omitted_unmatched` more).
    pub fn missing(&self) -> impl Iterator<Item = &LoggedCall> {
        self.calls.iter().filter(|call| call.level.is_none())
    }

    pub(crate) fn of(
        recording: &str,
        session: Option<&MockSession>,
        polls: Option<&PollTimes>,
    ) -> Self {
        let polls = polls.cloned();
        let Some(session) = session else {
            return Self {
                recording: recording.to_owned(),
                found: false,
                calls: Vec::new(),
                unused: Vec::new(),
                polls,
                omitted_calls: 0,
                omitted_unmatched: 0,
            };
        };
        let omitted = session.omitted();
        Self {
            recording: recording.to_owned(),
            found: true,
            calls: session
                .log()
                .into_iter()
                .map(|entry| LoggedCall {
                    method: entry.call.method,
                    url: entry.call.url,
                    level: entry.matched.map(|matched| matched.level),
                    index: entry.matched.map(|matched| matched.index),
                    reused: entry.matched.is_some_and(|matched| matched.reused),
                    differences: entry.differences,
                })
                .collect(),
            unused: session
                .unused()
                .into_iter()
                .map(|unused| LoggedUnused {
                    index: unused.index,
                    method: unused.call.method,
                    url: unused.call.url,
                })
                .collect(),
            polls,
            omitted_calls: omitted.calls,
            omitted_unmatched: omitted.unmatched,
        }
    }
}
