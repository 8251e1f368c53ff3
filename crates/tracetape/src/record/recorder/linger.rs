//! The recordings that linger: every part closed, but a context that
//! outlived its request still holds the handle. They wait here, oldest
//! first, until they have lingered for [`LINGER`], the recorder is
//! flushed, or more than [`MAX_LINGERING`] wait; then they are handed on
//! as they are.
//!
//! The list holds weak references: a recording handed on because its last
//! handle went (the usual end) leaves a dead entry, dropped when it
//! reaches the front. Checking costs one atomic load while the list is
//! empty.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::Assembly;

/// How long a recording whose parts have all closed waits for the
/// contexts that still hold it (tasks spawned with the request's context,
/// say) before it is handed on without them.
///
/// ```
/// assert_eq!(tracetape::record::LINGER.as_secs(), 30);
/// ```
pub const LINGER: Duration = Duration::from_secs(30);

/// How many recordings may linger at once; past that, the oldest is
/// handed on early. Bounds the memory a context kept forever per request
/// can hold.
///
/// ```
/// assert_eq!(tracetape::record::MAX_LINGERING, 1024);
/// ```
pub const MAX_LINGERING: usize = 1024;

/// The lingering list of one recorder.
#[derive(Debug)]
pub(super) struct Lingering {
    linger: Duration,
    /// Each recording with the time it may be handed on, oldest first.
    waiting: Mutex<VecDeque<(Instant, Weak<Assembly>)>>,
    /// The length of `waiting`, read without the lock.
    len: AtomicUsize,
}

impl Lingering {
    pub(super) fn new(linger: Duration) -> Self {
        Self {
            linger,
            waiting: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// Puts `assembly`, which started to linger at `now`, on the list,
    /// handing on the oldest when that makes too many. (The time is
    /// checked at the next [`sweep_if_any`](Self::sweep_if_any).)
    pub(super) fn add(&self, assembly: Weak<Assembly>, now: Instant) {
        let due_at = now.checked_add(self.linger).unwrap_or(now);
        self.lock().push_back((due_at, assembly));
        self.take_due(|_| false);
    }

    /// [`sweep`](Self::sweep) at the current time, when anything lingers.
    pub(super) fn sweep_if_any(&self) {
        if self.len.load(Ordering::Acquire) > 0 {
            self.sweep(Instant::now(), false);
        }
    }

    /// Hands on the recordings that have lingered long enough at `now`,
    /// those beyond [`MAX_LINGERING`], or with `all`, every one.
    pub(super) fn sweep(&self, now: Instant, all: bool) {
        self.take_due(|due_at| all || due_at <= now);
    }

    /// Hands on the oldest recordings while `due` says so of the time
    /// they may be handed on, or there are more than [`MAX_LINGERING`];
    /// drops dead entries on the way.
    fn take_due(&self, due: impl Fn(Instant) -> bool) {
        let taken: Vec<_> = {
            let mut waiting = self.lock();
            let mut taken = Vec::new();
            while let Some((due_at, assembly)) = waiting.front() {
                let dead = assembly.strong_count() == 0;
                if !(dead || due(*due_at) || waiting.len() > MAX_LINGERING) {
                    break;
                }
                if let Some((_, assembly)) = waiting.pop_front() {
                    taken.extend(assembly.upgrade());
                }
            }
            self.len.store(waiting.len(), Ordering::Release);
            taken
        };
        // Outside the lock: handing a recording on runs its sink.
        for assembly in taken {
            assembly.make_due();
        }
    }

    /// How many entries the list holds (dead ones included).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, Weak<Assembly>)>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
