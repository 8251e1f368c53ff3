//! `tracetape-bench`: what tracing costs a hello-world service in throughput.
//!
//! Measures requests/s of an axum `GET /hello` ("Hello, world!") on a
//! two-worker Tokio runtime, 32 keep-alive connections, load generator on the
//! same machine, in up to three modes:
//!
//! - `baseline`: the bare app;
//! - `traced`: the same app with `tracetape::server::TraceLayer::new()` and
//!   `tracetape::init()`, every request sampled (`always_on`), spans
//!   exported over OTLP/gRPC to a real collector (`rotel-agent` with its
//!   blackhole exporter), HTTP metrics exported there too;
//! - `local`: the same, spans written to the embedded local store (in a
//!   temporary working directory).
//!
//! Each mode runs in a fresh `serve` child process per round, modes
//! interleaved (baseline, traced, local, baseline, ...); after a short
//! warm-up the load runs for `--seconds`. The report gives the median
//! requests/s per mode and the ratio to the baseline measured in the same
//! run; the brief's target is `traced/baseline >= 0.90`. It also counts the
//! spans the collector received (from its debug log), so a traced run that
//! quietly drops or never exports spans is visible.
//!
//! Load comes from `wrk -t1 -cN -dSs --latency` when `wrk` is on `PATH`,
//! else from a built-in generator (raw hyper HTTP/1.1 connections on one
//! thread) that runs as its own child process, so it never shares a runtime
//! with the server. The collector is `$ROTEL_AGENT`, else the `rotel-agent`
//! shipped in the `rotel` Python package (`pip install rotel`). Everything
//! listens on 127.0.0.1 only; every child is killed when the run ends or
//! fails, and `serve`/`load` children also exit when their parent goes away
//! (their standard input closes).
//!
//! # Running
//!
//! ```text
//! cargo run --release -p tracetape-bench                     # 3 rounds x 10 s x 3 modes
//! cargo run --release -p tracetape-bench -- --seconds 5 --rounds 3 --modes baseline,traced
//! cargo run --release -p tracetape-bench -- --load builtin   # without wrk
//! cargo run --release -p tracetape-bench -- --help
//! ```
//!
//! Use a release build: a debug build measures the debug build.
//!
//! # Sample output
//!
//! On the 2-core reference machine, with the collector path shortened
//! (`cargo run --release -p tracetape-bench`, wrk installed):
//!
//! ```text
//! tracetape-bench: GET /hello, 32 connections, 10 s per run (+1 s warm-up), rounds: 3, load: wrk -t1, 2 CPUs
//! collector: .../site-packages/rotel/rotel-agent (blackhole exporter), OTLP/gRPC at http://127.0.0.1:40155
//!   round 1 baseline    104262 req/s
//!   round 1 traced       76860 req/s, 447793 spans at the collector
//!   round 1 local        66393 req/s
//!   ...
//!
//! mode        round 1   round 2   round 3  median req/s  p50 ms  p99 ms  ratio
//! baseline     104262    108050    116748        108050   0.212   2.080  1.000
//! traced        76860     69515     81060         76860   0.294   2.170  0.711
//! local         66393     63952     64697         64697   0.334   3.210  0.599
//!
//! traced: the collector received 1344522 spans for 2520236 responses counted by the load generator (53.3%, warm-up included)
//! warning: traced: 1175714 spans did not reach the collector (dropped?)
//! traced: per-round ratios to the baseline of the same round: 0.737 0.643 0.694
//! local: the local store held 66.9 MB after each run on average (it is size-capped, so this is not a span count)
//! local: per-round ratios to the baseline of the same round: 0.637 0.592 0.554
//!
//! ratio traced/baseline: 0.71 (target >= 0.90)
//! ratio local/baseline: 0.60 (target >= 0.90)
//! ```
//!
//! Read the span line with the ratio: a traced run that drops spans does
//! less work than one that exports them all, so its ratio flatters it.

mod child;
mod cli;
mod collector;
mod load;
mod run;
mod server;

use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    let result = args()
        .and_then(cli::parse)
        .and_then(|command| match command {
            Command::Run(args) => run::run(&args).map(|()| ExitCode::SUCCESS),
            Command::Serve(args) => server::serve(&args).map(|()| ExitCode::SUCCESS),
            Command::Load(args) => load::generate(&args).map(|()| ExitCode::SUCCESS),
            Command::Watch(command) => child::watch(&command),
            Command::Help => {
                println!("{}", cli::USAGE);
                Ok(ExitCode::SUCCESS)
            }
        });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tracetape-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The arguments after the program name, which must be UTF-8.
fn args() -> anyhow::Result<Vec<String>> {
    std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| anyhow::anyhow!("argument {arg:?} is not UTF-8"))
        })
        .collect()
}
