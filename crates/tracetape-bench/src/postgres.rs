//! `postgres`: query throughput with and without tracetape's PostgreSQL
//! instrumentation, in the same run.
//!
//! A real PostgreSQL server (started as the library's tests start theirs:
//! Debian's package, a cluster in a temporary directory) holds a table of
//! 1,000 items. In this process, `--tasks` tasks each take a connection
//! from a pool of `--pool` connections and run one point lookup by
//! primary key (a prepared statement), again and again, for `--seconds`.
//! The pool is `--driver`'s: a sqlx pool, whose connections go through
//! tracetape's proxy, or a deadpool-postgres pool of tokio-postgres
//! connections that tracetape reads in place (`Connector` as the pool's
//! way to connect). The modes:
//!
//! - `untraced`: the pool connects to the server;
//! - `bare`: tracetape in the path (the proxy's hop, or the stream read in
//!   place) with a no-op tracer provider and no pool hooks: the cost of
//!   the path alone;
//! - `traced`: as a service would have it (`proxy` and `sqlx_traced`'s
//!   hooks, or `Connector` and `deadpool_traced`'s: a marker per
//!   check-out), every query's span exported over OTLP/HTTP to a real
//!   collector (rotel);
//! - `recorded`: the same in record mode: every query (outside any
//!   request here) a background recording of its own, with its parameters
//!   and rows, written to a directory of the run's.
//!
//! Then replay speed (`--replay-seconds`): one lookup of each item is
//! recorded, and the same load runs in replay mode, every query answered
//! by tracetape from those recordings, no database reached.
//!
//! Modes alternate within each round, so all see the same machine; each
//! run sets telemetry up for its mode and shuts it down after. The report
//! gives queries per second per round and their median, and each mode's
//! rate over the untraced rate of the same round, the median of those
//! and their range (targets: traced >= 0.90, recorded >= 0.80): on a
//! small shared machine whole rounds run faster or slower together, by
//! more than the differences measured. Then, per query: this process's
//! CPU (and its kernel part), the collector's, the rest of the machine's
//! (PostgreSQL), and the machine's context switches; the spans ended and
//! exported and the recordings written.
//!
//! Two diagnostic modes, not run unless asked (`--modes`), split traced's
//! cost: `marked` (the pool's hooks, a marker per check-out, with no
//! spans) and `unexported` (spans made and ended, exported nowhere).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry::trace::noop::NoopTracerProvider;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tracetape::TelemetryGuard;
use tracetape::postgres::Connector;
use tracetape::setup::{MetricsExporter, OtlpProtocol, SpanCounts, Telemetry, TracesExporter};

use crate::collector::Collector;
use crate::cpu::{CpuTime, ProcCpu};
use crate::cpu_share;

#[path = "../../tracetape/tests/integration/postgres.rs"]
#[allow(dead_code, clippy::expect_used, clippy::panic)]
mod server;

/// `tracetape-bench postgres`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tracetape-bench postgres")]
pub(crate) struct PostgresArgs {
    /// Seconds each mode is measured, per round.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) seconds: u64,
    /// Seconds each mode runs before it is measured, per round.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub(crate) warmup: u64,
    /// Rounds; each runs every mode once.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) rounds: u32,
    /// Tasks running queries at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) tasks: u32,
    /// Connections in each pool.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) pool: u32,
    /// Seconds of replayed queries after the rounds (0: none).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub(crate) replay_seconds: u64,
    /// The modes to run, untraced always among them (the ratios are
    /// against it).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "untraced,bare,traced,recorded"
    )]
    pub(crate) modes: Vec<Mode>,
    /// The driver and pool the load runs on.
    #[arg(long, value_enum, default_value_t = Driver::TokioPostgres)]
    pub(crate) driver: Driver,
}

/// How the load reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    Untraced,
    Bare,
    Traced,
    Recorded,
    /// Diagnostic: the pool's hooks (a marker per check-out) with a no-op
    /// tracer provider.
    Marked,
    /// Diagnostic: traced, spans made and ended but exported nowhere.
    Unexported,
}

/// The driver and pool the load runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Driver {
    /// A sqlx pool, through tracetape's proxy.
    Sqlx,
    /// A deadpool-postgres pool of tokio-postgres connections, read in
    /// place.
    TokioPostgres,
}

/// The lookup every task runs.
const LOOKUP: &str = "SELECT id, name, qty FROM items WHERE id = $1";

/// A pool of `--driver`'s.
#[derive(Clone)]
enum Pool {
    Sqlx(PgPool),
    Deadpool(deadpool_postgres::Pool),
}

impl Pool {
    /// A pool of `args.pool` connections to `url`, in `mode`.
    async fn open(args: &PostgresArgs, mode: Mode, url: &str) -> anyhow::Result<Self> {
        let size = args.pool;
        match args.driver {
            Driver::Sqlx => {
                let options = PgPoolOptions::new().max_connections(size);
                let pool = match mode {
                    Mode::Untraced => options.connect(url).await,
                    Mode::Bare | Mode::Marked => {
                        let proxied = Connector::new()
                            .with_tracer_provider(NoopTracerProvider::new())
                            .proxy(url)
                            .await
                            .context("starting the proxy")?;
                        let options = if mode == Mode::Marked {
                            tracetape::postgres::sqlx_traced(options)
                        } else {
                            options
                        };
                        options.connect(&proxied).await
                    }
                    Mode::Traced | Mode::Recorded | Mode::Unexported => {
                        let proxied = tracetape::postgres::proxy(url)
                            .await
                            .context("starting the proxy")?;
                        tracetape::postgres::sqlx_traced(options)
                            .connect(&proxied)
                            .await
                    }
                };
                Ok(Self::Sqlx(pool.context("connecting the pool")?))
            }
            Driver::TokioPostgres => {
                use deadpool_postgres::{Manager, ManagerConfig};

                let config: tokio_postgres::Config = url.parse().context("reading the URL")?;
                let builder = match mode {
                    Mode::Untraced => deadpool_postgres::Pool::builder(Manager::new(
                        config,
                        tokio_postgres::NoTls,
                    )),
                    Mode::Bare
                    | Mode::Marked
                    | Mode::Traced
                    | Mode::Recorded
                    | Mode::Unexported => {
                        let connector = match mode {
                            Mode::Bare | Mode::Marked => {
                                Connector::new().with_tracer_provider(NoopTracerProvider::new())
                            }
                            _ => Connector::new(),
                        };
                        let manager =
                            Manager::from_connect(config, connector, ManagerConfig::default());
                        let builder = deadpool_postgres::Pool::builder(manager);
                        match mode {
                            Mode::Bare => builder,
                            // The pool's hooks: a marker per check-out.
                            _ => tracetape::postgres::deadpool_traced(builder),
                        }
                    }
                };
                let pool = builder
                    .max_size(size as usize)
                    .build()
                    .context("building the pool")?;
                Ok(Self::Deadpool(pool))
            }
        }
    }

    /// The item `id`'s id, looked up.
    async fn lookup(&self, id: i64) -> anyhow::Result<i64> {
        match self {
            Self::Sqlx(pool) => {
                let row: (i64, String, i32) =
                    sqlx::query_as(LOOKUP).bind(id).fetch_one(pool).await?;
                Ok(row.0)
            }
            Self::Deadpool(pool) => {
                let client = pool.get().await?;
                let statement = client.prepare_cached(LOOKUP).await?;
                let row = client.query_one(&statement, &[&id]).await?;
                let _: (String, i32) = (row.try_get(1)?, row.try_get(2)?);
                Ok(row.try_get(0)?)
            }
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlx(pool) => pool.close().await,
            Self::Deadpool(pool) => pool.close(),
        }
    }
}

/// Rows in the table queried.
const ITEMS: i64 = 1_000;

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &PostgresArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.modes.contains(&Mode::Untraced),
        "--modes must include untraced: the ratios are against it"
    );
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-postgres-")
        .tempdir()
        .context("creating a temporary directory")?;
    let collector = Collector::start(dir.path())?;
    let database = server::Postgres::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let recordings = dir.path().join("recordings");
    runtime.block_on(async {
        measure(args, &database.url(), &collector, &recordings).await?;
        if args.replay_seconds > 0 {
            let replayed = dir.path().join("replayed");
            replay(args, &database.url(), &collector, &replayed).await?;
        }
        Ok(())
    })
}

/// Replay speed: one lookup of each item recorded (each a background
/// recording), then the same load as the other modes in replay mode, the
/// proxy answering every query from those recordings.
async fn replay(
    args: &PostgresArgs,
    url: &str,
    collector: &Collector,
    recordings: &Path,
) -> anyhow::Result<()> {
    let telemetry = telemetry_in(Some("record"), collector, recordings)?;
    let pool = Pool::open(args, Mode::Traced, url).await?;
    for id in 1..=ITEMS {
        pool.lookup(id).await.context("recording a lookup")?;
    }
    pool.close().await;
    let written = match telemetry.recorder() {
        Some(recorder) => {
            let _ = recorder.flush(Duration::from_secs(30));
            recorder.written()
        }
        None => 0,
    };
    drop(telemetry);

    let telemetry = telemetry_in(Some("replay"), collector, recordings)?;
    anyhow::ensure!(telemetry.replayer().is_some(), "replay mode did not start");
    let pool = Pool::open(args, Mode::Traced, url).await?;
    load(&pool, args.tasks, Duration::from_secs(args.warmup)).await?;
    let (queries, elapsed) =
        load(&pool, args.tasks, Duration::from_secs(args.replay_seconds)).await?;
    pool.close().await;
    println!();
    println!(
        "replayed: {queries} queries in {elapsed:.2?}, {:.0}/s, answered from {written} \
         recorded lookups with no database reached",
        queries as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// Telemetry for one run of `mode`: spans to the collector, and for
/// `recorded` record mode into `recordings`.
fn telemetry(
    mode: Mode,
    collector: &Collector,
    recordings: &Path,
) -> anyhow::Result<TelemetryGuard> {
    let tracetape_mode = (mode == Mode::Recorded).then_some("record");
    let exporter = if mode == Mode::Unexported {
        TracesExporter::None
    } else {
        TracesExporter::Otlp
    };
    telemetry_with(tracetape_mode, exporter, collector, recordings)
}

/// Telemetry with spans to the collector, in `TRACETAPE_MODE` `mode`
/// (none: off) over `recordings`.
fn telemetry_in(
    mode: Option<&'static str>,
    collector: &Collector,
    recordings: &Path,
) -> anyhow::Result<TelemetryGuard> {
    telemetry_with(mode, TracesExporter::Otlp, collector, recordings)
}

/// Telemetry with spans to `exporter` (the collector's when OTLP), in
/// `TRACETAPE_MODE` `mode` (none: off) over `recordings`.
fn telemetry_with(
    mode: Option<&'static str>,
    exporter: TracesExporter,
    collector: &Collector,
    recordings: &Path,
) -> anyhow::Result<TelemetryGuard> {
    let recordings = recordings.to_string_lossy().into_owned();
    Telemetry::builder()
        .with_service_name("bench-postgres")
        .with_traces_exporter(exporter)
        .with_otlp_protocol(OtlpProtocol::HttpProtobuf)
        .with_otlp_endpoint(collector.http_endpoint())
        .with_metrics_exporter(MetricsExporter::None)
        .with_env_lookup(move |name| match name {
            "TRACETAPE_MODE" => mode.map(str::to_owned),
            "TRACETAPE_RECORD_DIR" => Some(recordings.clone()),
            _ => std::env::var(name).ok(),
        })
        .try_init()
        .context("setting up telemetry")
}

async fn measure(
    args: &PostgresArgs,
    url: &str,
    collector: &Collector,
    recordings: &Path,
) -> anyhow::Result<()> {
    let setup = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .context("connecting to the server")?;
    sqlx::raw_sql(
        "CREATE TABLE items (id int8 PRIMARY KEY, name text NOT NULL, qty int4 NOT NULL); \
         INSERT INTO items SELECT n, 'item ' || n, n % 97 FROM generate_series(1, 1000) n",
    )
    .execute(&setup)
    .await
    .context("creating the table")?;
    setup.close().await;
    let mut pools = Vec::new();
    for mode in &args.modes {
        pools.push((*mode, Pool::open(args, *mode, url).await?));
    }
    println!("driver: {:?}", args.driver);

    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); pools.len()];
    let mut cpu: Vec<Vec<QueryCpu>> = vec![Vec::new(); pools.len()];
    let proc_cpu = ProcCpu::new();
    let mut spans = SpanCounts::default();
    let (mut written, mut dropped) = (0, 0);
    for round in 1..=args.rounds {
        for (index, (mode, pool)) in pools.iter().enumerate() {
            let telemetry = telemetry(*mode, collector, recordings)?;
            load(pool, args.tasks, Duration::from_secs(args.warmup)).await?;
            let mark = CpuMark::take(proc_cpu, collector.pid());
            let (queries, elapsed) =
                load(pool, args.tasks, Duration::from_secs(args.seconds)).await?;
            if let Some(used) = mark.and_then(|mark| mark.per_query(queries)) {
                cpu[index].push(used);
            }
            let rate = queries as f64 / elapsed.as_secs_f64();
            let name = format!("{mode:?}").to_lowercase();
            println!("round {round} {name:>9}: {queries} queries in {elapsed:.2?}, {rate:.0}/s");
            rates[index].push(rate);
            if let Some(recorder) = telemetry.recorder() {
                let _ = recorder.flush(Duration::from_secs(30));
                written += recorder.written();
                dropped += recorder.dropped();
            }
            let _ = telemetry.tracer_provider().force_flush();
            let counts = telemetry.span_counts();
            spans.ended += counts.ended;
            spans.exported += counts.exported;
            spans.failed += counts.failed;
            spans.queue_full += counts.queue_full;
        }
    }
    for (_, pool) in &pools {
        pool.close().await;
    }

    println!();
    // Each round's rate over the untraced rate of the same round, so
    // that what the machine does from one round to the next (the same
    // for every mode of a round) cancels out; then their median.
    println!("mode        median q/s   vs untraced (rounds' range)   rounds");
    let baseline = pools.iter().position(|(mode, _)| *mode == Mode::Untraced);
    for (i, (mode, _)) in pools.iter().enumerate() {
        let each: Vec<String> = rates[i].iter().map(|r| format!("{r:.0}")).collect();
        let ratios: Vec<f64> = match baseline {
            Some(at) => (rates[i].iter().zip(&rates[at]))
                .map(|(rate, untraced)| rate / untraced)
                .collect(),
            None => Vec::new(),
        };
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let name = format!("{mode:?}").to_lowercase();
        println!(
            "{name:<10} {:>11.0}   {:>11.3} ({low:.3}-{high:.3})   {}",
            median(&rates[i]),
            median(&ratios),
            each.join(" ")
        );
    }
    println!();
    println!(
        "CPU per query (µs, medians): this process (of it in the kernel), the collector, the rest \
         (PostgreSQL); the machine's context switches per query"
    );
    let per_mode: Vec<Option<QueryCpu>> = cpu.iter().map(|runs| QueryCpu::median(runs)).collect();
    for (i, (mode, _)) in pools.iter().enumerate() {
        let name = format!("{mode:?}").to_lowercase();
        match per_mode[i] {
            Some(used) => println!(
                "{name:<10} {:>8.1} ({:>4.1}) {:>8.1} {:>8.1} {:>8.2}",
                used.process, used.process_system, used.collector, used.rest, used.switches
            ),
            None => println!("{name:<10} (not measured: /proc did not say)"),
        }
    }
    let untraced = pools
        .iter()
        .position(|(mode, _)| *mode == Mode::Untraced)
        .and_then(|at| per_mode[at]);
    for (i, (mode, _)) in pools.iter().enumerate() {
        if let (Some(base), Some(used), Mode::Traced | Mode::Recorded) =
            (untraced, per_mode[i], mode)
        {
            // With every core busy, a query costs the machine the sum; the
            // collector's part is what it would be even if tracetape cost
            // nothing.
            let machine = base.process + base.rest;
            let name = format!("{mode:?}").to_lowercase();
            println!(
                "{name}: the collector on this machine alone caps the ratio at {:.3}",
                machine / (machine + used.collector)
            );
        }
    }
    println!(
        "spans: {} ended, {} exported, {} failed, {} dropped by the full queue",
        spans.ended, spans.exported, spans.failed, spans.queue_full,
    );
    if args.modes.contains(&Mode::Recorded) {
        println!("recordings: {written} written, {dropped} dropped by the full queue");
    }
    println!("targets: traced >= 0.90 of untraced, recorded >= 0.80");
    Ok(())
}

/// `tasks` tasks querying `pool` until `length` has passed: the queries
/// completed, and the time they took.
async fn load(pool: &Pool, tasks: u32, length: Duration) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let until = started + length;
    let workers: Vec<_> = (0..tasks)
        .map(|task| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                let mut id = i64::from(task) % ITEMS + 1;
                while Instant::now() < until {
                    let got = pool.lookup(id).await?;
                    anyhow::ensure!(got == id, "asked for item {id}, got {got}");
                    id = id % ITEMS + 1;
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.context("a load task panicked")??;
    }
    Ok((total, started.elapsed()))
}

/// CPU used per query in one measured run, in microseconds.
#[derive(Debug, Clone, Copy)]
struct QueryCpu {
    /// This process: the load, the driver, tracetape, the exporter.
    process: f64,
    /// The part of it in the kernel (system time).
    process_system: f64,
    /// The collector receiving the spans.
    collector: f64,
    /// Every other process on the machine: the PostgreSQL server, mostly.
    rest: f64,
    /// Context switches of the whole machine.
    switches: f64,
}

impl QueryCpu {
    /// Each figure's median over `runs`.
    fn median(runs: &[QueryCpu]) -> Option<QueryCpu> {
        if runs.is_empty() {
            return None;
        }
        let of = |f: fn(&QueryCpu) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        Some(QueryCpu {
            process: of(|run| run.process),
            process_system: of(|run| run.process_system),
            collector: of(|run| run.collector),
            rest: of(|run| run.rest),
            switches: of(|run| run.switches),
        })
    }
}

/// CPU times at the start of a measured run: this process (as the served
/// app of the other benchmarks) and the collector, and the whole
/// machine's busy time.
struct CpuMark {
    cpu: ProcCpu,
    run: cpu_share::CpuMark,
    own: CpuTime,
    machine: Duration,
    switches: u64,
}

impl CpuMark {
    fn take(cpu: ProcCpu, collector: Option<u32>) -> Option<Self> {
        Some(Self {
            cpu,
            run: cpu_share::CpuMark::take(cpu, std::process::id(), collector)?,
            own: cpu.process(std::process::id())?,
            machine: cpu.machine_busy()?,
            switches: cpu.machine_context_switches()?,
        })
    }

    /// What each used since the mark, per query of `queries`.
    fn per_query(self, queries: u64) -> Option<QueryCpu> {
        let run = self.run.since()?;
        let collector = run.collector.unwrap_or_default();
        let machine = self.cpu.machine_busy()?.saturating_sub(self.machine);
        let rest = machine.saturating_sub(run.server + collector);
        let own = self.cpu.process(std::process::id())?.since(self.own);
        let switches = self
            .cpu
            .machine_context_switches()?
            .saturating_sub(self.switches);
        let micros = |time: Duration| time.as_secs_f64() * 1e6 / queries.max(1) as f64;
        Some(QueryCpu {
            process: micros(run.server),
            process_system: micros(own.system),
            collector: micros(collector),
            rest: micros(rest),
            switches: switches as f64 / queries.max(1) as f64,
        })
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}
