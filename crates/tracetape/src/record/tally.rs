//! [`Tally`]: a count that one thread adds to and others wait on, until it
//! reaches a target or a deadline passes. A flush waits on the writer
//! thread's (recordings written or failed) and on the forwarding thread's
//! (documents posted or failed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// The count, read without the lock.
    seen: AtomicU64,
    /// The count, under a lock for waiters.
    count: Mutex<u64>,
    changed: Condvar,
}

impl Tally {
    /// Adds `n`, waking every waiter once.
    pub(crate) fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.seen.fetch_add(n, Ordering::AcqRel);
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count += n;
        self.changed.notify_all();
    }

    /// The count now, without waiting for the lock.
    pub(crate) fn get(&self) -> u64 {
        self.seen.load(Ordering::Acquire)
    }

    /// Waits until the count reaches `target`, until `deadline` at most
    /// (`None`: no limit); how far short of it the count still is when
    /// the deadline passes.
    pub(crate) fn wait_for(&self, target: u64, deadline: Option<Instant>) -> Result<(), u64> {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count < target {
            let remaining = match deadline {
                None => Duration::MAX,
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            };
            if remaining.is_zero() {
                return Err(target - *count);
            }
            count = self
                .changed
                .wait_timeout(count, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_waiter_returns_once_the_count_is_reached_or_says_how_far_short_it_is() {
        let tally = Arc::new(Tally::default());
        assert_eq!(tally.wait_for(0, Some(Instant::now())), Ok(()));
        assert_eq!(tally.wait_for(2, Some(Instant::now())), Err(2));
        let adding = Arc::clone(&tally);
        let adder = std::thread::spawn(move || {
            adding.add(1);
            adding.add(0);
            adding.add(1);
        });
        assert_eq!(tally.wait_for(2, None), Ok(()));
        adder.join().unwrap();
        assert_eq!(tally.get(), 2);
    }
}
