//! [`ReplayLog`]: what the service tells the replayer about one replayed
//! request's outbound calls, in the `x-tracetape-replay-log` response
//! header.

use serde::{Deserialize, Serialize};

use super::PollTimes;
use super::matching::{CallDifference, LOG_BYTES, LOG_ENTRIES, Level, MockSession, UnusedMock};

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
    /// Unused recorded calls past the same limits, left out of `unused`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_unused: usize,
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
                omitted_unused: 0,
            };
        };
        let omitted = session.omitted();
        let (unused, omitted_unused) = bounded_unused(session.unused());
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
            unused,
            polls,
            omitted_calls: omitted.calls,
            omitted_unmatched: omitted.unmatched,
            omitted_unused,
        }
    }
}

/// The first unused calls within the log's limits
/// ([`LOG_ENTRIES`](super::matching::LOG_ENTRIES) and
/// [`LOG_BYTES`](super::matching::LOG_BYTES) of method and URL), and how
/// many more there are: a recording of many calls that the new build no
/// longer makes must not make a header no client reads.
fn bounded_unused(all: Vec<UnusedMock>) -> (Vec<LoggedUnused>, usize) {
    let total = all.len();
    let mut bytes = 0;
    let listed: Vec<LoggedUnused> = all
        .into_iter()
        .take(LOG_ENTRIES)
        .take_while(|unused| {
            bytes += unused.call.method.len() + unused.call.url.len();
            bytes <= LOG_BYTES
        })
        .map(|unused| LoggedUnused {
            index: unused.index,
            method: unused.call.method,
            url: unused.call.url,
        })
        .collect();
    let omitted = total - listed.len();
    (listed, omitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::matching::CallSummary;

    fn unused(count: usize, url_len: usize) -> Vec<UnusedMock> {
        (0..count)
            .map(|index| UnusedMock {
                index,
                call: CallSummary::new("GET", "u".repeat(url_len)),
            })
            .collect()
    }

    /// A recording of many calls the new build no longer makes: the log
    /// lists the first and counts the others, in number and in bytes.
    #[test]
    fn unused_calls_past_the_limits_are_counted() {
        let (listed, omitted) = bounded_unused(unused(LOG_ENTRIES + 5, 10));
        assert_eq!((listed.len(), omitted), (LOG_ENTRIES, 5));
        assert_eq!(listed[0].index, 0);

        let per_call = 3 + 1000;
        let fit = LOG_BYTES / per_call;
        let (listed, omitted) = bounded_unused(unused(fit + 7, 1000));
        assert_eq!((listed.len(), omitted), (fit, 7));

        let (listed, omitted) = bounded_unused(unused(3, 10));
        assert_eq!((listed.len(), omitted), (3, 0));
    }
}
