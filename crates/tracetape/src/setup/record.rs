//! Record mode from the environment: `TRACETAPE_MODE` and
//! `TRACETAPE_RECORD_*` ([`RecordSettings`]) turned into a running
//! [`Recorder`], or into a warning and tracing only.

use std::time::Duration;

use super::settings::Warning;
use crate::record::{Mode, RecordSettings, Recorder};
use crate::store::files;

/// How long the guard waits for queued recordings to be written when it
/// flushes, shuts down or drops.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The warning name when record mode was asked for and could not start.
pub(crate) const RECORD_FAILED: &str = "setup.record_failed";
/// The warning name for `TRACETAPE_MODE=replay`.
pub(crate) const REPLAY_UNAVAILABLE: &str = "setup.replay_unavailable";

/// The recorder `settings` ask for, recording as `service_name`: `None`
/// unless the mode is `record`, and, with a warning, when the recordings
/// directory cannot be created or the writer thread cannot start. Never
/// fails: recording is an addition to tracing, not a condition for it.
pub(crate) fn start(
    settings: &RecordSettings,
    service_name: &str,
) -> (Option<Recorder>, Option<Warning>) {
    match settings.mode {
        Mode::Off => (None, None),
        Mode::Replay => (
            None,
            Some(Warning::new(
                REPLAY_UNAVAILABLE,
                "TRACETAPE_MODE=replay is not available yet; tracing only, nothing is replayed",
            )),
        ),
        Mode::Record => {
            // Checked here so that a directory that can never be written is
            // one clear warning at start-up rather than a failure per
            // recording later.
            if let Err(err) = files::create_dir(&settings.dir) {
                return (None, Some(failed(&err)));
            }
            match Recorder::start(settings, service_name) {
                Ok(recorder) => (Some(recorder), None),
                Err(err) => (None, Some(failed(&err))),
            }
        }
    }
}

fn failed(err: &dyn std::error::Error) -> Warning {
    Warning::new(
        RECORD_FAILED,
        format!(
            "TRACETAPE_MODE=record: {}; nothing is recorded, tracing goes on",
            crate::diag::chain(err)
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn settings(mode: Mode, dir: std::path::PathBuf) -> RecordSettings {
        RecordSettings {
            mode,
            dir,
            ..RecordSettings::default()
        }
    }

    #[test]
    fn off_starts_nothing_and_says_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("recordings");
        let (recorder, warning) = start(&settings(Mode::Off, dir.clone()), "svc");
        assert!(recorder.is_none());
        assert!(warning.is_none());
        assert!(!dir.exists());
    }

    #[test]
    fn replay_warns_and_records_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("recordings");
        let (recorder, warning) = start(&settings(Mode::Replay, dir.clone()), "svc");
        assert!(recorder.is_none());
        let warning = warning.unwrap();
        assert_eq!(warning.name, REPLAY_UNAVAILABLE);
        assert!(warning.message.contains("not available yet"));
        assert!(!dir.exists());
    }

    #[test]
    fn record_starts_a_recorder_for_the_service() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("recordings");
        let (recorder, warning) = start(&settings(Mode::Record, dir.clone()), "checkout");
        assert!(warning.is_none(), "{warning:?}");
        let recorder = recorder.unwrap();
        assert_eq!(recorder.service_name(), "checkout");
        assert!(dir.is_dir());
        recorder.flush(FLUSH_TIMEOUT).unwrap();
    }

    #[test]
    fn record_into_an_unwritable_directory_warns_and_records_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        let dir = file.join("recordings");
        let (recorder, warning) = start(&settings(Mode::Record, dir.clone()), "svc");
        assert!(recorder.is_none());
        let warning = warning.unwrap();
        assert_eq!(warning.name, RECORD_FAILED);
        assert!(
            warning.message.contains("TRACETAPE_MODE=record"),
            "{}",
            warning.message
        );
        assert!(warning.message.contains("a-file"), "{}", warning.message);
    }
}
