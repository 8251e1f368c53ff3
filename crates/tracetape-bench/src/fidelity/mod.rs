//! `fidelity`: whether replay tells an unchanged build from a changed
//! one, on a service written for it ([`service`]: a bike-rental depot
//! with dynamic values in its outbound queries, bodies and headers,
//! concurrent calls, a retry, gzip, an NDJSON stream, start-up and
//! periodic background calls, in-memory state, work after the response and
//! dates counted from today).
//!
//! 1. Recording ([`traffic`]): the depot runs with `TRACETAPE_MODE=record`
//!    against its two dependencies ([`dependencies`], served by this
//!    process) and is sent `--requests` requests over all its endpoints,
//!    some one at a time, some ten at once. Then the dependencies stop.
//! 2. The unchanged build: the real `tracetape replay` starts the depot
//!    itself (`--command`, with its preload library) and replays every
//!    recording, at each `--concurrency` by turns, until at least
//!    `--replays` requests have been replayed ([`replay`]). Every
//!    recording that does not pass is a false deviation.
//! 3. Each change ([`change`]): the depot started with
//!    `FIDELITY_CHANGE=<name>` and every recording replayed once at
//!    concurrency 1. The report's findings ([`judge`]) at a place where no
//!    unchanged run had any (same request, same place, array indices
//!    aside) say whether it was caught, and
//!    whether at its right place (a JSON path, the status, a header, or
//!    the outbound call: method and path).
//! 4. While replaying, listeners hold the dependencies' recorded ports,
//!    accepting and counting connections but never answering; with the
//!    report's `unpatched` entries, they count connections that reached a
//!    dependency.
//!
//! [`summary`] prints the runs, the changes and the totals against the
//! targets (0 false deviations, >= 95% of changes caught, all at the right
//! place, 0 connections). The run fails only when it cannot run (the
//! recording goes wrong, `tracetape replay` cannot run), never because a
//! target was missed.

mod change;
mod dependencies;
mod judge;
mod replay;
pub(crate) mod service;
mod summary;
mod traffic;
mod values;

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use self::change::Change;
use self::replay::Sinks;

/// `tracetape-bench fidelity`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tracetape-bench fidelity")]
pub(crate) struct FidelityArgs {
    /// Requests recorded (over all endpoints).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(20..=100_000))]
    pub(crate) requests: u64,
    /// The concurrencies the unchanged build is replayed at, by turns.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) concurrency: Vec<u32>,
    /// Unchanged replays: every recording is replayed, at the next
    /// concurrency, until at least this many requests have been (and at
    /// each concurrency once).
    #[arg(long, default_value_t = 1000)]
    pub(crate) replays: u64,
    /// Only these changes (names as in the report); default: all.
    #[arg(long, value_delimiter = ',')]
    pub(crate) changes: Vec<String>,
    /// The `tracetape` binary [default: the one beside this executable].
    #[arg(long)]
    pub(crate) tracetape: Option<PathBuf>,
    /// Keep the run's files (recordings, reports, logs) and say where.
    #[arg(long)]
    pub(crate) keep: bool,
}

/// The environment of the depot in `mode` over `recordings`; `change`
/// sets `FIDELITY_CHANGE` (replay only).
fn service_env(
    mode: &str,
    recordings: &Path,
    change: Option<Change>,
) -> Vec<(&'static str, OsString)> {
    let mut env = vec![
        ("OTEL_SERVICE_NAME", service::SERVICE_NAME.into()),
        ("OTEL_TRACES_SAMPLER", "always_on".into()),
        ("OTEL_TRACES_EXPORTER", "none".into()),
        ("OTEL_METRICS_EXPORTER", "none".into()),
        ("TRACETAPE_MODE", mode.into()),
        ("TRACETAPE_RECORD_DIR", recordings.into()),
    ];
    if let Some(change) = change {
        env.push(("FIDELITY_CHANGE", change.name().into()));
    }
    env
}

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &FidelityArgs) -> anyhow::Result<()> {
    let tracetape = crate::replay::tracetape_binary(args.tracetape.as_deref())?;
    let changes: Vec<Change> = if args.changes.is_empty() {
        Change::ALL.to_vec()
    } else {
        args.changes
            .iter()
            .map(|name| name.parse())
            .collect::<anyhow::Result<_>>()?
    };
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-fidelity-")
        .tempdir()
        .context("creating a temporary directory")?;
    match measure(args, &changes, &tracetape, dir.path()) {
        Ok(()) if !args.keep => Ok(()),
        Ok(()) => {
            let kept = dir.keep();
            println!("the run's files are kept in {}", kept.display());
            Ok(())
        }
        Err(err) => {
            let kept = dir.keep();
            Err(err.context(format!("the run's files are kept in {}", kept.display())))
        }
    }
}

fn measure(
    args: &FidelityArgs,
    changes: &[Change],
    tracetape: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    println!(
        "tracetape-bench fidelity: {} requests recorded, then replayed unchanged at concurrency \
         {:?} until >= {} replays, then {} changed builds at concurrency 1",
        args.requests,
        args.concurrency,
        args.replays,
        changes.len()
    );
    println!(
        "replayer: {} replay --command '... serve-fidelity ...' --format json --compare '{}'",
        tracetape.display(),
        replay::COMPARED_HEADERS
    );
    let recorded = traffic::record(args.requests, dir).context("recording")?;
    println!("{}", recorded.describe());
    println!(
        "dependencies stopped; their ports ({}, {}) held by listeners that count connections and \
         never answer",
        recorded.partners_port, recorded.platform_port
    );
    let sinks = Sinks::bind(&[recorded.partners_port, recorded.platform_port])?;

    let mut unchanged = Vec::new();
    let mut replayed = 0;
    while replayed < args.replays || unchanged.len() < args.concurrency.len() {
        let concurrency = args.concurrency[unchanged.len() % args.concurrency.len()];
        let name = format!("unchanged-{}", unchanged.len() + 1);
        let run = replay::replay(
            &recorded,
            tracetape,
            &sinks,
            Change::None,
            concurrency,
            dir,
            &name,
        )
        .with_context(|| format!("replaying the unchanged build ({name})"))?;
        if run.replayed == 0 {
            bail!(
                "the unchanged replay {name} replayed nothing: {}",
                run.report.display()
            );
        }
        eprintln!(
            "  {name}: concurrency {concurrency}: {} of {} passed in {:.1} s",
            run.passed,
            run.replayed,
            run.elapsed.as_secs_f64()
        );
        replayed += run.replayed;
        unchanged.push(run);
    }
    let noise: HashSet<String> = unchanged
        .iter()
        .flat_map(|run| &run.findings)
        .map(judge::Finding::key)
        .collect();

    let mut judged = Vec::new();
    for change in changes {
        let run = replay::replay(&recorded, tracetape, &sinks, *change, 1, dir, change.name())
            .with_context(|| format!("replaying the build with change {}", change.name()))?;
        let verdict = judge::judge(*change, &run.findings, &noise);
        eprintln!(
            "  {}: caught {}, at the right place {}",
            change.name(),
            verdict.caught,
            verdict.right_place
        );
        judged.push((run, verdict));
    }
    print!("{}", summary::summary(&unchanged, &judged));
    Ok(())
}
