//! Record and replay mode from the environment: `TRACETAPE_MODE` and
//! `TRACETAPE_RECORD_*` ([`RecordSettings`]) turned into a running
//! [`Recorder`] or a loaded [`Replayer`], or into a warning and tracing
//! only; replay mode that cannot start refuses every outbound call; and
//! what the guard does with them. A build without the `record-replay`
//! feature has `unbuilt.rs` in its place, with the same names.

use std::sync::Arc;
use std::time::Duration;

use super::error::{FlushError, SetupError, ShutdownError};
use super::settings::Warning;
use crate::record::{Mode, Recorder};
use crate::replay::Replayer;
use crate::store::files;

pub(crate) use crate::record::RecordSettings;

/// How long the guard waits for queued recordings to be written when it
/// flushes, shuts down or drops.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The warning name when record mode was asked for and could not start.
pub(crate) const RECORD_FAILED: &str = "setup.record_failed";
/// The warning name when replay mode finds nothing to replay.
pub(crate) const REPLAY_EMPTY: &str = "setup.replay_empty";
/// The warning name when replay mode was asked for and could not load.
pub(crate) const REPLAY_FAILED: &str = "setup.replay_failed";

/// What the mode started besides tracing.
#[derive(Debug, Clone, Default)]
pub(crate) enum Started {
    /// Tracing only.
    #[default]
    Nothing,
    /// Record mode's recorder.
    Recording(Recorder),
    /// Replay mode's recordings.
    Replaying(Replayer),
    /// Replay mode was asked for and could not start: why. Every outbound
    /// call is refused rather than sent to the network.
    Refusing(Arc<str>),
}

/// What `settings` ask for, for the service `service_name`: a recorder
/// in record mode, the recordings in replay mode, nothing otherwise; and,
/// with a warning, nothing when the recordings directory cannot be
/// created or the writer thread cannot start, and a refusal of every
/// outbound call when the replay's settings or recordings cannot be used.
/// Never fails: recording and replaying are additions to tracing, not
/// conditions for it.
pub(crate) fn start(settings: &RecordSettings, service_name: &str) -> (Started, Option<Warning>) {
    // Spans hide what recordings would, whatever the mode.
    crate::record::share_query_keys(&settings.redact);
    match settings.mode {
        Mode::Off => (Started::Nothing, None),
        Mode::Replay if settings.refused.is_some() => {
            refusing(settings.refused.as_deref().unwrap_or_default())
        }
        Mode::Replay => match Replayer::load(settings, service_name) {
            Ok(replayer) if replayer.is_empty() && replayer.background().is_empty() => {
                let warning = Warning::new(
                    REPLAY_EMPTY,
                    format!(
                        "TRACETAPE_MODE=replay: no recordings in {}; every outbound call will fail (record with TRACETAPE_MODE=record first, or point TRACETAPE_RECORD_DIR at the recordings)",
                        settings.dir.display()
                    ),
                );
                (Started::Replaying(replayer), Some(warning))
            }
            Ok(replayer) => (Started::Replaying(replayer), None),
            Err(err) => refusing(&crate::diag::chain(&err)),
        },
        Mode::Record => {
            // Checked here so that a directory that can never be written is
            // one clear warning at start-up rather than a failure per
            // recording later.
            if let Err(err) = files::create_dir(&settings.dir) {
                return (Started::Nothing, Some(failed(&err)));
            }
            match Recorder::start(settings, service_name) {
                Ok(recorder) => (Started::Recording(recorder), None),
                Err(err) => (Started::Nothing, Some(failed(&err))),
            }
        }
    }
}

/// What the mode starts when telemetry is disabled (`OTEL_SDK_DISABLED`):
/// nothing, but replay mode, which cannot run without the layers' tracing
/// and so refuses every outbound call rather than let it go to the
/// network.
pub(crate) fn when_disabled(settings: &RecordSettings) -> (Started, Option<Warning>) {
    match settings.mode {
        Mode::Replay => refusing("telemetry is disabled (OTEL_SDK_DISABLED=true)"),
        Mode::Off | Mode::Record => (Started::Nothing, None),
    }
}

/// Replay mode that could not start, for reason `why`, and the warning.
fn refusing(why: &str) -> (Started, Option<Warning>) {
    let warning = Warning::new(
        REPLAY_FAILED,
        format!(
            "TRACETAPE_MODE=replay: {why}; replay mode could not start, so every outbound call is refused rather than sent to the network"
        ),
    );
    (Started::Refusing(why.into()), Some(warning))
}

/// Nothing to refuse: this build records and replays.
pub(crate) fn refused(_: &RecordSettings) -> Option<SetupError> {
    None
}

impl Started {
    /// Installs the recorder or the recordings for the whole process
    /// (`init`), forgetting a replay that ended before.
    pub(crate) fn install(&self) {
        match self {
            Started::Nothing => crate::replay::forget_ended(),
            Started::Recording(recorder) => {
                crate::replay::forget_ended();
                crate::record::install_global(recorder.clone());
            }
            Started::Replaying(replayer) => crate::replay::install_global(replayer.clone()),
            Started::Refusing(why) => crate::replay::refuse(Arc::clone(why)),
        }
    }

    /// Stops them being the process-wide ones (shutdown).
    pub(crate) fn uninstall(&self) {
        match self {
            // A refusal stays: replay mode never started, nothing is sent.
            Started::Nothing | Started::Refusing(_) => {}
            Started::Recording(recorder) => {
                crate::record::uninstall_global(recorder);
            }
            Started::Replaying(replayer) => {
                crate::replay::uninstall_global(replayer);
            }
        }
    }

    /// Waits for queued recordings to be written ([`FLUSH_TIMEOUT`] at
    /// most).
    pub(crate) fn flush(&self) -> Result<(), FlushError> {
        match self {
            Started::Recording(recorder) => recorder
                .flush(FLUSH_TIMEOUT)
                .map_err(|err| FlushError::Recordings { err }),
            _ => Ok(()),
        }
    }

    /// The same, at shutdown.
    pub(crate) fn flush_at_shutdown(&self) -> Result<(), ShutdownError> {
        match self {
            Started::Recording(recorder) => recorder
                .flush(FLUSH_TIMEOUT)
                .map_err(|err| ShutdownError::Recordings { err }),
            _ => Ok(()),
        }
    }

    /// What becomes of the requests, for the start-up line.
    pub(crate) fn requests(&self, settings: &RecordSettings) -> String {
        match self {
            Started::Nothing => "not recorded (TRACETAPE_MODE unset)".to_owned(),
            Started::Refusing(_) => {
                "not replayed: replay mode could not start, so outbound calls are refused"
                    .to_owned()
            }
            Started::Recording(_) => format!("recorded into {}", settings.dir.display()),
            Started::Replaying(replayer) => format!(
                "answered from the recordings in {}",
                replayer.dir().display()
            ),
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
        let (started, warning) = start(&settings(Mode::Off, dir.clone()), "svc");
        assert!(matches!(started, Started::Nothing));
        assert!(warning.is_none());
        assert!(!dir.exists());
    }

    #[test]
    fn replay_without_recordings_replays_nothing_and_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("recordings");
        let (started, warning) = start(&settings(Mode::Replay, dir.clone()), "svc");
        let Started::Replaying(replayer) = started else {
            panic!("{started:?}");
        };
        assert!(replayer.is_empty());
        let warning = warning.unwrap();
        assert_eq!(warning.name, REPLAY_EMPTY);
        assert!(
            warning.message.contains("no recordings in"),
            "{}",
            warning.message
        );
        assert!(!dir.exists());
    }

    /// A service whose recordings are all background ones (start-up
    /// queries, a periodic job) has something to replay: no warning.
    #[test]
    fn replay_of_background_recordings_only_says_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let recording = crate::record::testing::background_recording(7);
        recording.write_to(tmp.path().join("1.json")).unwrap();
        let (started, warning) = start(&settings(Mode::Replay, tmp.path().to_owned()), "checkout");
        let Started::Replaying(replayer) = started else {
            panic!("{started:?}");
        };
        assert!(replayer.is_empty() && !replayer.background().is_empty());
        assert!(warning.is_none(), "{warning:?}");
    }

    /// Regression: recordings that could not be loaded left replay mode
    /// off, so outbound calls went to the network.
    /// Regression: with OTEL_SDK_DISABLED=true, replay mode started
    /// nothing and said nothing, so outbound calls went to the network.
    #[test]
    fn replay_with_telemetry_disabled_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let (started, warning) = when_disabled(&settings(Mode::Replay, tmp.path().to_owned()));
        let Started::Refusing(why) = started else {
            panic!("{started:?}");
        };
        assert!(why.contains("OTEL_SDK_DISABLED"), "{why}");
        assert_eq!(warning.unwrap().name, REPLAY_FAILED);
        for mode in [Mode::Off, Mode::Record] {
            let (started, warning) = when_disabled(&settings(mode, tmp.path().to_owned()));
            assert!(matches!(started, Started::Nothing) && warning.is_none());
        }
    }

    #[test]
    fn replay_that_cannot_start_refuses_and_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        let (started, warning) = start(&settings(Mode::Replay, file), "svc");
        let Started::Refusing(why) = started else {
            panic!("{started:?}");
        };
        assert!(why.contains("a-file"), "{why}");
        let warning = warning.unwrap();
        assert_eq!(warning.name, REPLAY_FAILED);
        assert!(
            warning.message.contains("every outbound call is refused"),
            "{}",
            warning.message
        );
        let mut refused = settings(Mode::Replay, tmp.path().to_owned());
        refused.refused = Some("tracetape.toml: unknown field".to_owned());
        let (started, _) = start(&refused, "svc");
        assert!(matches!(started, Started::Refusing(why) if why.starts_with("tracetape.toml")));
    }

    #[test]
    fn record_starts_a_recorder_for_the_service() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("recordings");
        let (started, warning) = start(&settings(Mode::Record, dir.clone()), "checkout");
        assert!(warning.is_none(), "{warning:?}");
        let Started::Recording(recorder) = started else {
            panic!("{started:?}");
        };
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
        let (started, warning) = start(&settings(Mode::Record, dir.clone()), "svc");
        assert!(matches!(started, Started::Nothing));
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
