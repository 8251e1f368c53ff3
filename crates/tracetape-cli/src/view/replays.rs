//! Replay reports for the UI: the `tracetape replay --format json`
//! reports named with `--report` and those in `--reports-dir`, and beside
//! each replayed recording its recorded calls, so that the UI can set what
//! the build did against what the recording did, call by call.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use tracetape::record::{ExchangeKind, RecordingStore};
use tracetape::replay::ReplayId;

/// Where reports are found.
#[derive(Debug, Clone)]
pub(crate) struct Reports {
    files: Vec<PathBuf>,
    dir: PathBuf,
}

/// A report in the list.
#[derive(Debug, Serialize)]
pub(crate) struct Listed {
    /// The file, which `GET /api/replays/report?file=` takes back.
    pub(crate) file: String,
    pub(crate) service: Option<String>,
    pub(crate) passed: Option<bool>,
    pub(crate) totals: Value,
    /// Why it could not be read, when it could not.
    pub(crate) error: Option<String>,
}

/// A report with the recorded calls of its recordings.
#[derive(Debug, Serialize)]
pub(crate) struct Opened {
    pub(crate) file: String,
    pub(crate) report: Value,
    /// By recording id: the recorded inbound request and its calls, in
    /// recorded order (the report's call `index`es point into them).
    pub(crate) recorded: HashMap<String, Recorded>,
    /// Why recordings could not be read, when they could not.
    pub(crate) recordings_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) status: u16,
    pub(crate) calls: Vec<RecordedCall>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RecordedCall {
    pub(crate) method: String,
    pub(crate) url: String,
    /// `http` or `database`.
    pub(crate) kind: &'static str,
    pub(crate) status: u16,
}

impl Reports {
    pub(crate) fn new(files: Vec<PathBuf>, dir: PathBuf) -> Self {
        Self { files, dir }
    }

    /// The report files: those named, then the directory's `*.json`,
    /// newest first.
    fn files(&self) -> Vec<PathBuf> {
        let mut in_dir: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
            .map(|entry| {
                let modified = entry
                    .metadata()
                    .and_then(|meta| meta.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, entry.path())
            })
            .collect();
        in_dir.sort_by(|a, b| b.cmp(a));
        let mut files = self.files.clone();
        files.extend(in_dir.into_iter().map(|(_, path)| path));
        files
    }

    pub(crate) fn list(&self) -> Vec<Listed> {
        self.files()
            .into_iter()
            .map(|path| {
                let file = path.display().to_string();
                match read(&path) {
                    Ok(report) => Listed {
                        file,
                        service: report["service"].as_str().map(str::to_owned),
                        passed: report["passed"].as_bool(),
                        totals: report["totals"].clone(),
                        error: None,
                    },
                    Err(err) => Listed {
                        file,
                        service: None,
                        passed: None,
                        totals: Value::Null,
                        error: Some(format!("{err:#}")),
                    },
                }
            })
            .collect()
    }

    /// One of the listed reports (no other file is read).
    pub(crate) fn open(&self, file: &str) -> anyhow::Result<Option<Opened>> {
        let Some(path) = self
            .files()
            .into_iter()
            .find(|path| path.display().to_string() == file)
        else {
            return Ok(None);
        };
        let report = read(&path)?;
        let (recorded, recordings_error) = match report["recordings_dir"].as_str() {
            Some(dir) => match recorded(Path::new(dir)) {
                Ok(recorded) => (recorded, None),
                Err(err) => (HashMap::new(), Some(format!("{err:#}"))),
            },
            None => (
                HashMap::new(),
                Some("the report names no recordings directory".to_owned()),
            ),
        };
        Ok(Some(Opened {
            file: file.to_owned(),
            report,
            recorded,
            recordings_error,
        }))
    }
}

fn read(path: &Path) -> anyhow::Result<Value> {
    let text = fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
    let report: Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if !report["recordings"].is_array() {
        anyhow::bail!(
            "{} is not a `tracetape replay --format json` report",
            path.display()
        );
    }
    Ok(report)
}

/// The recorded side of every recording in `dir`, by recording id.
fn recorded(dir: &Path) -> anyhow::Result<HashMap<String, Recorded>> {
    let loaded = RecordingStore::new(dir)
        .load()
        .with_context(|| format!("failed to read the recordings in {}", dir.display()))?;
    let mut by_id = HashMap::new();
    for stored in loaded.recordings {
        let recording = &stored.recording;
        let Some(id) = ReplayId::of(recording) else {
            continue;
        };
        let Some(inbound) = recording
            .exchanges
            .iter()
            .find(|exchange| exchange.kind == ExchangeKind::Server)
        else {
            continue;
        };
        let calls = recording
            .calls()
            .map(|call| RecordedCall {
                method: call.request.method.clone(),
                url: call.request.url.clone(),
                kind: match call.kind {
                    ExchangeKind::Database => "database",
                    _ => "http",
                },
                status: call.response.as_ref().map_or(0, |response| response.status),
            })
            .collect();
        by_id.insert(
            id.to_string(),
            Recorded {
                method: inbound.request.method.clone(),
                url: inbound.request.url.clone(),
                status: inbound
                    .response
                    .as_ref()
                    .map_or(0, |response| response.status),
                calls,
            },
        );
    }
    Ok(by_id)
}
