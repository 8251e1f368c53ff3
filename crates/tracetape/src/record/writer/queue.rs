//! The queue between the request path and the writer thread.
//!
//! A request pushes its recording under a short lock and, most of the
//! time, wakes nobody: the thread is woken when a recording arrives while
//! it waits with nothing to do, when a batch's worth of bytes is waiting,
//! or when it is told to hurry (a flush) or the queue closes. Once woken
//! it gathers for [`GATHER`] before taking everything, so that under load
//! it wakes, writes and syncs once per batch rather than once per
//! recording: each wake is a context switch on a machine the service
//! needs, and each small write makes the kernel zero the rest of a page
//! it is about to fill anyway.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::Queued;

/// How long the thread, once woken, waits for more recordings before it
/// takes what is there.
pub(super) const GATHER: Duration = Duration::from_millis(5);

/// Waiting bytes (as counted by the budget) that wake the thread at once.
pub(super) const WAKE_AT_BYTES: u64 = 1024 * 1024;

/// The recordings waiting for the writer thread.
#[derive(Debug, Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    waiting: Vec<Queued>,
    /// The budgeted bytes of `waiting`.
    bytes: u64,
    /// No more pushes: the writer is going.
    closed: bool,
    /// The thread waits for a first recording.
    idle: bool,
    /// Take what is waiting now, without gathering.
    hurry: bool,
}

/// What [`Queue::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// The recordings waiting, moved into the caller's vector.
    Batch,
    /// Nothing came before the deadline.
    TimedOut,
    /// Closed, and nothing is left.
    Closed,
}

impl Queue {
    /// Adds `queued`; gives it back when the queue is closed.
    pub(super) fn push(&self, queued: Queued) -> Result<(), Queued> {
        let mut state = self.lock();
        if state.closed {
            return Err(queued);
        }
        let before = state.bytes;
        state.bytes = before.saturating_add(queued.bytes);
        state.waiting.push(queued);
        let wake =
            state.idle || (before < WAKE_AT_BYTES && state.bytes >= WAKE_AT_BYTES) || state.hurry;
        state.idle = false;
        drop(state);
        if wake {
            self.changed.notify_one();
        }
        Ok(())
    }

    /// Has the thread take what is waiting without gathering.
    pub(super) fn hurry(&self) {
        self.lock().hurry = true;
        self.changed.notify_one();
    }

    /// Refuses further pushes; the thread takes what is left and ends.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_one();
    }

    /// Waits for recordings (until `deadline`, when there is one), gathers
    /// more for up to [`GATHER`], and moves all that wait into `into`.
    pub(super) fn take(&self, deadline: Option<Instant>, into: &mut Vec<Queued>) -> Taken {
        let mut state = self.lock();
        while state.waiting.is_empty() {
            if state.closed {
                return Taken::Closed;
            }
            state.idle = true;
            state = match deadline {
                None => self.wait(state),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.idle = false;
                        return Taken::TimedOut;
                    }
                    self.wait_for(state, left)
                }
            };
        }
        state.idle = false;
        let until = Instant::now() + GATHER;
        while !state.closed && !state.hurry && state.bytes < WAKE_AT_BYTES {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.wait_for(state, left);
        }
        state.hurry = false;
        state.bytes = 0;
        std::mem::swap(&mut state.waiting, into);
        Taken::Batch
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_for<'a>(&self, state: MutexGuard<'a, State>, left: Duration) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(state, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::thread;

    use opentelemetry::trace::TraceId;

    use super::*;
    use crate::record::testing::background_recording;

    fn queued(trace: u128, bytes: u64) -> Queued {
        Queued {
            recording: background_recording(trace),
            bytes,
        }
    }

    fn traces(batch: &[Queued]) -> Vec<TraceId> {
        batch.iter().map(|q| q.recording.trace_id).collect()
    }

    /// Runs `take` on a thread of its own and returns what it found, or
    /// `None` when it is still waiting after a few seconds.
    fn taken_elsewhere(queue: &Arc<Queue>, act: impl FnOnce()) -> Option<(Taken, Vec<TraceId>)> {
        let (send, recv) = mpsc::channel();
        let taker = Arc::clone(queue);
        thread::spawn(move || {
            let mut batch = Vec::new();
            let taken = taker.take(None, &mut batch);
            let _ = send.send((taken, traces(&batch)));
        });
        act();
        recv.recv_timeout(Duration::from_secs(10)).ok()
    }

    #[test]
    fn everything_waiting_is_taken_in_one_batch_in_order() {
        let queue = Queue::default();
        for trace in 1..=3 {
            queue.push(queued(trace, 10)).unwrap();
        }
        let mut batch = Vec::new();
        assert_eq!(queue.take(None, &mut batch), Taken::Batch);
        assert_eq!(traces(&batch), [1, 2, 3].map(TraceId::from));
        // The next take starts from nothing.
        let deadline = Instant::now();
        batch.clear();
        assert_eq!(queue.take(Some(deadline), &mut batch), Taken::TimedOut);
        assert!(batch.is_empty());
    }

    #[test]
    fn a_recording_wakes_a_thread_waiting_with_nothing_to_do() {
        let queue = Arc::new(Queue::default());
        let pusher = Arc::clone(&queue);
        let found = taken_elsewhere(&queue, move || {
            // Once the thread waits idle, the push has to wake it.
            while !pusher.lock().idle {
                thread::yield_now();
            }
            pusher.push(queued(7, 10)).unwrap();
        });
        assert_eq!(found, Some((Taken::Batch, vec![TraceId::from(7)])));
    }

    #[test]
    fn closing_wakes_the_thread_and_refuses_more_after_what_waits_is_taken() {
        let queue = Arc::new(Queue::default());
        queue.push(queued(1, 10)).unwrap();
        queue.close();
        let refused = queue.push(queued(2, 10)).unwrap_err();
        assert_eq!(refused.recording.trace_id, TraceId::from(2));
        let mut batch = Vec::new();
        assert_eq!(queue.take(None, &mut batch), Taken::Batch);
        assert_eq!(traces(&batch), [TraceId::from(1)]);
        assert_eq!(queue.take(None, &mut batch), Taken::Closed);

        // A thread waiting idle is woken by the close.
        let open = Arc::new(Queue::default());
        let closer = Arc::clone(&open);
        let found = taken_elsewhere(&open, move || {
            while !closer.lock().idle {
                thread::yield_now();
            }
            closer.close();
        });
        assert_eq!(found, Some((Taken::Closed, Vec::new())));
    }
}
