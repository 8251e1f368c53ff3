//! `replay`: how fast `tracetape replay` replays recordings.
//!
//! First it records ([`record`]): the orders service ([`crate::orders`],
//! three outbound calls a request) runs as a `serve-orders` child with
//! `TRACETAPE_MODE=record` against the dependency, served by this
//! process, and is sent `--recordings` distinct orders; once it has
//! stopped (flushing its recorder), every recording is checked: one file
//! each, the request answered, three calls. Recording time is not
//! measured.
//!
//! Then, each round ([`round`]), with the dependency gone, it starts the
//! same service with `TRACETAPE_MODE=replay` over those recordings, waits
//! until it listens, and runs the real `tracetape replay --no-start --url
//! ... --concurrency N --format json --output FILE` against it as a
//! subprocess: the CLI loads the recordings, sends each recorded request,
//! has the service answer its calls from the recording, compares each
//! response with the recorded one and writes its JSON report. The figure
//! is recordings per second over the report's `duration_ms`, which runs
//! from the CLI's (single, immediate) readiness probe to the last verdict:
//! the service's start-up is excluded, and so are the CLI's loading of the
//! recordings and writing of the report (the process's whole wall time is
//! given too). A round in which any recording did not pass, or did not
//! make its three calls, fails the run ([`verdicts`]).
//!
//! [`summary`] prints the rounds, their median against the brief's target
//! (1,000 recorded requests/s, three mocked calls each), and the CPU time
//! of the service (from `/proc/<pid>/stat` around the replay) and of the
//! replayer (its whole process, from this process's reaped-children time).

mod record;
mod round;
mod summary;
mod verdicts;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::{ReplayArgs, Traces};
use crate::cpu::ProcCpu;
use crate::orders::{CALLS_PER_ORDER, REQUEST_LINE, SERVICE_NAME};
use crate::server::WORKERS;

/// Runs the replay benchmark and prints its report. On failure the run's
/// files (recordings, reports, service output) are kept and named.
pub(crate) fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let tracetape = tracetape_binary(args.tracetape.as_deref())?;
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-replay-")
        .tempdir()
        .context("creating a temporary directory")?;
    match measure(args, &tracetape, dir.path()) {
        Ok(()) => Ok(()),
        Err(err) => {
            let kept = dir.keep();
            Err(err.context(format!("the run's files are kept in {}", kept.display())))
        }
    }
}

fn measure(args: &ReplayArgs, tracetape: &Path, dir: &Path) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "tracetape-bench replay: {} recordings of {REQUEST_LINE} ({CALLS_PER_ORDER} outbound calls \
         each, through TracingMiddleware), concurrency {}, rounds: {}, {cpus} CPUs",
        args.recordings, args.concurrency, args.rounds
    );
    println!(
        "replayer: {} replay --no-start --concurrency {} --format json",
        tracetape.display(),
        args.concurrency
    );
    println!(
        "service: axum + TraceLayer, reqwest + TracingMiddleware, {WORKERS} workers, spans: {}",
        match args.traces {
            Traces::None => "none (OTEL_TRACES_EXPORTER=none)",
            Traces::Local => "the local store (OTEL_TRACES_EXPORTER=local)",
        }
    );

    let recorded = record::record(args, dir)?;
    println!("{}", recorded.describe());

    let cpu = ProcCpu::new();
    let mut rounds = Vec::new();
    for number in 1..=args.rounds {
        let round = round::replay(number, &recorded, args, tracetape, dir, cpu)
            .with_context(|| format!("replay round {number}"))?;
        eprintln!("  {}", round.progress());
        rounds.push(round);
    }
    print!("{}", summary::summary(args, &rounds));
    Ok(())
}

/// `--tracetape`, else the `tracetape` binary beside this executable
/// (both are in `target/release` after a release build of each).
pub(crate) fn tracetape_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()
            .context("locating this executable")?
            .with_file_name("tracetape"),
    };
    if !path.is_file() {
        bail!(
            "no tracetape binary at {}: build it with `cargo build --release -p tracetape-cli` \
             (or name one with --tracetape)",
            path.display()
        );
    }
    Ok(path)
}

/// The environment of the orders service in `mode` (`record` or
/// `replay`) over the recordings in `recordings`: every request sampled,
/// spans where `traces` says, no metrics.
fn service_env(mode: &str, recordings: &Path, traces: Traces) -> Vec<(&'static str, OsString)> {
    vec![
        ("OTEL_SERVICE_NAME", SERVICE_NAME.into()),
        ("OTEL_TRACES_SAMPLER", "always_on".into()),
        ("OTEL_TRACES_EXPORTER", traces.name().into()),
        ("OTEL_METRICS_EXPORTER", "none".into()),
        ("TRACETAPE_MODE", mode.into()),
        ("TRACETAPE_RECORD_DIR", recordings.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tracetape_binary_says_how_to_build_it() {
        let err = tracetape_binary(Some(Path::new("/no/such/tracetape")))
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("cargo build --release -p tracetape-cli"),
            "{err}"
        );
    }
}
