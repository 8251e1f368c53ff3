//! `view`: how fast `tracetape view` takes spans in over OTLP, and how fast
//! it finds them again, with a million spans in its store.
//!
//! The release `tracetape` binary (beside this executable, or
//! `--tracetape`) runs `tracetape view` in a temporary directory on free
//! loopback ports, with its SQLite store there, an empty trace store and
//! no recordings or reports; its addresses are read from the lines it
//! prints, and it is killed when the run ends or fails.
//!
//! 1. Generation ([`traces`], not measured): `--spans` spans (1,000,000)
//!    in traces of `--spans-per-trace` (10): a root SERVER span, CLIENT
//!    calls under it and INTERNAL spans of the called service under
//!    those, across five services (one resource each); eight attributes
//!    a span (`http.request.method`, `http.route`, `url.path`,
//!    `http.response.status_code`, `server.address`, `user.id` (one of
//!    10,000), `order.id` (one per trace), `sku` (one of 1,000)); one
//!    trace in 100 with an error span; root durations log-uniform from
//!    1 ms to 2 s, children inside their parent; starts spread over the
//!    last hour. All of it is made ahead of time into
//!    `ExportTraceServiceRequest`s of `--batch` (512) spans, from a fixed
//!    seed (`--seed`).
//! 2. Ingest ([`ingest`]): `--senders` (4) tasks send those requests over
//!    one OTLP/gRPC channel (opentelemetry-proto's generated client), each
//!    waiting for its answer (the view answers once the batch is
//!    committed) before sending its next. The figure is spans per second
//!    from the first request to the last answer; beside it the view's CPU
//!    time over that window (`/proc/PID/stat` utime + stime, in the clock
//!    ticks `getconf CLK_TCK` gives, 100 when it does not answer), its
//!    peak resident set and the store's file sizes after.
//! 3. Latency ([`searches`]), one request at a time over keep-alive
//!    loopback HTTP, from sending to the answer's last byte: `--lookups`
//!    (200) `GET /api/traces/{id}` of random generated traces (each
//!    answer checked to hold the trace's spans); then each search of the
//!    table `--runs` (20) times (no filter, a service, a name substring,
//!    errors, a minimum duration, attributes common and rare, attribute
//!    with service, and queries that match nothing, the last of them by
//!    name alone, which reads every span), two of them with their second
//!    page; each answer is checked (the rare `order.id` finds exactly its
//!    trace, the no-match ones nothing).
//!
//! The table gives median, p95 and max per line against the brief's
//! targets at a million spans on the 2-core reference machine: a trace-id
//! lookup under 50 ms, a search under 500 ms; a line meets its target
//! when its p95 is under it.

mod ingest;
mod latency;
mod searches;
mod server;
mod traces;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::memory::{megabytes, peak_rss_bytes};
use crate::replay::tracetape_binary;
use latency::{Api, Stats};
use server::ViewServer;
use traces::{Generated, Shape};

/// `tracetape-bench view`: the ingest rate of `tracetape view` over
/// OTLP/gRPC, and its trace-lookup and search latencies with the store
/// filled (targets at 1,000,000 spans: lookup < 50 ms, search < 500 ms).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tracetape-bench view")]
pub(crate) struct ViewArgs {
    /// Spans sent to the view (and searched afterwards).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub(crate) spans: u64,
    /// Spans per trace: a root SERVER span, CLIENT and INTERNAL children.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) spans_per_trace: u32,
    /// Spans per OTLP export request.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) batch: u32,
    /// Tasks sending export requests at once, over one gRPC channel.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) senders: u32,
    /// Trace lookups timed.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) lookups: u32,
    /// Times each search is timed.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) runs: u32,
    /// The seed of the generated spans and of the lookups' choice.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// The `tracetape` binary; by default the one beside this executable
    /// (`cargo build --release -p tracetape-cli`).
    #[arg(long, value_name = "PATH")]
    pub(crate) tracetape: Option<PathBuf>,
    /// Keep the run's directory (the view's store, `view.sqlite`) and say
    /// where it is.
    #[arg(long)]
    pub(crate) keep: bool,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    what: String,
    answer: String,
    stats: Stats,
    target: Duration,
}

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &ViewArgs) -> anyhow::Result<()> {
    let tracetape = tracetape_binary(args.tracetape.as_deref())?;
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-view-")
        .tempdir()
        .context("creating a temporary directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let measured = runtime.block_on(measure(args, &tracetape, dir.path()));
    if args.keep || measured.is_err() {
        let kept = dir.keep();
        println!("the run's files are kept in {}", kept.display());
    }
    measured
}

async fn measure(args: &ViewArgs, tracetape: &Path, dir: &Path) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "tracetape-bench view: {} spans in traces of {}, OTLP/gRPC requests of {} spans from {} senders; {cpus} CPUs",
        args.spans, args.spans_per_trace, args.batch, args.senders
    );
    let mut generated = generate(args)?;
    let mut view = ViewServer::start(tracetape, dir)?;
    println!(
        "view: {} view, web UI at {}, OTLP/gRPC at {}",
        tracetape.display(),
        view.web,
        view.grpc
    );
    let spans = generated.spans;
    let requests = std::mem::take(&mut generated.requests);
    let ingested = ingest::send(&view.grpc, requests, args.senders, view.pid()).await?;
    view.ensure_running()?;
    print_ingest(spans, &ingested, &view);

    let api = Api::new(&view.web)?;
    let mut rows = vec![searches::lookups(&api, &generated, args.lookups, args.seed).await?];
    rows.extend(searches::searches(&api, &generated, args.runs).await?);
    view.ensure_running()?;
    print_table(&rows);
    Ok(())
}

/// The spans, made ahead of time; says how long that took.
fn generate(args: &ViewArgs) -> anyhow::Result<Generated> {
    let started = Instant::now();
    let generated = traces::generate(Shape {
        spans: args.spans,
        spans_per_trace: args.spans_per_trace,
        batch: args.batch,
        seed: args.seed,
    })?;
    println!(
        "generated {} spans ({} traces) into {} export requests ahead of time in {:.1} s (not in the ingest rate)",
        generated.spans,
        generated.traces.len(),
        generated.requests.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(generated)
}

/// The ingest's figures.
fn print_ingest(spans: u64, ingested: &ingest::Ingested, view: &ViewServer) {
    let seconds = ingested.elapsed.as_secs_f64();
    println!(
        "ingest: {spans} spans in {} requests in {seconds:.2} s: {:.0} spans/s ({:.0} requests/s)",
        ingested.requests,
        spans as f64 / seconds,
        ingested.requests as f64 / seconds
    );
    match ingested.cpu {
        Some(cpu) => println!(
            "view CPU during ingest: {:.2} s (user {:.2} s, system {:.2} s): {:.2} cores, {:.1} µs per span \
             (/proc/PID/stat utime+stime; clock ticks from getconf CLK_TCK, 100 if it does not say)",
            cpu.total().as_secs_f64(),
            cpu.user.as_secs_f64(),
            cpu.system.as_secs_f64(),
            cpu.total().as_secs_f64() / seconds,
            cpu.total().as_secs_f64() * 1e6 / spans as f64
        ),
        None => println!("view CPU during ingest: not measured (/proc did not say)"),
    }
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
    let mut wal = view.db.clone().into_os_string();
    wal.push("-wal");
    let (db, wal) = (size(&view.db), size(Path::new(&wal)));
    println!(
        "store after ingest: {:.1} MB ({:.1} MB file + {:.1} MB write-ahead log), {:.0} bytes per span; \
         view peak RSS {}",
        megabytes(db + wal),
        megabytes(db),
        megabytes(wal),
        (db + wal) as f64 / spans as f64,
        peak_rss_bytes(view.pid()).map_or("-".to_owned(), |b| format!("{:.1} MB", megabytes(b)))
    );
}

/// The latency table.
fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|row| row.what.len()).max().unwrap_or(4);
    println!();
    println!(
        "{:<width$}  {:<16} {:>5} {:>10} {:>8} {:>8}  {:<8} met",
        "what", "answer", "runs", "median ms", "p95 ms", "max ms", "target"
    );
    let ms = |time: Duration| time.as_secs_f64() * 1e3;
    for row in rows {
        let met = if row.stats.p95 < row.target {
            "yes"
        } else {
            "NO"
        };
        println!(
            "{:<width$}  {:<16} {:>5} {:>10.1} {:>8.1} {:>8.1}  {:<8} {met}",
            row.what,
            row.answer,
            row.stats.runs,
            ms(row.stats.median),
            ms(row.stats.p95),
            ms(row.stats.max),
            format!("< {:.0} ms", ms(row.target)),
        );
    }
    println!("met: the p95 is under the target (lookup < 50 ms, search < 500 ms)");
}
