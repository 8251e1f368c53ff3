//! One replay: the real `tracetape replay`, starting the depot service
//! itself (`--command`, so with the preload library and unpatched
//! detection, as a user runs it) in replay mode over the recordings, the
//! build changed or not, its JSON report read back as findings.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::change::Change;
use super::dependencies::Sink;
use super::judge::{Finding, findings};
use super::service::SERVICE_NAME;
use super::service_env;
use super::traffic::Recorded;
use crate::child::{ChildGuard, remove_telemetry_vars};

/// How long one replay may take.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(300);
/// The response headers compared: content-type (the default) and the
/// depot's `x-quote-version`, as a user of this service would configure.
pub(crate) const COMPARED_HEADERS: &str = r#"headers=["content-type", "x-quote-version"]"#;

/// What one replay reported.
#[derive(Debug, Clone)]
pub(crate) struct ReplayRun {
    pub(crate) change: Change,
    pub(crate) concurrency: u32,
    pub(crate) replayed: u64,
    pub(crate) passed: u64,
    pub(crate) deviated: u64,
    pub(crate) mock_missing: u64,
    pub(crate) errored: u64,
    pub(crate) findings: Vec<Finding>,
    /// `unpatched` entries of the report.
    pub(crate) unpatched: usize,
    /// Connections the dependencies' ports accepted during the replay.
    pub(crate) accepted: u64,
    pub(crate) elapsed: Duration,
    pub(crate) report: PathBuf,
}

/// The listeners on the dependencies' recorded ports, held for the whole
/// replay phase.
#[derive(Debug)]
pub(crate) struct Sinks {
    /// Runs the accepting tasks; they end with it.
    _runtime: tokio::runtime::Runtime,
    sinks: Vec<Arc<Sink>>,
}

impl Sinks {
    /// Binds `ports` on 127.0.0.1 and accepts on them, never answering.
    pub(crate) fn bind(ports: &[u16]) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("building the sinks' runtime")?;
        let sinks = runtime.block_on(async {
            let mut sinks = Vec::new();
            for port in ports {
                let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, *port))
                    .await
                    .with_context(|| format!("binding the dependency's port {port} again"))?;
                let sink = Arc::new(Sink::default());
                tokio::spawn(Arc::clone(&sink).hold(listener));
                sinks.push(sink);
            }
            anyhow::Ok(sinks)
        })?;
        Ok(Sinks {
            _runtime: runtime,
            sinks,
        })
    }

    fn accepted(&self) -> u64 {
        self.sinks.iter().map(|sink| sink.accepted()).sum()
    }
}

/// A port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr().context("local address")?.port())
}

/// `'text'` for `sh`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Replays every recording once against the build with `change`, at
/// `concurrency`; `name` names its files in `dir`.
pub(crate) fn replay(
    recorded: &Recorded,
    tracetape: &Path,
    sinks: &Sinks,
    change: Change,
    concurrency: u32,
    dir: &Path,
    name: &str,
) -> anyhow::Result<ReplayRun> {
    let work_dir = dir.join(name);
    fs::create_dir_all(&work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
    let exe = std::env::current_exe().context("locating this executable")?;
    let port = free_port()?;
    let service = format!(
        "exec {} serve-fidelity --partners {} --platform {} --port {port}",
        quoted(&exe.to_string_lossy()),
        recorded.partners,
        recorded.platform
    );
    let report = dir.join(format!("{name}.json"));
    let stderr = dir.join(format!("{name}.stderr"));
    let mut command = Command::new(tracetape);
    command
        .arg("replay")
        .args(["--command", &service])
        .args(["--port", &port.to_string()])
        .args(["--ready", "/health"])
        .arg("--recordings")
        .arg(&recorded.dir)
        .args(["--service", SERVICE_NAME])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--compare", COMPARED_HEADERS])
        .args(["--startup-timeout", "60s", "--request-timeout", "20s"])
        .args(["--format", "json"])
        .arg("--output")
        .arg(&report)
        // No tracetape.toml of the caller's is read.
        .current_dir(&work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).context("creating the replayer's stderr file")?);
    remove_telemetry_vars(&mut command);
    command.envs(service_env("replay", &recorded.dir, Some(change)));

    let accepted_before = sinks.accepted();
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", tracetape.display()))?;
    let mut replayer = ChildGuard::new("tracetape replay", child);
    let status = replayer
        .wait_timeout(REPLAY_TIMEOUT)?
        .with_context(|| format!("tracetape replay did not finish within {REPLAY_TIMEOUT:?}"))?;
    let elapsed = started.elapsed();
    let said = || fs::read_to_string(&stderr).unwrap_or_default();
    // 0: all passed; 1: something did not. Anything else: it did not run.
    if !matches!(status.code(), Some(0 | 1)) {
        bail!(
            "tracetape replay ({name}) exited with {status}; its stderr:\n{}",
            said()
        );
    }
    let json: Value = serde_json::from_slice(
        &fs::read(&report)
            .with_context(|| format!("tracetape replay wrote no report: {}", said()))?,
    )
    .with_context(|| format!("reading {}", report.display()))?;
    if json["interrupted"] == true || !json["service_failure"].is_null() {
        bail!(
            "tracetape replay ({name}) did not run through: {}; its stderr:\n{}",
            json["service_failure"],
            said()
        );
    }
    let count = |field: &str| json["totals"][field].as_u64().unwrap_or(0);
    Ok(ReplayRun {
        change,
        concurrency,
        replayed: count("recordings"),
        passed: count("passed"),
        deviated: count("deviated"),
        mock_missing: count("mock_missing"),
        errored: count("errored"),
        findings: findings(&json),
        unpatched: json["unpatched"].as_array().map_or(0, Vec::len),
        accepted: sinks.accepted() - accepted_before,
        elapsed,
        report,
    })
}
