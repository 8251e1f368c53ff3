//! `grpc`: unary gRPC throughput with and without tracetape, in the same
//! run.
//!
//! A tonic server (tonic's own `Server`) answers `stock.Stock/Reserve`,
//! the `grpc-service` example's hello-world-sized unary call, and
//! `--tasks` tasks in this process call it again and again over one
//! HTTP/2 channel for `--seconds`. Two stacks run side by side:
//!
//! - `untraced`: the server and the channel as tonic makes them;
//! - `traced`: the server behind `tracetape::server::TraceLayer`, the
//!   channel wrapped by `TraceLayer::new().with_origin(..).grpc()`, so
//!   each call makes a CLIENT and a SERVER span (exported over OTLP/HTTP
//!   to a real collector, rotel) and both call durations.
//!
//! Modes alternate within each round, telemetry set up per run. The
//! report gives calls per second per round, the medians, traced over
//! untraced (target: >= 0.90), this process's and the collector's CPU per
//! call, and the spans ended and exported.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use grpc_service::Stock;
use grpc_service::messages::{Order, Reserved};
use tonic::client::GrpcService;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;
use tracetape::TelemetryGuard;
use tracetape::setup::{MetricsExporter, OtlpProtocol, SpanCounts, Telemetry, TracesExporter};

use crate::collector::Collector;
use crate::cpu::ProcCpu;
use crate::cpu_share;
use crate::sample::median;

/// `tracetape-bench grpc`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tracetape-bench grpc")]
pub(crate) struct GrpcArgs {
    /// Seconds each mode is measured, per round.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) seconds: u64,
    /// Seconds each mode runs before it is measured, per round.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub(crate) warmup: u64,
    /// Rounds; each runs both modes once.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) rounds: u32,
    /// Tasks calling at once, over one channel.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) tasks: u32,
}

/// The method called.
const RESERVE: &str = "/stock.Stock/Reserve";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Untraced,
    Traced,
}

const MODES: [Mode; 2] = [Mode::Untraced, Mode::Traced];

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &GrpcArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-grpc-")
        .tempdir()
        .context("creating a temporary directory")?;
    let collector = Collector::start(dir.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(measure(args, &collector))
}

/// Serves `Stock` on a port of its own, behind the server layer when
/// `traced`.
async fn serve(traced: bool) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        let served = if traced {
            tonic::transport::Server::builder()
                .layer(tracetape::server::TraceLayer::new())
                .add_service(Stock)
                .serve_with_incoming(incoming)
                .await
        } else {
            tonic::transport::Server::builder()
                .add_service(Stock)
                .serve_with_incoming(incoming)
                .await
        };
        if let Err(error) = served {
            eprintln!("the gRPC server stopped: {error}");
        }
    });
    Ok(addr)
}

/// One stack's client: a channel to its server, wrapped by the client
/// layer when traced.
#[derive(Clone)]
enum Client {
    Untraced(tonic::client::Grpc<tonic::transport::Channel>),
    Traced(
        tonic::client::Grpc<
            tracetape::client::Trace<tracetape::client::GrpcChannel<tonic::transport::Channel>>,
        >,
    ),
}

impl Client {
    async fn connect(mode: Mode, addr: SocketAddr) -> anyhow::Result<Self> {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?;
        let channel = endpoint.connect().await.context("connecting the channel")?;
        Ok(match mode {
            Mode::Untraced => Self::Untraced(tonic::client::Grpc::new(channel)),
            Mode::Traced => {
                let layer = tracetape::client::TraceLayer::new()
                    .with_origin(endpoint.uri())
                    .grpc();
                let channel = tower::ServiceBuilder::new().layer(layer).service(channel);
                Self::Traced(tonic::client::Grpc::new(channel))
            }
        })
    }

    async fn reserve(&mut self, n: u32) -> anyhow::Result<()> {
        let order = Order {
            item: "tea".to_owned(),
            quantity: n,
        };
        let reserved = match self {
            Self::Untraced(grpc) => call(grpc, order).await?,
            Self::Traced(grpc) => call(grpc, order).await?,
        };
        anyhow::ensure!(
            reserved.reservation_id == format!("r-tea-{n}"),
            "unexpected answer {reserved:?}"
        );
        Ok(())
    }
}

async fn call<T>(grpc: &mut tonic::client::Grpc<T>, order: Order) -> anyhow::Result<Reserved>
where
    T: GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    grpc.ready()
        .await
        .map_err(|error| anyhow::anyhow!("the channel is not ready: {}", error.into()))?;
    let reserved = grpc
        .unary(
            tonic::Request::new(order),
            PathAndQuery::from_static(RESERVE),
            ProstCodec::default(),
        )
        .await?;
    Ok(reserved.into_inner())
}

/// `tasks` tasks calling through `client` until `length` has passed: the
/// calls completed, and the time they took.
async fn load(client: &Client, tasks: u32, length: Duration) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let until = started + length;
    let workers: Vec<_> = (0..tasks)
        .map(|task| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < until {
                    client.reserve(task + 1).await?;
                    done += 1;
                }
                Ok::<_, anyhow::Error>(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.context("a load task panicked")??;
    }
    Ok((total, started.elapsed()))
}

/// Telemetry for one run: spans over OTLP/HTTP to the collector.
fn telemetry(collector: &Collector) -> anyhow::Result<TelemetryGuard> {
    Telemetry::builder()
        .with_service_name("bench-grpc")
        .with_traces_exporter(TracesExporter::Otlp)
        .with_otlp_protocol(OtlpProtocol::HttpProtobuf)
        .with_otlp_endpoint(collector.http_endpoint())
        .with_metrics_exporter(MetricsExporter::None)
        .try_init()
        .context("setting up telemetry")
}

async fn measure(args: &GrpcArgs, collector: &Collector) -> anyhow::Result<()> {
    let mut clients = Vec::new();
    for mode in MODES {
        let addr = serve(mode == Mode::Traced).await?;
        clients.push((mode, Client::connect(mode, addr).await?));
    }
    let proc_cpu = ProcCpu::new();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut cpu: Vec<Vec<(f64, f64)>> = vec![Vec::new(); MODES.len()];
    let mut spans = SpanCounts::default();
    for round in 1..=args.rounds {
        for (index, (mode, client)) in clients.iter().enumerate() {
            let telemetry = telemetry(collector)?;
            load(client, args.tasks, Duration::from_secs(args.warmup)).await?;
            let mark = cpu_share::CpuMark::take(proc_cpu, std::process::id(), collector.pid());
            let (calls, elapsed) =
                load(client, args.tasks, Duration::from_secs(args.seconds)).await?;
            if let Some(run) = mark.and_then(cpu_share::CpuMark::since) {
                let micros = |time: Duration| time.as_secs_f64() * 1e6 / calls.max(1) as f64;
                cpu[index].push((
                    micros(run.server),
                    micros(run.collector.unwrap_or_default()),
                ));
            }
            let rate = calls as f64 / elapsed.as_secs_f64();
            println!(
                "round {round} {:>9}: {calls} calls in {elapsed:.2?}, {rate:.0}/s",
                name(*mode)
            );
            rates[index].push(rate);
            let _ = telemetry.tracer_provider().force_flush();
            let counts = telemetry.span_counts();
            spans.ended += counts.ended;
            spans.exported += counts.exported;
            spans.failed += counts.failed;
            spans.queue_full += counts.queue_full;
        }
    }

    println!();
    println!("mode        median calls/s   vs untraced   rounds");
    let medians: Vec<f64> = rates
        .iter()
        .map(|each| median(&mut each.clone()).unwrap_or(f64::NAN))
        .collect();
    for (index, mode) in MODES.iter().enumerate() {
        let each: Vec<String> = rates[index].iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{:<10} {:>15.0}   {:>11.3}   {}",
            name(*mode),
            medians[index],
            medians[index] / medians[0],
            each.join(" ")
        );
    }
    println!();
    println!("CPU per call (µs, medians): this process (client and server), the collector");
    for (index, mode) in MODES.iter().enumerate() {
        let process = median(&mut cpu[index].iter().map(|c| c.0).collect::<Vec<_>>());
        let collector = median(&mut cpu[index].iter().map(|c| c.1).collect::<Vec<_>>());
        match (process, collector) {
            (Some(process), Some(collector)) => {
                println!("{:<10} {process:>8.1} {collector:>8.1}", name(*mode));
            }
            _ => println!("{:<10} (not measured: /proc did not say)", name(*mode)),
        }
    }
    println!(
        "spans: {} ended, {} exported, {} failed, {} dropped by the full queue",
        spans.ended, spans.exported, spans.failed, spans.queue_full,
    );
    println!("target: traced >= 0.90 of untraced");
    Ok(())
}

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Untraced => "untraced",
        Mode::Traced => "traced",
    }
}

/// The server's services answer with `Infallible` errors; kept here so a
/// change in the example's service type shows up as a compile error.
const _: fn() = || {
    fn infallible<S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>>() {}
    infallible::<Stock>();
};
