//! `run`: the whole benchmark. Starts the collector, writes the JSON body
//! and wrk script of each `json-*` workload, then for each round runs every
//! mode once, in order (baseline, traced, local, baseline, ...), each in a
//! fresh `serve` process, and prints the report ([`crate::report`]).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::child::{ServedFiles, start_served};
use crate::cli::RunArgs;
use crate::collector::Collector;
use crate::cpu::ProcCpu;
use crate::cpu_share::CpuMark;
use crate::exported::ExportCounts;
use crate::json;
use crate::load::{self, Generator, Target, run_load};
use crate::memory::peak_rss_bytes;
use crate::mode::{Mode, Setup, Workload};
use crate::recordings::{self, RecorderCounts};
use crate::report::report;
use crate::sample::{Exit, Sample};

/// How long a server may take to start listening.
pub(crate) const SERVE_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to stop, flush its telemetry and write what
/// its recorder still holds.
pub(crate) const SERVE_STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// One workload as this run drives it: what the load sends, with how many
/// connections.
#[derive(Debug)]
struct Drive {
    workload: Workload,
    target: Target,
    connections: u32,
}

/// Runs the benchmark and prints the report.
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<()> {
    let generator = load::choose(args.load)?;
    // Declared first so it is removed last, after every child is gone.
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-")
        .tempdir()
        .context("creating a temporary directory")?;

    let mut drives: Vec<Drive> = Vec::new();
    for mode in &args.modes {
        let workload = mode.workload();
        if !drives.iter().any(|d| d.workload == workload) {
            drives.push(prepare(workload, args, dir.path())?);
        }
    }

    let mut collector = if args.modes.iter().any(|m| m.exports()) {
        Some(Collector::start(dir.path())?)
    } else {
        None
    };

    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "tracetape-bench: {} s per run (+{} s warm-up), rounds: {}, load: {}, {cpus} CPUs",
        args.seconds,
        args.warmup,
        args.rounds,
        generator.name(),
    );
    for drive in &drives {
        println!("{}", describe(drive, &args.modes)?);
    }
    if let Some(collector) = &collector {
        println!(
            "collector: {} (blackhole exporter), OTLP/HTTP at {}, OTLP/gRPC at {}",
            collector.binary().display(),
            collector.http_endpoint(),
            collector.grpc_endpoint()
        );
    }

    let mut samples: Vec<(Mode, Vec<Sample>)> =
        args.modes.iter().map(|&m| (m, Vec::new())).collect();
    for round in 1..=args.rounds {
        for (mode, runs) in &mut samples {
            let drive = drives
                .iter()
                .find(|d| d.workload == mode.workload())
                .context("a mode without its workload")?;
            let sample = measure(
                *mode,
                round,
                args,
                (generator, drive),
                dir.path(),
                collector.as_mut(),
            )
            .with_context(|| format!("round {round}, mode {mode}"))?;
            eprintln!("  round {round} {:<16} {}", mode.name(), progress(&sample));
            runs.push(sample);
        }
    }
    drop(collector);

    print!("{}", report(args.rounds, SERVE_STOP_TIMEOUT, &samples));
    Ok(())
}

/// The target and connection count of `workload`; for JSON, the order
/// written to a file with the wrk script that posts it.
fn prepare(workload: Workload, args: &RunArgs, dir: &Path) -> anyhow::Result<Drive> {
    let target = match workload {
        Workload::Hello | Workload::Pair => Target::Hello,
        Workload::Json(bytes) => Target::json(dir, &format!("order-{bytes}"), &json::order(bytes))?,
    };
    Ok(Drive {
        workload,
        target,
        connections: args
            .connections
            .unwrap_or_else(|| workload.default_connections()),
    })
}

/// The header line of one workload: its request, body sizes, connections
/// and the modes that drive it.
fn describe(drive: &Drive, modes: &[Mode]) -> anyhow::Result<String> {
    let names: Vec<&str> = modes
        .iter()
        .filter(|m| m.workload() == drive.workload)
        .map(|m| m.name())
        .collect();
    let bodies = match &drive.target {
        Target::Hello if drive.workload == Workload::Pair => {
            " (front -> reqwest, keep-alive -> back GET /hello, both apps in one process on \
             the same 2 workers)"
                .to_owned()
        }
        Target::Hello => String::new(),
        Target::Json { body, .. } => {
            let order = fs::read(body).with_context(|| format!("reading {}", body.display()))?;
            let value: serde_json::Value =
                serde_json::from_slice(&order).context("parsing the order")?;
            let answer = json::confirmation(&value).context("the order has no items")?;
            let answer = serde_json::to_vec(&answer).context("serializing the confirmation")?;
            format!(
                ": {}-byte JSON order in, {}-byte JSON confirmation out",
                order.len(),
                answer.len()
            )
        }
    };
    Ok(format!(
        "{}{bodies}, {} connections: {}",
        drive.workload.request_line(),
        drive.connections,
        names.join(", ")
    ))
}

/// The progress line of one run, on standard error.
fn progress(sample: &Sample) -> String {
    let mut line = format!("{:>9.0} req/s", sample.load.rps);
    if let Some(peak) = sample.peak_rss {
        line.push_str(&format!(", peak {:.1} MB", peak as f64 / 1e6));
    }
    if let Some(spans) = sample.spans_received {
        line.push_str(&format!(", {spans} spans at the collector"));
    }
    if let Some(counts) = sample.recorder {
        line.push_str(&format!(
            ", {} recorded, {} dropped",
            counts.written, counts.dropped
        ));
    }
    line
}

/// Starts `serve` in `mode`, loads it (warm-up, then the measured run),
/// reads its peak memory, stops it, and for record modes counts and
/// removes its recordings.
fn measure(
    mode: Mode,
    round: u32,
    args: &RunArgs,
    (generator, drive): (Generator, &Drive),
    dir: &Path,
    mut collector: Option<&mut Collector>,
) -> anyhow::Result<Sample> {
    let files = ServedFiles::new(dir, &format!("{mode}-{round}"))?;
    let record_dir = files.work_dir.join("recordings");
    let spans_before = match collector.as_deref_mut() {
        Some(collector) if mode.exports() => {
            collector.ensure_running()?;
            Some(collector.spans_received()?)
        }
        _ => None,
    };
    let env = telemetry_env(mode, collector.as_deref(), &record_dir)?;
    let (mut server, port) = start_served(
        format!("server ({mode})"),
        &["serve", "--mode", mode.name()],
        &files,
        env,
        SERVE_START_TIMEOUT,
    )?;

    let warmup_requests = if args.warmup > 0 {
        run_load(
            generator,
            port,
            &drive.target,
            drive.connections,
            args.warmup,
        )
        .context("warm-up")?
        .requests
    } else {
        0
    };
    server.ensure_running()?;
    let collector_pid = collector
        .as_deref()
        .filter(|_| mode.exports())
        .and_then(Collector::pid);
    let mark = CpuMark::take(ProcCpu::new(), server.id(), collector_pid);
    let load = run_load(
        generator,
        port,
        &drive.target,
        drive.connections,
        args.seconds,
    )?;
    let cpu = mark.and_then(CpuMark::since);
    server.ensure_running()?;
    let peak_rss = peak_rss_bytes(server.id());
    let exit = match server.stop(SERVE_STOP_TIMEOUT)? {
        Some(status) if status.success() => Exit::Ok,
        Some(status) => Exit::Failed(status.to_string()),
        None => Exit::Killed,
    };
    drop(server);

    let spans_received = match (spans_before, collector) {
        (Some(before), Some(collector)) => {
            Some(collector.spans_received_settled(Duration::from_secs(3))? - before)
        }
        _ => None,
    };
    let store_bytes = (mode.setup() == Setup::Local).then(|| dir_size(&files.work_dir));
    let stdout = fs::read_to_string(&files.stdout).unwrap_or_default();
    let exported = ExportCounts::parse(&stdout);
    let (recorder, recorded) = if mode.records() {
        let recorded = recordings::inspect(&record_dir)?;
        // Recordings of 1 MB bodies add up to gigabytes a run.
        fs::remove_dir_all(&record_dir)
            .or_else(|err| match err.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(err),
            })
            .with_context(|| format!("removing {}", record_dir.display()))?;
        (RecorderCounts::parse(&stdout), Some(recorded))
    } else {
        (None, None)
    };
    let stderr = fs::read_to_string(&files.stderr).unwrap_or_default();
    Ok(Sample {
        requests_served: warmup_requests + load.requests,
        load,
        spans_received,
        exported,
        store_bytes,
        peak_rss,
        cpu,
        recorder,
        recorded,
        exit,
        stderr,
    })
}

/// The `OTEL_*` and `TRACETAPE_*` settings of the server in `mode`:
/// every request sampled; spans to the collector (over gRPC for
/// `traced-grpc`, else OTLP/HTTP) or the local store; record modes record
/// every request into `record_dir`, the traced `json-*` modes say
/// `TRACETAPE_MODE=off`.
pub(crate) fn telemetry_env(
    mode: Mode,
    collector: Option<&Collector>,
    record_dir: &Path,
) -> anyhow::Result<Vec<(&'static str, OsString)>> {
    let mut env: Vec<(&'static str, OsString)> = Vec::new();
    if !mode.is_traced() {
        return Ok(env);
    }
    env.push(("OTEL_TRACES_SAMPLER", "always_on".into()));
    env.push(("OTEL_SERVICE_NAME", "tracetape-bench".into()));
    if mode.setup() == Setup::Local {
        env.push(("OTEL_TRACES_EXPORTER", "local".into()));
        env.push(("OTEL_METRICS_EXPORTER", "none".into()));
        return Ok(env);
    }
    let Some(collector) = collector else {
        bail!("{mode} mode needs the collector");
    };
    let (protocol, endpoint) = if mode.setup() == Setup::OtlpGrpc {
        ("grpc", collector.grpc_endpoint())
    } else {
        ("http/protobuf", collector.http_endpoint())
    };
    env.push(("OTEL_TRACES_EXPORTER", "otlp".into()));
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.into()));
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.into()));
    env.push(("OTEL_METRICS_EXPORTER", "otlp".into()));
    if mode.records() {
        env.push(("TRACETAPE_MODE", "record".into()));
        env.push(("TRACETAPE_RECORD_SAMPLE_RATE", "1".into()));
        env.push(("TRACETAPE_RECORD_DIR", record_dir.into()));
    } else if matches!(mode.workload(), Workload::Json(_)) {
        env.push(("TRACETAPE_MODE", "off".into()));
    }
    Ok(env)
}

/// Total size of the files under `path`.
fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}
