//! The process-wide replayer: the one `TRACETAPE_MODE=replay` loads,
//! installed and removed by the telemetry guard.

use super::Replayer;
use crate::slot::Slot;

static REPLAYER: Slot<Replayer> = Slot::new();

/// The process-wide replayer, if replay mode is on.
pub(crate) fn global() -> Option<Replayer> {
    REPLAYER.get()
}

/// Makes `replayer` the process-wide one.
pub(crate) fn install(replayer: Replayer) {
    REPLAYER.install(replayer);
}

/// Removes `replayer` if it is the process-wide one.
pub(crate) fn uninstall(replayer: &Replayer) -> bool {
    REPLAYER.uninstall(|installed| installed.same_as(replayer))
}
