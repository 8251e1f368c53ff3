//! [`ReplayStatus`]: what happened outside the replayed requests' own
//! responses, which `tracetape replay` asks for before it stops the
//! service: the calls made outside any replayed request (at start-up, by
//! background jobs) and those replayed requests' work made after their
//! response had gone (tasks that carry the request's context).
//!
//! A request whose [`REPLAY_HEADER`](super::REPLAY_HEADER) is
//! [`REPLAY_STATUS`] is answered by the server layer itself, with no
//! body and the status in [`REPLAY_STATUS_HEADER`] (compact JSON); it
//! never reaches the service's handlers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::ReplayLog;

/// The value of [`REPLAY_HEADER`](super::REPLAY_HEADER) that asks for the
/// replay's [`ReplayStatus`].
pub const REPLAY_STATUS: &str = "status";

/// The response header that carries the [`ReplayStatus`].
pub const REPLAY_STATUS_HEADER: &str = "x-tracetape-replay-status";

/// Replayed requests whose calls after the response are kept; later ones
/// are counted.
const MAX_LATE: usize = 256;

/// What the replay did outside the replayed requests' responses.
///
/// ```
/// use tracetape::replay::ReplayStatus;
///
/// let status = ReplayStatus::from_json(br#"{"background":{"recording":"background",
///     "found":true,"calls":[{"method":"GET","url":"http://config/flags","level":null,
///     "index":null,"reused":false}],"unused":[]},"late":[],"pending":0}"#)?;
/// assert_eq!(status.background.missing().count(), 1);
/// assert_eq!(status.pending, 0);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplayStatus {
    /// The calls made outside any replayed request, as answered from the
    /// background recordings (those the service made at start-up
    /// included).
    pub background: ReplayLog,
    /// For each replayed request that made calls after its response (its
    /// log then differs from the one its response carried): its whole log
    /// as it ended.
    pub late: Vec<ReplayLog>,
    /// Replayed requests past the first 256 with calls after their
    /// response, counted only.
    #[serde(default)]
    pub late_omitted: usize,
    /// Replayed requests whose response has gone while work holding their
    /// context still runs: their late calls may not all be in.
    pub pending: usize,
}

impl ReplayStatus {
    /// Reads the header's value.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

/// The replayed requests' work after their responses, as the scopes that
/// end after their response report it.
#[derive(Debug, Default)]
pub(crate) struct Late {
    /// Scopes whose response has gone and that are still held.
    open: AtomicUsize,
    logs: Mutex<Vec<ReplayLog>>,
    omitted: AtomicUsize,
}

impl Late {
    /// A replayed request's response went while its scope lives on.
    pub(crate) fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// A scope whose response had gone ended; `log` when it made calls
    /// after the response.
    pub(crate) fn closed(&self, log: Option<ReplayLog>) {
        if let Some(log) = log {
            let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
            if logs.len() < MAX_LATE {
                logs.push(log);
            } else {
                self.omitted.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The status, with the background session's log.
    pub(crate) fn status(&self, background: ReplayLog) -> ReplayStatus {
        ReplayStatus {
            background,
            late: self
                .logs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            late_omitted: self.omitted.load(Ordering::Relaxed),
            pending: self.open.load(Ordering::Relaxed),
        }
    }
}
