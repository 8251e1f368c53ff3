//! `tracetape.toml`: the record-mode settings and redaction rules a
//! service keeps beside its code. The `[record]` table holds the same
//! settings as the `TRACETAPE_RECORD_*` variables (which override it) and
//! the `[[record.redact]]` rules. Every key is described in
//! `docs/configuration.md`; unknown keys are errors, so a misspelt rule
//! never silently redacts nothing.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{JsonPath, Mode, Pattern, RedactAction, RedactRule};

/// The file looked for in the working directory when `TRACETAPE_CONFIG`
/// does not name one.
pub const CONFIG_FILE: &str = "tracetape.toml";

/// What a `tracetape.toml` sets; `None` for what it leaves to the
/// environment and the defaults.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct FileSettings {
    pub(crate) mode: Option<Mode>,
    pub(crate) sample_rate: Option<f64>,
    pub(crate) max_body_bytes: Option<usize>,
    /// Relative paths are taken from the file's directory.
    pub(crate) dir: Option<PathBuf>,
    pub(crate) queue: Option<usize>,
    pub(crate) max_dir_bytes: Option<u64>,
    pub(crate) max_held_bytes: Option<u64>,
    pub(crate) redact: Vec<RedactRule>,
    pub(crate) otlp_endpoint: Option<String>,
}

/// Why a `tracetape.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigFileError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    record: Option<RawRecord>,
    /// The `tracetape replay` command's table, which it checks itself.
    #[serde(default)]
    #[expect(dead_code, reason = "read by the replay command, not by record mode")]
    replay: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    mode: Option<RawMode>,
    sample_rate: Option<f64>,
    max_body_bytes: Option<usize>,
    dir: Option<PathBuf>,
    queue: Option<usize>,
    max_dir_bytes: Option<u64>,
    max_held_bytes: Option<u64>,
    otlp_endpoint: Option<String>,
    #[serde(default)]
    redact: Vec<RawRule>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawMode {
    Off,
    Record,
    Replay,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    header: Option<String>,
    query: Option<String>,
    json: Option<String>,
    column: Option<String>,
    direction: Option<RawDirection>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    routes: Vec<String>,
    action: Option<RawAction>,
    keep: Option<usize>,
    with: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawDirection {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawAction {
    Redact,
    Mask,
    Replace,
    Drop,
}

/// Characters a masked value shows when `keep` is not given.
const DEFAULT_KEEP: usize = 4;

/// Why [`check_config`] refused a `tracetape.toml`: what is wrong and
/// where, as a lowercase fragment (`unknown field \`sample_rat\`` with
/// the line, `record.queue = 0: expected a positive number of
/// recordings`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

/// Checks the text of a `tracetape.toml` as a service reads it: every
/// table tracetape reads, with the same strictness (an unknown table or
/// key, a value of the wrong type or out of range, a redaction rule that
/// cannot be understood are errors). A service given such a file records
/// and replays nothing (see `docs/configuration.md`), so a tool that
/// starts one can refuse the file first. The `[replay]` table is only
/// allowed here: `tracetape replay` reads and checks it.
///
/// ```
/// use tracetape::record::check_config;
///
/// assert!(check_config("[record]\nsample_rate = 0.5\n").is_ok());
/// let err = check_config("[record]\nsample_rat = 0.5\n").unwrap_err();
/// assert!(err.to_string().contains("unknown field `sample_rat`"), "{err}");
/// ```
pub fn check_config(text: &str) -> Result<(), ConfigError> {
    parse(text)
        .map(drop)
        .map_err(|message| ConfigError { message })
}

/// Reads and checks the file at `path`.
pub(crate) fn read(path: &Path) -> Result<FileSettings, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |message: String| ConfigFileError::Invalid {
        path: path.to_owned(),
        message,
    };
    let mut settings = parse(&text).map_err(invalid)?;
    if let Some(dir) = settings.dir.take() {
        let base = path.parent().unwrap_or(Path::new(""));
        settings.dir = Some(base.join(dir));
    }
    Ok(settings)
}

/// Checks the text of a `tracetape.toml`; the error says what is wrong
/// and where.
pub(crate) fn parse(text: &str) -> Result<FileSettings, String> {
    let raw: RawFile = toml::from_str(text).map_err(|err| err.to_string().trim_end().to_owned())?;
    let Some(record) = raw.record else {
        return Ok(FileSettings::default());
    };
    if let Some(rate) = record.sample_rate
        && !(0.0..=1.0).contains(&rate)
    {
        return Err(format!(
            "record.sample_rate = {rate}: expected a rate between 0 and 1"
        ));
    }
    let otlp_endpoint = record
        .otlp_endpoint
        .map(|url| {
            http_url(&url).map_err(|reason| format!("record.otlp_endpoint = {url:?}: {reason}"))
        })
        .transpose()?;
    if record.queue == Some(0) {
        return Err("record.queue = 0: expected a positive number of recordings".to_owned());
    }
    if record.max_dir_bytes == Some(0) {
        return Err("record.max_dir_bytes = 0: expected a positive number of bytes".to_owned());
    }
    let redact = record
        .redact
        .into_iter()
        .enumerate()
        .map(|(index, rule)| {
            rule.into_rule()
                .map_err(|reason| format!("record.redact[{index}]: {reason}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(FileSettings {
        mode: record.mode.map(|mode| match mode {
            RawMode::Off => Mode::Off,
            RawMode::Record => Mode::Record,
            RawMode::Replay => Mode::Replay,
        }),
        sample_rate: record.sample_rate,
        max_body_bytes: record.max_body_bytes,
        dir: record.dir,
        queue: record.queue,
        max_dir_bytes: record.max_dir_bytes,
        max_held_bytes: record.max_held_bytes,
        redact,
        otlp_endpoint,
    })
}

/// `text` if it is an absolute `http` or `https` URL.
pub(crate) fn http_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text.parse().map_err(|err| format!("not a URL: {err}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(text.to_owned()),
        _ => Err("expected an http:// or https:// URL".to_owned()),
    }
}

impl RawRule {
    fn into_rule(self) -> Result<RedactRule, String> {
        let action = self.action.unwrap_or(RawAction::Redact);
        let targets = [&self.header, &self.query, &self.json, &self.column]
            .iter()
            .filter(|target| target.is_some())
            .count();
        let mut rule = match (self.header, self.query, self.json, self.column) {
            _ if targets > 1 => {
                return Err("give one of header, query, json and column, not several".to_owned());
            }
            (Some(name), ..) => RedactRule::header(name),
            (_, Some(key), ..) => RedactRule::query(key),
            (_, _, Some(path), _) => {
                RedactRule::json(path.parse::<JsonPath>().map_err(|err| err.to_string())?)
            }
            (.., Some(name)) => RedactRule::column(name),
            (None, None, None, None) if action == RawAction::Drop => RedactRule::exchanges(),
            (None, None, None, None) => {
                return Err("give header, query, json or column (only action = \"drop\" may leave them out, to drop every matching exchange)".to_owned());
            }
        };
        if self.keep.is_some() && action != RawAction::Mask {
            return Err("keep is only for action = \"mask\"".to_owned());
        }
        if self.with.is_some() != (action == RawAction::Replace) {
            return Err(
                "action = \"replace\" needs with = \"...\", and with is only for replace"
                    .to_owned(),
            );
        }
        rule = rule.action(match action {
            RawAction::Redact => RedactAction::Redact,
            RawAction::Mask => RedactAction::Mask {
                keep: self.keep.unwrap_or(DEFAULT_KEEP),
            },
            RawAction::Replace => RedactAction::Replace(self.with.unwrap_or_default()),
            RawAction::Drop => RedactAction::Drop,
        });
        rule = match self.direction {
            Some(RawDirection::Inbound) => rule.inbound(),
            Some(RawDirection::Outbound) => rule.outbound(),
            None => rule,
        };
        let patterns = |texts: Vec<String>| {
            texts
                .iter()
                .map(|text| text.parse::<Pattern>().map_err(|err| err.to_string()))
                .collect::<Result<Vec<_>, _>>()
        };
        let rule = rule
            .methods(self.methods)
            .hosts(patterns(self.hosts)?)
            .routes(patterns(self.routes)?);
        rule.check().map_err(|err| err.to_string())?;
        Ok(rule)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::record::RedactTarget;

    #[test]
    fn every_key_is_read() {
        let settings = parse(
            r#"
            [record]
            mode = "record"
            sample_rate = 0.25
            max_body_bytes = 4096
            dir = "recs"
            queue = 16
            max_dir_bytes = 65536
            max_held_bytes = 32768
            otlp_endpoint = "http://collector:4318/v1/traces"

            [[record.redact]]
            header = "X-Session"

            [[record.redact]]
            query = "sig"
            direction = "outbound"
            hosts = ["*.pay.test"]

            [[record.redact]]
            json = "$.card.number"
            action = "mask"
            keep = 2
            methods = ["POST"]
            routes = ["/cards/*"]

            [[record.redact]]
            json = "$..password"
            action = "replace"
            with = "***"
            direction = "inbound"

            [[record.redact]]
            column = "email"
            action = "mask"
            keep = 4
            hosts = ["db.*"]

            [[record.redact]]
            action = "drop"
            routes = ["/health"]
            "#,
        )
        .unwrap();
        let pattern = |text: &str| text.parse::<Pattern>().unwrap();
        assert_eq!(
            settings,
            FileSettings {
                mode: Some(Mode::Record),
                sample_rate: Some(0.25),
                max_body_bytes: Some(4096),
                dir: Some(PathBuf::from("recs")),
                queue: Some(16),
                max_dir_bytes: Some(65536),
                max_held_bytes: Some(32768),
                otlp_endpoint: Some("http://collector:4318/v1/traces".to_owned()),
                redact: vec![
                    RedactRule::header("x-session"),
                    RedactRule::query("sig")
                        .outbound()
                        .hosts([pattern("*.pay.test")]),
                    RedactRule::json("$.card.number".parse().unwrap())
                        .mask(2)
                        .methods(["POST"])
                        .routes([pattern("/cards/*")]),
                    RedactRule::json("$..password".parse().unwrap())
                        .replace("***")
                        .inbound(),
                    RedactRule::column("email").mask(4).hosts([pattern("db.*")]),
                    RedactRule::exchanges().routes([pattern("/health")]),
                ],
            }
        );
        assert_eq!(settings.redact[5].target(), &RedactTarget::Exchange);
        assert_eq!(parse("").unwrap(), FileSettings::default());
        // The replay command's table is its own business.
        assert_eq!(
            parse("[replay]\ncommand = \"cargo run\"").unwrap(),
            FileSettings::default()
        );
    }

    #[test]
    fn mistakes_are_errors_that_say_where() {
        for (text, expected) in [
            ("[record]\nsample_rat = 1", "unknown field `sample_rat`"),
            ("[recrod]", "unknown field `recrod`"),
            ("[replay]\nx = 1\n[record]\nqueue = 0", "record.queue = 0"),
            ("[record]\nsample_rate = 2.0", "record.sample_rate = 2"),
            ("[record]\nqueue = 0", "record.queue = 0"),
            ("[record]\nmax_dir_bytes = 0", "record.max_dir_bytes = 0"),
            (
                "[record]\notlp_endpoint = \"collector\"",
                "record.otlp_endpoint",
            ),
            ("[record]\nmode = \"tape\"", "unknown variant `tape`"),
            (
                "[[record.redact]]\nheader = \"a\"\nquery = \"b\"",
                "record.redact[0]: give one of",
            ),
            (
                "[[record.redact]]\nmethods = [\"GET\"]",
                "record.redact[0]: give header, query, json or column",
            ),
            (
                "[[record.redact]]\ncolumn = \"a\"\njson = \"$.b\"",
                "record.redact[0]: give one of",
            ),
            ("[[record.redact]]\ncolumn = \" \"", "names no column"),
            (
                "[[record.redact]]\njson = \"card\"",
                "invalid JSON path \"card\"",
            ),
            (
                "[[record.redact]]\nheader = \"a\"\naction = \"replace\"",
                "needs with",
            ),
            (
                "[[record.redact]]\nheader = \"a\"\nkeep = 2",
                "keep is only for",
            ),
            (
                "[[record.redact]]\nheader = \"a\"\naction = \"hash\"",
                "unknown variant `hash`",
            ),
            (
                "[[record.redact]]\nheader = \"a\"\nhost = [\"x\"]",
                "unknown field `host`",
            ),
            // Rules that could never match once redacted nothing, silently.
            (
                "[[record.redact]]\nheader = \"\"",
                "record.redact[0]: header \"\" is not a header name",
            ),
            (
                "[[record.redact]]\nheader = \"X Session\"",
                "header \"x session\" is not a header name",
            ),
            (
                "[[record.redact]]\nquery = \"\"",
                "query \"\" is not a query key",
            ),
            (
                "[[record.redact]]\nquery = \"a=b\"",
                "query \"a=b\" is not a query key",
            ),
            (
                "[[record.redact]]\naction = \"drop\"\nroutes = [\"health\"]",
                "route \"health\" does not start with `/` or `*`",
            ),
            (
                "[[record.redact]]\nheader = \"a\"\nmethods = [\"GET POST\"]",
                "method \"GET POST\" is not an HTTP method",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_whole_file_is_checked_as_the_service_reads_it() {
        assert_eq!(check_config("[replay]\nport = 1\n"), Ok(()));
        for (text, expected) in [
            ("[recrod]\nmode = \"record\"", "unknown field `recrod`"),
            ("[record]\nqueue = 0", "record.queue = 0"),
            ("[record]\nmode = ", "line 2"),
        ] {
            let err = check_config(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_documented_example_is_valid() {
        let doc = include_str!("../../../../docs/configuration.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap();
        let settings = parse(example).unwrap();
        assert_eq!(settings.mode, Some(Mode::Record));
        assert_eq!(settings.redact.len(), 6);
        assert_eq!(settings.redact[5].what_to_do(), &RedactAction::Drop);
    }

    #[test]
    fn a_relative_dir_is_taken_from_the_file_and_a_missing_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(CONFIG_FILE);
        std::fs::write(&path, "[record]\ndir = \"recs\"\n").unwrap();
        assert_eq!(read(&path).unwrap().dir, Some(tmp.path().join("recs")));
        let err = read(&tmp.path().join("missing.toml")).unwrap_err();
        assert!(matches!(err, ConfigFileError::Read { .. }), "{err}");
        std::fs::write(&path, "[record]\nqueue = \"x\"\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
}
