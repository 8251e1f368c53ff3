//! The process-wide recorder: the one `TRACETAPE_MODE=record` starts.
//!
//! [`TelemetryGuard`](crate::setup::TelemetryGuard) installs it when
//! telemetry is installed globally and removes it again when it shuts down
//! or drops, so the server and client layers without a recorder of their
//! own ([`with_recorder`](crate::server::TraceLayer::with_recorder)) record
//! into it. Reading it is one atomic load when record mode is off.

use super::Recorder;
use crate::slot::Slot;

static RECORDER: Slot<Recorder> = Slot::new();

/// The process-wide recorder, if record mode is on.
pub(crate) fn global() -> Option<Recorder> {
    RECORDER.get()
}

/// Makes `recorder` the process-wide recorder, replacing any other.
pub(crate) fn install(recorder: Recorder) {
    RECORDER.install(recorder);
}

/// Removes `recorder` if it is the process-wide one (another installed
/// since stays). Returns whether it was removed.
pub(crate) fn uninstall(recorder: &Recorder) -> bool {
    RECORDER.uninstall(|installed| installed.same_as(recorder))
}

// Tested in the `record_mode` integration test, a process of its own: a
// unit test here would show the recorder to every other unit test.
