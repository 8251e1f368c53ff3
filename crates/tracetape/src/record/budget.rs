//! The memory record mode spends on bodies across all requests: every
//! capture takes the bytes it buffers from one budget per recorder, and
//! they are given back when the recording that holds them has been handed
//! to the writer (which bounds what waits in its queue itself). When the
//! budget is spent, a capture keeps what it has and stops copying: the
//! body goes on to its reader untouched, and the recording marks it
//! truncated, as it does past `max_body_bytes`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::diag;

const SPENT: &str = "record.body_budget_spent";

/// One recorder's budget.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    max: u64,
    held: AtomicU64,
    /// Captures cut short because the budget was spent.
    cut: AtomicU64,
}

impl BodyBudget {
    pub(crate) fn new(max: u64) -> Arc<Self> {
        Arc::new(Self {
            max,
            held: AtomicU64::new(0),
            cut: AtomicU64::new(0),
        })
    }

    /// Takes up to `wanted` bytes; how many it got.
    fn take(&self, wanted: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                granted = wanted.min(self.max.saturating_sub(held));
                Some(held + granted)
            });
        granted
    }

    fn give_back(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// Captures cut short so far.
    pub(crate) fn cut(&self) -> u64 {
        self.cut.load(Ordering::Relaxed)
    }
}

/// The bytes of one exchange's captures, shared by its bodies and its
/// place in the recording: given back to the budget when the last holder
/// is gone.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<BodyBudget>,
    bytes: AtomicU64,
}

impl Held {
    pub(crate) fn new(budget: &Arc<BodyBudget>) -> Arc<Self> {
        Arc::new(Self {
            budget: Arc::clone(budget),
            bytes: AtomicU64::new(0),
        })
    }

    /// Takes up to `wanted` more bytes from the budget; how many it got.
    pub(crate) fn take(&self, wanted: usize) -> usize {
        let granted = self.budget.take(u64::try_from(wanted).unwrap_or(u64::MAX));
        self.bytes.fetch_add(granted, Ordering::AcqRel);
        usize::try_from(granted).unwrap_or(usize::MAX)
    }

    /// Counts a capture cut short, saying so the first time.
    pub(crate) fn note_cut(&self) {
        if self.budget.cut.fetch_add(1, Ordering::Relaxed) == 0 {
            diag::warn_once(
                SPENT,
                format_args!(
                    "record mode: bodies held for recordings reached {} bytes (TRACETAPE_RECORD_MAX_HELD_BYTES); captures are cut short, and marked truncated, until recordings are written",
                    self.budget.max
                ),
            );
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(*self.bytes.get_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_back_when_the_last_holder_goes() {
        let budget = BodyBudget::new(100);
        let first = Held::new(&budget);
        assert_eq!(first.take(60), 60);
        let second = Held::new(&budget);
        assert_eq!(second.take(60), 40, "only what is left");
        assert_eq!(second.take(1), 0);
        assert_eq!(budget.held(), 100);
        let shared = Arc::clone(&first);
        drop(first);
        assert_eq!(budget.held(), 100, "still held by another holder");
        drop(shared);
        assert_eq!(budget.held(), 40);
        drop(second);
        assert_eq!(budget.held(), 0);
    }
}
