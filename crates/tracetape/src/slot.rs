//! A process-wide value that may or may not be installed: the recorder
//! `TRACETAPE_MODE=record` starts, the replayer `TRACETAPE_MODE=replay`
//! loads. Reading one is a single atomic load while nothing is installed,
//! and a read lock plus a clone when something is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

/// A process-wide `T`, installed and removed by the telemetry guard.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    /// Whether `value` holds something: the fast path when it does not.
    active: AtomicBool,
    value: RwLock<Option<T>>,
}

impl<T: Clone> Slot<T> {
    pub(crate) const fn new() -> Self {
        Self {
            active: AtomicBool::new(false),
            value: RwLock::new(None),
        }
    }

    /// The installed value, if any.
    pub(crate) fn get(&self) -> Option<T> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.value
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Installs `value`, replacing any other, which is dropped outside
    /// the lock (the last clone of a recorder flushes it).
    pub(crate) fn install(&self, value: T) {
        let previous = {
            let mut slot = self.value.write().unwrap_or_else(PoisonError::into_inner);
            let previous = slot.replace(value);
            self.active.store(true, Ordering::Release);
            previous
        };
        drop(previous);
    }

    /// Removes the installed value if `is_it` says it is the one meant
    /// (another installed since stays). Returns whether it was removed.
    pub(crate) fn uninstall(&self, is_it: impl Fn(&T) -> bool) -> bool {
        let removed = {
            let mut slot = self.value.write().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(is_it) {
                self.active.store(false, Ordering::Release);
                slot.take()
            } else {
                None
            }
        };
        removed.is_some()
    }
}
