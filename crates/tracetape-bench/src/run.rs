//! `run`: the whole benchmark. Starts the collector, then for each round
//! runs every mode once, in order (baseline, traced, local, baseline, ...),
//! each in a fresh `serve` process, and reports medians and ratios, each
//! traced mode against its own baseline (`pair-traced` against
//! `pair-baseline`, the others against `baseline`).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::child::{ChildGuard, wait_for_port_file};
use crate::cli::{LoadTool, Mode, RunArgs};
use crate::collector::Collector;
use crate::load::{Generator, LoadResult, run_load, wrk_available};

/// The throughput ratio the brief holds tracetape to.
const TARGET_RATIO: f64 = 0.90;
/// How long a server may take to start listening.
const SERVE_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to stop and flush its telemetry.
const SERVE_STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// One server run: one mode in one round.
#[derive(Debug)]
struct Sample {
    load: LoadResult,
    /// Requests answered during warm-up and measurement (the spans the
    /// server should have produced, give or take those in flight at the
    /// end).
    requests_served: u64,
    /// Spans the collector received for this run (modes that export).
    spans_received: Option<u64>,
    /// Bytes the local store wrote (local mode).
    store_bytes: Option<u64>,
    /// Whether the server stopped by itself when asked.
    clean_exit: bool,
    /// The server's standard error, when it wrote any.
    stderr: String,
}

/// Runs the benchmark and prints the report.
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<()> {
    let generator = match args.load {
        LoadTool::Builtin => Generator::Builtin,
        LoadTool::Wrk if !wrk_available() => bail!("--load wrk, but wrk is not on PATH"),
        LoadTool::Wrk => Generator::Wrk,
        LoadTool::Auto if wrk_available() => Generator::Wrk,
        LoadTool::Auto => Generator::Builtin,
    };
    // Declared first so it is removed last, after every child is gone.
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-")
        .tempdir()
        .context("creating a temporary directory")?;

    let mut collector = if args.modes.iter().any(|m| m.exports()) {
        Some(Collector::start(dir.path())?)
    } else {
        None
    };

    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "tracetape-bench: GET /hello, {} connections, {} s per run (+{} s warm-up), rounds: {}, \
         load: {}, {cpus} CPUs",
        args.connections,
        args.seconds,
        args.warmup,
        args.rounds,
        generator.name(),
    );
    if args.modes.iter().any(|m| m.is_pair()) {
        println!(
            "pair modes: load -> front GET /hello -> reqwest (keep-alive) -> back GET /hello, \
             both apps in one process on the same 2 workers"
        );
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
            let sample = measure(
                *mode,
                round,
                args,
                generator,
                dir.path(),
                collector.as_mut(),
            )
            .with_context(|| format!("round {round}, mode {mode}"))?;
            eprintln!(
                "  round {round} {:<13} {:>9.0} req/s{}",
                mode.name(),
                sample.load.rps,
                sample
                    .spans_received
                    .map(|s| format!(", {s} spans at the collector"))
                    .unwrap_or_default(),
            );
            runs.push(sample);
        }
    }
    drop(collector);

    print!("{}", report(args, &samples));
    Ok(())
}

/// Starts `serve` in `mode`, loads it (warm-up, then the measured run) and
/// stops it.
fn measure(
    mode: Mode,
    round: u32,
    args: &RunArgs,
    generator: Generator,
    dir: &Path,
    mut collector: Option<&mut Collector>,
) -> anyhow::Result<Sample> {
    let port_file = dir.join(format!("{mode}-{round}.port"));
    let stderr_path = dir.join(format!("{mode}-{round}.stderr"));
    let work_dir = dir.join(format!("{mode}-{round}"));
    fs::create_dir_all(&work_dir).with_context(|| format!("creating {}", work_dir.display()))?;

    let exe = std::env::current_exe().context("locating this executable")?;
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .args(["--mode", mode.name()])
        .arg("--port-file")
        .arg(&port_file)
        .current_dir(&work_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).context("creating the server's stderr file")?);
    // Only the settings below reach the server.
    for (name, _) in std::env::vars_os() {
        if is_telemetry_var(&name) {
            command.env_remove(name);
        }
    }
    let spans_before = match (mode, collector.as_deref_mut()) {
        (Mode::Traced | Mode::TracedGrpc | Mode::PairTraced, Some(collector)) => {
            collector.ensure_running()?;
            let (protocol, endpoint) = if mode == Mode::TracedGrpc {
                ("grpc", collector.grpc_endpoint())
            } else {
                ("http/protobuf", collector.http_endpoint())
            };
            command
                .env("OTEL_TRACES_EXPORTER", "otlp")
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                .env("OTEL_METRICS_EXPORTER", "otlp");
            Some(collector.spans_received()?)
        }
        (Mode::Traced | Mode::TracedGrpc | Mode::PairTraced, None) => {
            bail!("{mode} mode needs the collector")
        }
        (Mode::Local, _) => {
            command
                .env("OTEL_TRACES_EXPORTER", "local")
                .env("OTEL_METRICS_EXPORTER", "none");
            None
        }
        (Mode::Baseline | Mode::PairBaseline, _) => None,
    };
    if mode.is_traced() {
        command
            .env("OTEL_TRACES_SAMPLER", "always_on")
            .env("OTEL_SERVICE_NAME", "tracetape-bench");
    }

    let child = command.spawn().context("starting the server")?;
    let mut server = ChildGuard::new(format!("server ({mode})"), child);
    let port = wait_for_port_file(&port_file, &mut server, SERVE_START_TIMEOUT)?;

    let warmup_requests = if args.warmup > 0 {
        run_load(generator, port, args.connections, args.warmup)
            .context("warm-up")?
            .requests
    } else {
        0
    };
    server.ensure_running()?;
    let load = run_load(generator, port, args.connections, args.seconds)?;
    server.ensure_running()?;
    let clean_exit = server.stop(SERVE_STOP_TIMEOUT)?;
    drop(server);

    let spans_received = match (spans_before, collector) {
        (Some(before), Some(collector)) => {
            Some(collector.spans_received_settled(Duration::from_secs(3))? - before)
        }
        _ => None,
    };
    let store_bytes = (mode == Mode::Local).then(|| dir_size(&work_dir));
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    Ok(Sample {
        requests_served: warmup_requests + load.requests,
        load,
        spans_received,
        store_bytes,
        clean_exit,
        stderr,
    })
}

/// `OTEL_*` and `TRACETAPE_*` variables, which the parent's environment
/// must not leak into the measured servers.
fn is_telemetry_var(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("OTEL_") || name.starts_with("TRACETAPE_")
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

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values.get(mid).copied()
    } else {
        Some((values.get(mid - 1)? + values.get(mid)?) / 2.0)
    }
}

fn median_of(samples: &[Sample], value: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
    let mut values: Vec<f64> = samples.iter().filter_map(value).collect();
    median(&mut values)
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The runs of `mode`, if it ran.
fn runs_of(samples: &[(Mode, Vec<Sample>)], mode: Mode) -> Option<&[Sample]> {
    samples
        .iter()
        .find(|(m, _)| *m == mode)
        .map(|(_, runs)| runs.as_slice())
}

/// The ratio of `mode`'s median requests/s to its baseline's; `None` for
/// the baselines themselves, or when a median is missing.
fn median_ratio(samples: &[(Mode, Vec<Sample>)], mode: Mode) -> Option<f64> {
    let rps = |runs: &[Sample]| median_of(runs, |s| Some(s.load.rps));
    let base = rps(runs_of(samples, mode.baseline()?)?)?;
    Some(rps(runs_of(samples, mode)?)? / base)
}

/// The table, the notes and the ratio lines. Each traced mode is compared
/// with its own baseline ([`Mode::baseline`]).
fn report(args: &RunArgs, samples: &[(Mode, Vec<Sample>)]) -> String {
    let mut out = String::new();
    let width = samples
        .iter()
        .map(|(m, _)| m.name().len() + 1)
        .fold(12, usize::max);

    let _ = writeln!(out);
    let _ = write!(out, "{:<width$}", "mode");
    for round in 1..=args.rounds {
        let _ = write!(out, " {:>9}", format!("round {round}"));
    }
    let _ = writeln!(
        out,
        "  {:>12} {:>7} {:>7} {:>6}",
        "median req/s", "p50 ms", "p99 ms", "ratio"
    );
    for (mode, runs) in samples {
        let _ = write!(out, "{:<width$}", mode.name());
        for sample in runs {
            let _ = write!(out, " {:>9.0}", sample.load.rps);
        }
        let rps = median_of(runs, |s| Some(s.load.rps));
        let ratio = match mode.baseline() {
            Some(_) => median_ratio(samples, *mode),
            None => rps.map(|_| 1.0),
        };
        let _ = write!(
            out,
            "  {:>12} {:>7} {:>7} {:>6}",
            fmt_opt(rps, 0),
            fmt_opt(median_of(runs, |s| s.load.p50_ms), 3),
            fmt_opt(median_of(runs, |s| s.load.p99_ms), 3),
            fmt_opt(ratio, 3),
        );
        match mode.baseline() {
            Some(baseline) => {
                let _ = writeln!(out, "  vs {baseline}");
            }
            None => {
                let _ = writeln!(out);
            }
        }
    }
    let _ = writeln!(out);

    for (mode, runs) in samples {
        let errors: u64 = runs.iter().map(|s| s.load.errors).sum();
        if errors > 0 {
            let _ = writeln!(out, "warning: {mode}: {errors} failed requests");
        }
        let unclean = runs.iter().filter(|s| !s.clean_exit).count();
        if unclean > 0 {
            let _ = writeln!(
                out,
                "warning: {mode}: {unclean} server(s) did not stop within {SERVE_STOP_TIMEOUT:?} \
                 and were killed"
            );
        }
        if let Some(stderr) = runs.iter().map(|s| s.stderr.trim()).find(|s| !s.is_empty()) {
            let first: Vec<&str> = stderr.lines().take(3).collect();
            let _ = writeln!(out, "{mode} server stderr (first lines):");
            for line in first {
                let _ = writeln!(out, "  {line}");
            }
        }
        let served: u64 = runs.iter().map(|s| s.requests_served).sum();
        let spans: Option<u64> = runs.iter().map(|s| s.spans_received).sum();
        if let Some(spans) = spans {
            let _ = write!(out, "{}", spans_note(*mode, spans, served));
        }
        let bytes: Option<u64> = runs.iter().map(|s| s.store_bytes).sum();
        if let Some(bytes) = bytes {
            let _ = writeln!(
                out,
                "{mode}: the local store held {:.1} MB after each run on average \
                 (it is size-capped, so this is not a span count)",
                bytes as f64 / 1e6 / runs.len().max(1) as f64
            );
        }
        if let Some(baseline) = mode.baseline()
            && let Some(base) = runs_of(samples, baseline)
        {
            let per_round: Vec<String> = runs
                .iter()
                .zip(base)
                .map(|(s, b)| format!("{:.3}", s.load.rps / b.load.rps))
                .collect();
            let _ = writeln!(
                out,
                "{mode}: per-round ratios to the {baseline} of the same round: {}",
                per_round.join(" ")
            );
        }
    }
    let _ = writeln!(out);
    for (mode, _) in samples {
        let Some(baseline) = mode.baseline() else {
            continue;
        };
        let _ = writeln!(
            out,
            "ratio {mode}/{baseline}: {} (target >= {TARGET_RATIO:.2})",
            fmt_opt(median_ratio(samples, *mode), 2),
        );
    }
    out
}

/// The delivered-spans line of `mode` (and a warning when spans are
/// missing): `spans` received by the collector against the
/// [`Mode::spans_per_request`] of each of the `served` responses.
fn spans_note(mode: Mode, spans: u64, served: u64) -> String {
    let mut out = String::new();
    let per_request = mode.spans_per_request();
    let expected = served * per_request;
    let share = if expected > 0 {
        100.0 * spans as f64 / expected as f64
    } else {
        0.0
    };
    if per_request == 1 {
        let _ = writeln!(
            out,
            "{mode}: the collector received {spans} spans for {served} responses \
             counted by the load generator ({share:.1}%, warm-up included)"
        );
    } else {
        let which = if mode.is_pair() {
            " (front SERVER, CLIENT, back SERVER)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{mode}: the collector received {spans} spans for {served} responses \
             counted by the load generator at {per_request} spans each{which}: \
             {share:.1}% of {expected}, warm-up included"
        );
    }
    if spans == 0 {
        let _ = writeln!(
            out,
            "warning: {mode}: no span reached the collector; the traced numbers \
             measure a layer that exports nothing"
        );
    } else if share < 99.0 {
        let _ = writeln!(
            out,
            "warning: {mode}: {} spans did not reach the collector (dropped?)",
            expected.saturating_sub(spans)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    fn sample(rps: f64, spans: Option<u64>) -> Sample {
        Sample {
            load: LoadResult {
                requests: (rps * 10.0) as u64,
                errors: 0,
                seconds: 10.0,
                rps,
                p50_ms: Some(1.0),
                p99_ms: Some(2.0),
            },
            requests_served: (rps * 10.0) as u64,
            spans_received: spans,
            store_bytes: None,
            clean_exit: true,
            stderr: String::new(),
        }
    }

    #[test]
    fn report_has_ratio_line() {
        let args = RunArgs {
            seconds: 10,
            warmup: 0,
            connections: 32,
            rounds: 3,
            modes: vec![Mode::Baseline, Mode::Traced],
            load: LoadTool::Builtin,
        };
        let samples = vec![
            (
                Mode::Baseline,
                vec![sample(100.0, None), sample(110.0, None), sample(90.0, None)],
            ),
            (
                Mode::Traced,
                vec![
                    sample(80.0, Some(800)),
                    sample(85.0, Some(850)),
                    sample(95.0, Some(950)),
                ],
            ),
        ];
        let text = report(&args, &samples);
        assert!(
            text.contains("ratio traced/baseline: 0.85 (target >= 0.90)"),
            "{text}"
        );
        assert!(
            text.contains("received 2600 spans for 2600 responses"),
            "{text}"
        );
    }

    // The pair's ratio must be to pair-baseline: against the single-app
    // baseline it would mostly measure the extra hop, not tracetape.
    #[test]
    fn pair_ratio_is_against_the_pair_baseline() {
        let args = RunArgs {
            seconds: 10,
            warmup: 0,
            connections: 32,
            rounds: 2,
            modes: vec![
                Mode::Baseline,
                Mode::Traced,
                Mode::PairBaseline,
                Mode::PairTraced,
            ],
            load: LoadTool::Builtin,
        };
        let samples = vec![
            (
                Mode::Baseline,
                vec![sample(100.0, None), sample(100.0, None)],
            ),
            (
                Mode::Traced,
                vec![sample(90.0, Some(900)), sample(90.0, Some(900))],
            ),
            (
                Mode::PairBaseline,
                vec![sample(50.0, None), sample(40.0, None)],
            ),
            (
                Mode::PairTraced,
                vec![sample(40.0, Some(1200)), sample(36.0, Some(1080))],
            ),
        ];
        let text = report(&args, &samples);
        assert!(
            text.contains("ratio traced/baseline: 0.90 (target >= 0.90)"),
            "{text}"
        );
        // Medians 38 / 45.
        assert!(
            text.contains("ratio pair-traced/pair-baseline: 0.84 (target >= 0.90)"),
            "{text}"
        );
        assert!(!text.contains("ratio pair-traced/baseline"), "{text}");
        assert!(!text.contains("ratio pair-baseline/"), "{text}");
        assert!(
            text.contains(
                "pair-traced: per-round ratios to the pair-baseline of the same round: 0.800 0.900"
            ),
            "{text}"
        );
        let row = text
            .lines()
            .find(|l| l.starts_with("pair-traced "))
            .unwrap_or_default();
        assert!(row.ends_with(" 0.844  vs pair-baseline"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("pair-baseline "))
            .unwrap_or_default();
        assert!(row.ends_with(" 1.000"), "{text}");
        // 760 responses, 3 spans each: all 2280 arrived.
        assert!(
            text.contains(
                "pair-traced: the collector received 2280 spans for 760 responses counted by \
                 the load generator at 3 spans each (front SERVER, CLIENT, back SERVER): \
                 100.0% of 2280, warm-up included"
            ),
            "{text}"
        );
        assert!(!text.contains("warning"), "{text}");
    }

    #[test]
    fn pair_spans_missing_are_counted_three_per_response() {
        // 1000 responses want 3000 spans; only one per response arrived.
        let text = spans_note(Mode::PairTraced, 1000, 1000);
        assert!(text.contains("33.3% of 3000"), "{text}");
        assert!(
            text.contains("warning: pair-traced: 2000 spans did not reach the collector"),
            "{text}"
        );
        let text = spans_note(Mode::Traced, 1000, 1000);
        assert!(text.contains("(100.0%, warm-up included)"), "{text}");
        assert!(!text.contains("warning"), "{text}");
    }
}
