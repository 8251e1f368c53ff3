//! The process-wide recorder: the one `TRACETAPE_MODE=record` starts.
//!
//! [`TelemetryGuard`](crate::setup::TelemetryGuard) installs it when
//! telemetry is installed globally and removes it again when it shuts down
//! or drops, so the server and client layers without a recorder of their
//! own ([`with_recorder`](crate::server::TraceLayer::with_recorder)) record
//! into it. Reading it is one atomic load when record mode is off, and a
//! read lock plus a reference-count increment when it is on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use super::Recorder;

/// Whether [`SLOT`] holds a recorder: the fast path when it does not.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The installed recorder.
static SLOT: RwLock<Option<Recorder>> = RwLock::new(None);

/// The process-wide recorder, if record mode is on.
pub(crate) fn global() -> Option<Recorder> {
    if !ACTIVE.load(Ordering::Acquire) {
        return None;
    }
    SLOT.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Makes `recorder` the process-wide recorder, replacing any other.
pub(crate) fn install(recorder: Recorder) {
    let previous = {
        let mut slot = SLOT.write().unwrap_or_else(PoisonError::into_inner);
        let previous = slot.replace(recorder);
        ACTIVE.store(true, Ordering::Release);
        previous
    };
    // Dropped outside the lock: the last clone of a recorder flushes it.
    drop(previous);
}

/// Removes `recorder` if it is the process-wide one (another installed
/// since stays). Returns whether it was removed.
pub(crate) fn uninstall(recorder: &Recorder) -> bool {
    let removed = {
        let mut slot = SLOT.write().unwrap_or_else(PoisonError::into_inner);
        if slot
            .as_ref()
            .is_some_and(|installed| installed.same_as(recorder))
        {
            ACTIVE.store(false, Ordering::Release);
            slot.take()
        } else {
            None
        }
    };
    removed.is_some()
}

// Tested in the `record_mode` integration test, a process of its own: a
// unit test here would show the recorder to every other unit test.
