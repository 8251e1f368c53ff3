//! One round of the replay benchmark: the orders service started in
//! replay mode over the recordings, `tracetape replay` run against it as
//! a subprocess, its JSON report read and checked, the CPU time of both
//! processes taken.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::record::Recorded;
use super::service_env;
use super::verdicts::Verdicts;
use crate::child::{ChildGuard, ServedFiles, remove_telemetry_vars, start_served};
use crate::cli::ReplayArgs;
use crate::cpu::{CpuTime, ProcCpu};
use crate::orders::{CALLS_PER_ORDER, SERVICE_NAME};
use crate::run::{SERVE_START_TIMEOUT, SERVE_STOP_TIMEOUT};

/// How long one replay may take, beyond a generous time per recording.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(120);

/// What one round measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Round {
    pub(crate) number: u32,
    /// The service's start, from spawning it to its port file (it loads
    /// the recordings before it listens): not in the figure.
    pub(crate) startup: Duration,
    /// The report, checked: every recording passed.
    pub(crate) verdicts: Verdicts,
    /// The `tracetape` process from start to exit: the window, plus
    /// loading the recordings, writing the report, starting and exiting.
    pub(crate) process: Duration,
    /// The service's CPU time while `tracetape` ran.
    pub(crate) service_cpu: Option<CpuTime>,
    /// The `tracetape` process's CPU time, all of its run.
    pub(crate) replayer_cpu: Option<CpuTime>,
    /// The service ran with the preload library and unpatched-dependency
    /// detection on (and reported nothing).
    pub(crate) detection: bool,
}

impl Round {
    /// The progress line, on standard error.
    pub(crate) fn progress(&self) -> String {
        let cpu = |time: Option<CpuTime>| {
            time.map_or("-".to_owned(), |t| {
                format!("{:.2} s", t.total().as_secs_f64())
            })
        };
        format!(
            "round {}: {} of {} passed in {:.3} s: {:.0} replays/s; CPU: service {}, replayer {}",
            self.number,
            self.verdicts.totals.passed,
            self.verdicts.totals.recordings,
            self.verdicts.window.as_secs_f64(),
            self.verdicts.rate(),
            cpu(self.service_cpu),
            cpu(self.replayer_cpu),
        )
    }
}

/// Runs round `number`: a fresh service in replay mode, the replayer
/// against it; fails unless every recording passed.
pub(crate) fn replay(
    number: u32,
    recorded: &Recorded,
    args: &ReplayArgs,
    tracetape: &Path,
    dir: &Path,
    cpu: ProcCpu,
) -> anyhow::Result<Round> {
    let name = format!("replay-{number}");
    let files = ServedFiles::new(dir, &name)?;
    // As `tracetape replay` starts a service, with detection and the
    // replay clock on (it is run with `--no-start` here, so that the
    // service is this process's child and its CPU time can be read).
    let library = preload_library(tracetape);
    let unpatched = dir.join(format!("{name}.unpatched.jsonl"));
    let clock = dir.join(format!("{name}.clock"));
    let mut env = service_env("replay", &recorded.dir, args.traces);
    if let Some(library) = &library {
        // 65,536 slots of 16 bytes, sparse.
        std::fs::File::create(&clock)?.set_len(65_536 * 16)?;
        env.push(("LD_PRELOAD", library.into()));
        env.push(("TRACETAPE_UNPATCHED_REPORT", unpatched.clone().into()));
        env.push(("TRACETAPE_REPLAY_CLOCK", clock.into()));
    }
    let starting = Instant::now();
    let (mut service, port) = start_served(
        format!("orders service (replay mode, round {number})"),
        &["serve-orders", "--dependency", &recorded.dependency],
        &files,
        env,
        SERVE_START_TIMEOUT,
    )?;
    let startup = starting.elapsed();

    let report = dir.join(format!("{name}.json"));
    let stderr = dir.join(format!("{name}.tracetape.stderr"));
    let mut command = Command::new(tracetape);
    command
        .arg("replay")
        .arg("--no-start")
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .arg("--recordings")
        .arg(&recorded.dir)
        .args(["--service", SERVICE_NAME])
        .args(["--concurrency", &args.concurrency.to_string()])
        .args(
            args.order
                .iter()
                .flat_map(|order| ["--order", order.as_str()]),
        )
        .args(["--format", "json"])
        .arg("--output")
        .arg(&report)
        // No tracetape.toml of the caller's is read.
        .current_dir(&files.work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).context("creating the replayer's stderr file")?);
    remove_telemetry_vars(&mut command);

    let service_before = cpu.process(service.id());
    let reaped_before = cpu.reaped_children();
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", tracetape.display()))?;
    let mut replayer = ChildGuard::new("tracetape replay", child);
    let limit = REPLAY_TIMEOUT + Duration::from_millis(20) * recorded.count as u32;
    let status = replayer
        .wait_timeout(limit)?
        .with_context(|| format!("tracetape replay did not finish within {limit:?}"))?;
    let process = started.elapsed();
    // Reaped by the wait: its CPU time is now this process's children's.
    let reaped_after = cpu.reaped_children();
    let service_after = cpu.process(service.id());
    drop(replayer);

    let said = || fs::read_to_string(&stderr).unwrap_or_default();
    let json = fs::read(&report).with_context(|| {
        format!(
            "tracetape replay ({status}) wrote no report {}; its stderr:\n{}",
            report.display(),
            said()
        )
    })?;
    let verdicts =
        Verdicts::parse(&json).with_context(|| format!("reading {}", report.display()))?;
    if let Err(err) = verdicts.check(recorded.count, CALLS_PER_ORDER) {
        // What the service said (a group of requests given up on, say)
        // goes with the verdicts, once it has stopped.
        let _ = service.stop_cleanly(SERVE_STOP_TIMEOUT, &files.stderr);
        let service_said = fs::read_to_string(&files.stderr).unwrap_or_default();
        return Err(err.context(format!(
            "the report: {}; the service's stderr:\n{service_said}",
            report.display()
        )));
    }
    if !status.success() {
        bail!(
            "tracetape replay exited with {status} though its report says all passed; its \
             stderr:\n{}",
            said()
        );
    }
    service.ensure_running()?;
    service.stop_cleanly(SERVE_STOP_TIMEOUT, &files.stderr)?;
    let reported = fs::read_to_string(&unpatched).unwrap_or_default();
    if !reported.is_empty() {
        bail!("the service connected around tracetape's clients in replay:\n{reported}");
    }

    Ok(Round {
        number,
        startup,
        verdicts,
        process,
        service_cpu: service_before.zip(service_after).map(|(b, a)| a.since(b)),
        replayer_cpu: reaped_before.zip(reaped_after).map(|(b, a)| a.since(b)),
        detection: library.is_some(),
    })
}

/// The preload library where `tracetape replay` looks for it: beside
/// `tracetape`, or in `deps/` there.
fn preload_library(tracetape: &Path) -> Option<PathBuf> {
    const LIBRARY: &str = "libtracetape_preload.so";
    let dir = tracetape.parent()?;
    [dir.join(LIBRARY), dir.join("deps").join(LIBRARY)]
        .into_iter()
        .find(|path| path.is_file())
}
