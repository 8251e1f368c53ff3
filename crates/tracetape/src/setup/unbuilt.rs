//! Record and replay mode in a build without the `record-replay` feature:
//! the names `record.rs` gives the rest of `setup`, with nothing to
//! start. `TRACETAPE_MODE` is still read, so that asking for record or
//! replay mode is refused ([`SetupError::RecordReplayNotBuilt`]) rather
//! than ignored.

use super::error::{FlushError, SetupError, ShutdownError};
use super::settings::Warning;

/// `TRACETAPE_MODE`
const MODE: &str = "TRACETAPE_MODE";

/// What this build reads of record mode's settings: the mode asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordSettings {
    /// `record` or `replay`, when asked for.
    asked: Option<&'static str>,
}

impl RecordSettings {
    /// Nothing to forward recordings to in this build.
    pub(crate) fn trust_exporter_tls(&mut self, _: &crate::setup::TlsFiles) {}

    /// Reads `TRACETAPE_MODE` through `lookup`, with a warning for a
    /// value that is none of `off`, `record` and `replay`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<Warning>) {
        let Some(value) = lookup(MODE)
            .map(|value| value.trim().to_ascii_lowercase())
            .filter(|value| !value.is_empty())
        else {
            return (Self::default(), Vec::new());
        };
        let asked = match value.as_str() {
            "off" => None,
            "record" => Some("record"),
            "replay" => Some("replay"),
            _ => {
                let warning =
                    Warning::invalid_env(MODE, &value, "expected off, record or replay", "off");
                return (Self::default(), vec![warning]);
            }
        };
        (Self { asked }, Vec::new())
    }
}

/// What the mode started besides tracing: nothing, in this build.
#[derive(Debug, Clone, Default)]
pub(crate) enum Started {
    /// Tracing only.
    #[default]
    Nothing,
}

/// Nothing to start.
pub(crate) fn start(_: &RecordSettings, _: &str) -> (Started, Option<Warning>) {
    (Started::Nothing, None)
}

/// The error for a mode this build cannot run.
/// Nothing starts when telemetry is disabled; a mode asked for is
/// refused by [`refused`].
pub(crate) fn when_disabled(_: &RecordSettings) -> (Started, Option<Warning>) {
    (Started::Nothing, None)
}

pub(crate) fn refused(settings: &RecordSettings) -> Option<SetupError> {
    settings
        .asked
        .map(|mode| SetupError::RecordReplayNotBuilt { mode })
}

impl Started {
    pub(crate) fn install(&self) {}

    pub(crate) fn uninstall(&self) {}

    pub(crate) fn flush(&self) -> Result<(), FlushError> {
        Ok(())
    }

    pub(crate) fn flush_at_shutdown(&self) -> Result<(), ShutdownError> {
        Ok(())
    }

    /// What becomes of the requests, for the start-up line.
    pub(crate) fn requests(&self, settings: &RecordSettings) -> String {
        match settings.asked {
            None => "not recorded (TRACETAPE_MODE unset)".to_owned(),
            Some("replay") => "not replayed: TRACETAPE_MODE=replay needs tracetape's \
                               `record-replay` feature; outbound calls go to the network"
                .to_owned(),
            Some(mode) => format!(
                "not recorded: TRACETAPE_MODE={mode} needs tracetape's `record-replay` feature"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use crate::setup::{SetupError, Telemetry, TracesExporter};

    fn builder(mode: &'static str) -> crate::setup::TelemetryBuilder {
        let vars = HashMap::from([("TRACETAPE_MODE", mode)]);
        Telemetry::builder()
            .with_traces_exporter(TracesExporter::None)
            .with_env_lookup(move |name| vars.get(name).map(|value| (*value).to_owned()))
    }

    /// A tracing-only build asked to record must say it cannot, not trace
    /// on as if record mode were running.
    #[test]
    fn record_mode_is_refused_without_the_feature() {
        match builder("record").try_build() {
            Err(SetupError::RecordReplayNotBuilt { mode }) => assert_eq!(mode, "record"),
            other => panic!("expected RecordReplayNotBuilt, got {other:?}"),
        }
    }

    /// Replay mode refused: its outbound calls would otherwise go to the
    /// network unnoticed.
    #[test]
    fn replay_mode_is_refused_and_the_message_says_calls_go_out() {
        let err = builder("replay").try_build().unwrap_err();
        assert!(matches!(
            err,
            SetupError::RecordReplayNotBuilt { mode: "replay" }
        ));
        assert!(err.to_string().contains("record-replay"), "{err}");
    }

    #[test]
    fn off_and_unset_build_as_usual() {
        builder("off").try_build().unwrap().shutdown().unwrap();
        Telemetry::builder()
            .with_traces_exporter(TracesExporter::None)
            .with_env_lookup(|_| None)
            .try_build()
            .unwrap()
            .shutdown()
            .unwrap();
    }

    #[test]
    fn the_start_up_line_says_what_becomes_of_replayed_calls() {
        let (settings, warnings) = super::RecordSettings::from_lookup(|name| {
            (name == "TRACETAPE_MODE").then(|| "Replay".to_owned())
        });
        assert!(warnings.is_empty());
        let line = super::Started::Nothing.requests(&settings);
        assert!(line.contains("outbound calls go to the network"), "{line}");
        let (settings, warnings) = super::RecordSettings::from_lookup(|name| {
            (name == "TRACETAPE_MODE").then(|| "tape".to_owned())
        });
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            super::Started::Nothing.requests(&settings),
            "not recorded (TRACETAPE_MODE unset)"
        );
    }
}
