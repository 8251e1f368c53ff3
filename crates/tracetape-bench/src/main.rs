//! `tracetape-bench`: what tracing and record mode cost a hello-world
//! service, a client + server pair and a JSON endpoint, in throughput and
//! in memory.
//!
//! Measures requests/s of an axum `GET /hello` ("Hello, world!") on a
//! two-worker Tokio runtime, 32 keep-alive connections, load generator on the
//! same machine, in up to six modes:
//!
//! - `baseline`: the bare app;
//! - `traced`: the same app with `tracetape::server::TraceLayer::new()` and
//!   `tracetape::init()`, every request sampled (`always_on`), spans
//!   exported over OTLP/HTTP (http/protobuf, the default protocol) to a real
//!   collector (`rotel-agent` with its blackhole exporter), HTTP metrics
//!   exported there too;
//! - `traced-grpc`: the same over OTLP/gRPC (not in the default set);
//! - `local`: the same, spans written to the embedded local store (in a
//!   temporary working directory);
//! - `pair-baseline` (not in the default set): two apps in the one `serve`
//!   process, sharing its two workers: a back app, the hello-world app, and
//!   a front app whose `GET /hello` calls the back's over loopback with a
//!   plain `reqwest::Client` (built once, so its keep-alive pool is reused;
//!   HTTP/1.1) and returns its body. The load drives the front only. One
//!   runtime rather than one per app keeps the thread count of the other
//!   modes, and has the two apps compete for two workers as two services
//!   compete for a two-core machine's cores;
//! - `pair-traced` (not in the default set): the same pair with
//!   `TraceLayer::new()` on both apps, the front's client wrapped as
//!   `reqwest_middleware::ClientBuilder::new(client).with(TracingMiddleware::new())`,
//!   and one `tracetape::init()` exporting as in `traced` (same variables,
//!   OTLP/HTTP to the collector), so each request makes three spans: the
//!   front's SERVER span, its CLIENT span, the back's SERVER span.
//!
//! and, for record mode, of a JSON endpoint in two families of three modes
//! (none in the default set):
//!
//! - `json-1k-baseline`: the bare app's `POST /echo` parses a ~1,000-byte
//!   JSON order (`Json<serde_json::Value>`: an object with an array of
//!   small item objects) and answers a JSON confirmation of about the same
//!   size (one line object per item); wrk posts the order with a Lua script
//!   (`wrk -s`), both written into the run's temporary directory;
//! - `json-1k-traced`: the same with `TraceLayer::new()` and
//!   `tracetape::init()` exporting as in `traced`, `TRACETAPE_MODE=off`;
//! - `json-1k-record`: the same with `TRACETAPE_MODE=record`,
//!   `TRACETAPE_RECORD_SAMPLE_RATE=1` and `TRACETAPE_RECORD_DIR` in the
//!   run's temporary directory, so every request is recorded (defaults for
//!   the body limit, 1 MiB, and the queue, 1024 recordings);
//! - `json-1m-baseline`, `json-1m-traced`, `json-1m-record`: the same with
//!   ~1,000,000-byte bodies (under the 1 MiB body limit, so recorded whole)
//!   and 8 connections instead of 32 (`--connections` overrides both).
//!
//! The brief's targets are record/off >= 0.80 with 1 KB bodies, >= 0.60 with
//! 1 MB, and at most 10 MB of memory added. "Off" may mean no tracetape or
//! tracing without recording, so a record mode is given both ratios: to its
//! baseline, and to its traced twin when that runs too. For every mode the
//! table gives the server's peak resident set (`VmHWM` from
//! `/proc/<pid>/status`, read just before it is stopped, warm-up
//! included); the report adds, for each traced mode, the memory it adds
//! over its baseline (and a record mode over its traced twin). When a
//! record server stops, it flushes its recorder and prints the recorder's
//! counters (written, dropped by the bounded queue, failed) on standard
//! output; the report gives them against the responses the load counted,
//! with the number of recording files left (counted, one read back to see
//! whether its bodies were kept whole, then removed: 1 MB recordings add up
//! to gigabytes). A queue that dropped recordings is a warning next to the
//! ratio: a record run that drops does less work than one that writes
//! everything, so its ratio flatters it.
//!
//! Each mode runs in a fresh `serve` child process per round, modes
//! interleaved (baseline, traced, local, baseline, ...); after a short
//! warm-up the load runs for `--seconds`. The report gives the median
//! requests/s per mode and the ratio of each traced mode to its own
//! baseline measured in the same run: `pair-traced` to `pair-baseline`, the
//! others to `baseline` (so `--modes` must list the baselines of the modes
//! it lists); the brief's target is `traced/baseline >= 0.90`. It also
//! counts the spans the collector received (from its debug log) against
//! those expected (one per response, three in `pair-traced`), so a traced
//! run that quietly drops or never exports spans is visible.
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
//! cargo run --release -p tracetape-bench -- --modes baseline,traced,pair-baseline,pair-traced
//! cargo run --release -p tracetape-bench -- --seconds 5 --rounds 3 \
//!     --modes json-1k-baseline,json-1k-traced,json-1k-record
//! cargo run --release -p tracetape-bench -- --seconds 5 --rounds 3 \
//!     --modes json-1m-baseline,json-1m-traced,json-1m-record
//! cargo run --release -p tracetape-bench -- --load builtin   # without wrk
//! cargo run --release -p tracetape-bench -- --help
//! ```
//!
//! Use a release build: a debug build measures the debug build.
//!
//! # Sample output
//!
//! On the 2-core reference machine, with the collector path shortened
//! (`cargo run --release -p tracetape-bench -- --seconds 5 --rounds 3
//! --modes baseline,traced,traced-grpc,local`, wrk installed):
//!
//! ```text
//! tracetape-bench: GET /hello, 32 connections, 5 s per run (+1 s warm-up), rounds: 3, load: wrk -t1, 2 CPUs
//! collector: .../rotel-agent (blackhole exporter), OTLP/HTTP at http://127.0.0.1:38229, OTLP/gRPC at http://127.0.0.1:42407
//!   ...
//!
//! mode        round 1   round 2   round 3  median req/s  p50 ms  p99 ms  ratio
//! baseline     132225    131124    136816        132225   0.189   1.890  1.000
//! traced        80656     93263     95669         93263   0.243   2.480  0.705  vs baseline
//! traced-grpc   85497     95935     91584         91584   0.240   1.740  0.693  vs baseline
//! local         89770     94883    101324         94883   0.234   1.840  0.718  vs baseline
//!
//! traced: the collector received 1640534 spans for 1641625 responses counted by the load generator (99.9%, warm-up included)
//! traced-grpc: the collector received 860083 spans for 1649558 responses counted by the load generator (52.1%, warm-up included)
//! warning: traced-grpc: 789475 spans did not reach the collector (dropped?)
//!
//! ratio traced/baseline: 0.71 (target >= 0.90)
//! ratio traced-grpc/baseline: 0.69 (target >= 0.90)
//! ratio local/baseline: 0.72 (target >= 0.90)
//! ```
//!
//! With the pair modes the table gains `pair-baseline` and `pair-traced`
//! rows (the latter `vs pair-baseline`), the span line of `pair-traced`
//! counts three spans per response (`... at 3 spans each (front SERVER,
//! CLIENT, back SERVER): 99.9% of N, warm-up included`), and the summary
//! ends with `ratio pair-traced/pair-baseline: ...`.
//!
//! Read the span line with the ratio: a traced run that drops spans does
//! less work than one that exports them all, so its ratio flatters it.

mod child;
mod cli;
mod collector;
mod json;
mod load;
mod memory;
mod mode;
mod recordings;
mod report;
mod run;
mod sample;
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
