//! Record-mode settings from `tracetape.toml` and the environment: the
//! mode, the recording sample rate, the body limit, where recordings go,
//! how many may wait to be written, and the redaction rules. Variables
//! override the file. An invalid variable is reported once and falls back
//! to the default, as the telemetry settings do; a file or redaction rule
//! that cannot be understood turns recording off instead, since guessing
//! could write a secret, and makes replay mode refuse every outbound call,
//! since turning it off would send them to the network.

use std::path::PathBuf;

use super::config_file::{self, CONFIG_FILE};
use super::{JsonPath, RedactRule};
use crate::setup::{TlsFiles, Warning};

/// `TRACETAPE_CONFIG`
const CONFIG: &str = "TRACETAPE_CONFIG";
/// `TRACETAPE_RECORD_OTLP_ENDPOINT`
const OTLP_ENDPOINT: &str = "TRACETAPE_RECORD_OTLP_ENDPOINT";
/// `TRACETAPE_RECORD_REDACT_HEADERS`
const REDACT_HEADERS: &str = "TRACETAPE_RECORD_REDACT_HEADERS";
/// `TRACETAPE_RECORD_REDACT_QUERY`
const REDACT_QUERY: &str = "TRACETAPE_RECORD_REDACT_QUERY";
/// `TRACETAPE_RECORD_REDACT_JSON`
const REDACT_JSON: &str = "TRACETAPE_RECORD_REDACT_JSON";
/// `TRACETAPE_RECORD_REDACT_COLUMNS`
const REDACT_COLUMNS: &str = "TRACETAPE_RECORD_REDACT_COLUMNS";
/// The warning name for a configuration that turns recording off.
const CONFIG_INVALID: &str = "record.config_invalid";

/// `TRACETAPE_MODE`
const MODE: &str = "TRACETAPE_MODE";
/// `TRACETAPE_RECORD_SAMPLE_RATE`
const SAMPLE_RATE: &str = "TRACETAPE_RECORD_SAMPLE_RATE";
/// `TRACETAPE_RECORD_MAX_BODY_BYTES`
const MAX_BODY_BYTES: &str = "TRACETAPE_RECORD_MAX_BODY_BYTES";
/// `TRACETAPE_RECORD_DIR`
const DIR: &str = "TRACETAPE_RECORD_DIR";
/// `TRACETAPE_RECORD_QUEUE`
const QUEUE: &str = "TRACETAPE_RECORD_QUEUE";
/// `TRACETAPE_RECORD_MAX_DIR_BYTES`
const MAX_DIR_BYTES: &str = "TRACETAPE_RECORD_MAX_DIR_BYTES";
/// `TRACETAPE_RECORD_MAX_HELD_BYTES`
const MAX_HELD_BYTES: &str = "TRACETAPE_RECORD_MAX_HELD_BYTES";

/// Bodies are kept up to this many bytes unless configured.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Recordings waiting to be written, at most, unless configured: 16,384.
/// The queue is also bounded by bytes (16 MiB waiting), which is the bound
/// that holds for all but the smallest recordings: this many lets a burst
/// of small ones wait while the disk stalls the writer for a moment.
pub const DEFAULT_QUEUE: usize = 16 * 1024;
/// The recordings directory's size cap unless configured: 1 GiB.
pub const DEFAULT_MAX_DIR_BYTES: u64 = 1024 * 1024 * 1024;
/// The bytes of bodies record mode holds across all requests unless
/// configured: 64 MiB.
pub const DEFAULT_MAX_HELD_BYTES: u64 = 64 * 1024 * 1024;
/// Where recordings go unless configured, relative to the working
/// directory.
pub const DEFAULT_DIR: &str = ".tracetape/recordings";

/// What the layers do besides tracing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Tracing only.
    #[default]
    Off,
    /// Capture traffic into recordings.
    Record,
    /// Answer outbound calls from recordings.
    Replay,
}

/// Record-mode settings, from the `[record]` table of `tracetape.toml`
/// (or the file `TRACETAPE_CONFIG` names) overridden by `TRACETAPE_MODE`,
/// `TRACETAPE_RECORD_SAMPLE_RATE`, `TRACETAPE_RECORD_MAX_BODY_BYTES`,
/// `TRACETAPE_RECORD_DIR` and `TRACETAPE_RECORD_QUEUE`, with the
/// redaction rules of the file and of `TRACETAPE_RECORD_REDACT_HEADERS`,
/// `_QUERY`, `_JSON` and `_COLUMNS`. Every key and variable is described in
/// `docs/configuration.md`.
///
/// ```
/// use tracetape::record::{Mode, RecordSettings};
///
/// let settings = RecordSettings::from_env();
/// if settings.mode == Mode::Record {
///     println!("recording {:.0}% of requests into {}", settings.sample_rate * 100.0, settings.dir.display());
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordSettings {
    /// `TRACETAPE_MODE`: `off` (default), `record` or `replay`.
    pub mode: Mode,
    /// `TRACETAPE_RECORD_SAMPLE_RATE`: the share of inbound requests
    /// recorded, from 0 to 1 (default 1), decided once per request and
    /// applying to all its outbound calls; separate from trace sampling.
    pub sample_rate: f64,
    /// `TRACETAPE_RECORD_MAX_BODY_BYTES`: bodies are kept up to this many
    /// bytes (default 1 MiB); a longer one is marked truncated.
    pub max_body_bytes: usize,
    /// `TRACETAPE_RECORD_DIR`: where recordings are written (default
    /// `.tracetape/recordings`).
    pub dir: PathBuf,
    /// `TRACETAPE_RECORD_QUEUE`: recordings waiting to be written, at most
    /// (default 16,384; 16 MiB waiting bounds them too); past it, new ones
    /// are dropped and counted.
    pub queue: usize,
    /// `TRACETAPE_RECORD_MAX_DIR_BYTES`: the recordings directory's
    /// segments (and `*.json` files of the earlier layout) take at most
    /// this many bytes together (default 1 GiB); past it, the oldest are
    /// removed whole, with a warning.
    pub max_dir_bytes: u64,
    /// `TRACETAPE_RECORD_MAX_HELD_BYTES`: the bytes of bodies record mode
    /// holds in memory across all requests until their recordings are
    /// handed to the writer (default 64 MiB); past it, bodies are kept
    /// only in part and marked truncated, with a warning, and counted
    /// ([`Recorder::cut_by_budget`](super::Recorder::cut_by_budget)).
    pub max_held_bytes: u64,
    /// `[[record.redact]]` and `TRACETAPE_RECORD_REDACT_*`: the redaction
    /// rules applied, after the defaults, before anything is written.
    pub redact: Vec<RedactRule>,
    /// `TRACETAPE_RECORD_OTLP_ENDPOINT`: an OTLP/HTTP traces URL
    /// (`http://collector:4318/v1/traces`) each recording is also posted
    /// to, as OTLP/JSON, after redaction; `None` (the default) keeps
    /// recordings in files only. An `https://` endpoint is verified
    /// against the platform's roots, or, when telemetry is set up by
    /// [`init`](crate::init) or the [`Telemetry`](crate::Telemetry) builder,
    /// with the TLS files of the trace exporter
    /// (`OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` or
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`, and the client key and
    /// certificate for mutual TLS).
    pub otlp_endpoint: Option<String>,
    /// The trace exporter's TLS files, for an `https://` `otlp_endpoint`.
    pub(crate) forward_tls: TlsFiles,
    /// Why replay mode cannot start with these settings (the file or a
    /// redaction rule cannot be understood): with `mode` replay, every
    /// outbound call is refused.
    pub(crate) refused: Option<String>,
}

impl Default for RecordSettings {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            sample_rate: 1.0,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            dir: PathBuf::from(DEFAULT_DIR),
            queue: DEFAULT_QUEUE,
            max_dir_bytes: DEFAULT_MAX_DIR_BYTES,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            redact: Vec::new(),
            otlp_endpoint: None,
            forward_tls: TlsFiles::default(),
            refused: None,
        }
    }
}

impl RecordSettings {
    /// Reads the process environment; a value that cannot be used is
    /// reported once and its default used.
    pub fn from_env() -> Self {
        let (settings, warnings) = Self::from_lookup(|name| std::env::var(name).ok());
        for warning in warnings {
            warning.report();
        }
        settings
    }

    /// As [`from_env`](Self::from_env), but reading the configuration
    /// file `config` whatever `TRACETAPE_CONFIG` says: the settings of a
    /// service started with `TRACETAPE_CONFIG={config}` (as `tracetape
    /// replay` starts it).
    ///
    /// ```
    /// use tracetape::record::RecordSettings;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let config = dir.path().join("tracetape.toml");
    /// std::fs::write(&config, "[record]\nmax_body_bytes = 2048\n")?;
    /// let settings = RecordSettings::from_env_with_config(&config);
    /// assert_eq!(settings.max_body_bytes, 2048);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env_with_config(config: &std::path::Path) -> Self {
        let config = config.to_string_lossy().into_owned();
        let (settings, warnings) = Self::from_lookup(|name| {
            if name == CONFIG {
                Some(config.clone())
            } else {
                std::env::var(name).ok()
            }
        });
        for warning in warnings {
            warning.report();
        }
        settings
    }

    /// Reads the settings through `lookup` (a variable's value, `None`
    /// when unset), with a warning for each value that cannot be used.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<Warning>) {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let mut warnings = Vec::new();
        let mut settings = Self::default();
        // Why the settings cannot be used, if they cannot.
        let mut broken = None;
        let (path, named) = match get(CONFIG) {
            Some(path) => (PathBuf::from(path), true),
            None => (PathBuf::from(CONFIG_FILE), false),
        };
        if named || path.is_file() {
            match config_file::read(&path) {
                Ok(file) => settings.apply(file),
                Err(err) => {
                    let why = crate::diag::chain(&err);
                    warnings.push(turned_off(&why));
                    broken.get_or_insert(why);
                }
            }
        }
        if let Some(value) = get(MODE) {
            match value.to_ascii_lowercase().as_str() {
                "off" => settings.mode = Mode::Off,
                "record" => settings.mode = Mode::Record,
                "replay" => settings.mode = Mode::Replay,
                _ => warnings.push(Warning::invalid_env(
                    MODE,
                    &value,
                    "expected off, record or replay",
                    "off",
                )),
            }
        }
        if let Some(value) = get(SAMPLE_RATE) {
            match value.parse::<f64>() {
                Ok(rate) if (0.0..=1.0).contains(&rate) => settings.sample_rate = rate,
                _ => warnings.push(Warning::invalid_env(
                    SAMPLE_RATE,
                    &value,
                    "expected a rate between 0 and 1",
                    "1",
                )),
            }
        }
        if let Some(value) = get(MAX_BODY_BYTES) {
            match value.parse::<usize>() {
                Ok(bytes) => settings.max_body_bytes = bytes,
                Err(_) => warnings.push(Warning::invalid_env(
                    MAX_BODY_BYTES,
                    &value,
                    "expected a number of bytes",
                    "1048576",
                )),
            }
        }
        if let Some(value) = get(DIR) {
            settings.dir = PathBuf::from(value);
        }
        if let Some(value) = get(OTLP_ENDPOINT) {
            match config_file::http_url(&value) {
                Ok(url) => settings.otlp_endpoint = Some(url),
                Err(reason) => warnings.push(Warning::invalid_env(
                    OTLP_ENDPOINT,
                    &value,
                    &reason,
                    "no forwarding",
                )),
            }
        }
        if let Some(value) = get(QUEUE) {
            match value.parse::<usize>() {
                Ok(queue) if queue > 0 => settings.queue = queue,
                _ => warnings.push(Warning::invalid_env(
                    QUEUE,
                    &value,
                    "expected a positive number of recordings",
                    "1024",
                )),
            }
        }
        if let Some(value) = get(MAX_DIR_BYTES) {
            match value.parse::<u64>() {
                Ok(bytes) if bytes > 0 => settings.max_dir_bytes = bytes,
                _ => warnings.push(Warning::invalid_env(
                    MAX_DIR_BYTES,
                    &value,
                    "expected a positive number of bytes",
                    "1073741824",
                )),
            }
        }
        if let Some(value) = get(MAX_HELD_BYTES) {
            match value.parse::<u64>() {
                Ok(bytes) => settings.max_held_bytes = bytes,
                Err(_) => warnings.push(Warning::invalid_env(
                    MAX_HELD_BYTES,
                    &value,
                    "expected a number of bytes",
                    "67108864",
                )),
            }
        }
        for (name, rule) in [
            (
                REDACT_HEADERS,
                RedactRule::header as fn(String) -> RedactRule,
            ),
            (REDACT_QUERY, RedactRule::query),
            (REDACT_COLUMNS, RedactRule::column),
        ] {
            for rule in get(name).iter().flat_map(|value| list(value)).map(rule) {
                if let Err(err) = rule.check() {
                    let why = format!("{name}: {err}");
                    warnings.push(turned_off(&why));
                    broken.get_or_insert(why);
                }
                settings.redact.push(rule);
            }
        }
        for path in get(REDACT_JSON).iter().flat_map(|value| list(value)) {
            match path.parse::<JsonPath>() {
                Ok(path) => settings.redact.push(RedactRule::json(path)),
                Err(err) => {
                    let why = format!("{REDACT_JSON}: {err}");
                    warnings.push(turned_off(&why));
                    broken.get_or_insert(why);
                }
            }
        }
        match broken {
            // Off would send the service's calls to the network.
            Some(why) if settings.mode == Mode::Replay => settings.refused = Some(why),
            Some(_) => settings.mode = Mode::Off,
            None => {}
        }
        (settings, warnings)
    }

    /// Recordings forwarded to an https endpoint trust what the spans'
    /// exporter trusts: its TLS files.
    pub(crate) fn trust_exporter_tls(&mut self, tls: &TlsFiles) {
        self.forward_tls = tls.clone();
    }

    /// Takes what `file` sets.
    fn apply(&mut self, file: config_file::FileSettings) {
        self.mode = file.mode.unwrap_or(self.mode);
        self.sample_rate = file.sample_rate.unwrap_or(self.sample_rate);
        self.max_body_bytes = file.max_body_bytes.unwrap_or(self.max_body_bytes);
        self.dir = file.dir.unwrap_or_else(|| self.dir.clone());
        self.queue = file.queue.unwrap_or(self.queue);
        self.max_dir_bytes = file.max_dir_bytes.unwrap_or(self.max_dir_bytes);
        self.max_held_bytes = file.max_held_bytes.unwrap_or(self.max_held_bytes);
        self.redact = file.redact;
        self.otlp_endpoint = file.otlp_endpoint;
    }
}

/// The items of a comma-separated list, trimmed, empty ones left out.
fn list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
}

fn turned_off(reason: &str) -> Warning {
    Warning::new(
        CONFIG_INVALID,
        format!("{reason}; nothing is recorded or replayed until this is fixed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> (RecordSettings, Vec<Warning>) {
        RecordSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn nothing_set_is_off_with_the_defaults() {
        let (settings, warnings) = read(&[]);
        assert_eq!(settings, RecordSettings::default());
        assert_eq!(settings.mode, Mode::Off);
        assert!(warnings.is_empty());
    }

    #[test]
    fn every_variable_is_read() {
        let (settings, warnings) = read(&[
            (MODE, " Record "),
            (SAMPLE_RATE, "0.25"),
            (MAX_BODY_BYTES, "4096"),
            (DIR, "/tmp/rec"),
            (QUEUE, "16"),
            (MAX_DIR_BYTES, "4096"),
            (MAX_HELD_BYTES, "2048"),
            (OTLP_ENDPOINT, "http://127.0.0.1:4318/v1/traces"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            settings,
            RecordSettings {
                mode: Mode::Record,
                sample_rate: 0.25,
                max_body_bytes: 4096,
                dir: PathBuf::from("/tmp/rec"),
                queue: 16,
                max_dir_bytes: 4096,
                max_held_bytes: 2048,
                redact: Vec::new(),
                otlp_endpoint: Some("http://127.0.0.1:4318/v1/traces".to_owned()),
                forward_tls: TlsFiles::default(),
                refused: None,
            }
        );
        assert_eq!(read(&[(MODE, "replay")]).0.mode, Mode::Replay);
    }

    /// Regression: a file that cannot be understood turned replay mode off,
    /// so the service's calls went to the network.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn settings_that_cannot_be_used_turn_record_off_and_make_replay_refuse() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("tracetape.toml");
        std::fs::write(&config, "[record]\nsample_rat = 1\n").unwrap();
        let config = config.to_str().unwrap();
        let (settings, warnings) = read(&[(CONFIG, config), (MODE, "record")]);
        assert_eq!((settings.mode, settings.refused), (Mode::Off, None));
        assert_eq!(warnings[0].name, CONFIG_INVALID);
        let (settings, _) = read(&[(CONFIG, config), (MODE, "replay")]);
        assert_eq!(settings.mode, Mode::Replay);
        assert!(
            settings
                .refused
                .as_deref()
                .is_some_and(|why| why.contains("sample_rat")),
            "{:?}",
            settings.refused
        );
        let (settings, _) = read(&[(REDACT_JSON, "card"), (MODE, "replay")]);
        assert!(
            settings
                .refused
                .is_some_and(|why| why.starts_with(REDACT_JSON))
        );
    }

    #[test]
    fn invalid_values_warn_and_fall_back() {
        let (settings, warnings) = read(&[
            (MODE, "tape"),
            (SAMPLE_RATE, "1.5"),
            (MAX_BODY_BYTES, "-1"),
            (QUEUE, "0"),
            (OTLP_ENDPOINT, "collector:4318"),
        ]);
        assert_eq!(settings, RecordSettings::default());
        let vars: Vec<&str> = warnings
            .iter()
            .map(|w| w.name.trim_start_matches("setup.invalid_env."))
            .collect();
        assert_eq!(
            vars,
            [MODE, SAMPLE_RATE, MAX_BODY_BYTES, OTLP_ENDPOINT, QUEUE]
        );
        assert!(
            warnings[0]
                .message
                .contains("expected off, record or replay")
        );
    }

    // A header name no header can have was once taken as a rule that
    // silently redacted nothing.
    #[test]
    fn a_rule_that_can_never_match_turns_recording_off() {
        for (var, value, expected) in [
            (REDACT_HEADERS, "x-token, x token", "header \"x token\""),
            (REDACT_QUERY, "api_key,a&b", "query \"a&b\""),
            (REDACT_JSON, "$.", "invalid JSON path"),
        ] {
            let (settings, warnings) = read(&[(MODE, "record"), (var, value)]);
            assert_eq!(settings.mode, Mode::Off, "{var}={value}");
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert_eq!(warnings[0].name, CONFIG_INVALID);
            assert!(
                warnings[0].message.contains(var) && warnings[0].message.contains(expected),
                "{}",
                warnings[0].message
            );
        }
        let (settings, warnings) = read(&[(MODE, "record"), (REDACT_HEADERS, "x-token,,")]);
        assert_eq!(settings.mode, Mode::Record, "{warnings:?}");
        assert_eq!(settings.redact, [RedactRule::header("x-token")]);
    }
}
