//! The process-wide replayer: the one `TRACETAPE_MODE=replay` loads,
//! installed and removed by the telemetry guard. Once removed (the
//! service shutting down, its background jobs still running), the
//! process stays in replay mode, answering nothing, until telemetry is set
//! up again: no call reaches the network because replay has ended. When
//! replay mode was asked for and could not start (its configuration or
//! recordings could not be used), every call is refused, with the reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Replayer;
use crate::slot::Slot;

static REPLAYER: Slot<Replayer> = Slot::new();

/// A process-wide replayer was installed and has been removed.
static ENDED: AtomicBool = AtomicBool::new(false);

/// Why replay mode was asked for and could not start.
static REFUSED: Slot<Arc<str>> = Slot::new();

/// The process-wide replayer, if replay mode is on.
pub(crate) fn global() -> Option<Replayer> {
    REPLAYER.get()
}

/// Whether replay mode has ended in this process: calls outside any
/// replayed request are refused rather than sent.
pub(crate) fn ended() -> bool {
    ENDED.load(Ordering::Relaxed)
}

/// Why replay mode could not start in this process, if it could not:
/// calls outside a replayer's reach are refused rather than sent.
pub(crate) fn refused() -> Option<Arc<str>> {
    REFUSED.get()
}

/// Makes `replayer` the process-wide one.
pub(crate) fn install(replayer: Replayer) {
    ENDED.store(false, Ordering::Relaxed);
    REFUSED.uninstall(|_| true);
    REPLAYER.install(replayer);
}

/// Replay mode was asked for and could not start, for reason `why`: every
/// call is refused until telemetry is set up again.
pub(crate) fn refuse(why: Arc<str>) {
    ENDED.store(false, Ordering::Relaxed);
    REFUSED.install(why);
}

/// Removes `replayer` if it is the process-wide one; replay mode has then
/// ended.
pub(crate) fn uninstall(replayer: &Replayer) -> bool {
    let removed = REPLAYER.uninstall(|installed| installed.same_as(replayer));
    if removed {
        ENDED.store(true, Ordering::Relaxed);
    }
    removed
}

/// Telemetry set up again in another mode: calls go where that mode sends
/// them.
pub(crate) fn forget_ended() {
    ENDED.store(false, Ordering::Relaxed);
    REFUSED.uninstall(|_| true);
}
