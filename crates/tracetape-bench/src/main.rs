//! `tracetape-bench`: what tracing and record mode cost a hello-world
//! service, a client + server pair and a JSON endpoint, in throughput and
//! in memory; with the `replay` subcommand, how fast `tracetape
//! replay` replays recordings (see [Replay speed](#replay-speed)); and with
//! `collector-down`, what a collector outage under load does to latency,
//! memory and spans (see [Collector down](#collector-down)); with
//! `fidelity`, whether replay tells an unchanged build from a changed one
//! (see [Replay fidelity](#replay-fidelity)); with `postgres` and `grpc`,
//! query and unary-call throughput with tracetape against without; with
//! `view`, how fast `tracetape view` ingests spans over OTLP and looks up
//! and searches a million of them (their modules say how).
//!
//! Measures requests/s of an axum `GET /hello` ("Hello, world!") on a
//! two-worker Tokio runtime, 32 keep-alive connections, load generator on the
//! same machine, in up to eight modes:
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
//!   front's SERVER span, its CLIENT span, the back's SERVER span;
//! - `peer-otel-tower`, `peer-tower-http` (not in the default set): the
//!   same hello world with a peer instead of tracetape
//!   ([`peers`]): opentelemetry-instrumentation-tower 0.19's layer, or
//!   tower-http's `TraceLayer::new_for_http()` with tracing-opentelemetry
//!   0.34; each builds the SDK's own pipeline (batch span processor,
//!   opentelemetry-otlp over OTLP/HTTP protobuf to the same collector, a
//!   periodic metric reader) from the same `OTEL_*` variables, and its
//!   spans are counted at the collector like tracetape's. Both build
//!   against the workspace's opentelemetry 0.33, so no second SDK is
//!   linked. With `traced` in the run, the report gives, per peer, both
//!   ratios round by round and whether `traced` was ahead in every round.
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
//!   the body limit, 1 MiB, and the queue, 16,384 recordings or 16 MiB);
//! - `json-1m-baseline`, `json-1m-traced`, `json-1m-record`: the same with
//!   ~1,000,000-byte bodies (under the 1 MiB body limit, so recorded whole)
//!   and 8 connections instead of 32 (`--connections` overrides both);
//! - `json-1m-budget`: `json-1m-record` with the body budget
//!   (`max_held_bytes`) set in the app's code to 4 MiB (through
//!   `Telemetry::builder().with_env_lookup`, since the benchmark strips
//!   `TRACETAPE_*` from its children), under the ~16 MB of bodies its 8
//!   connections carry at once: the memory added at that limit, and the
//!   bodies the budget cut (the recorder's `cut_by_budget`, printed with
//!   its other counters);
//! - `json-1m-over-limit`: `json-1m-record` with `max_body_bytes` set in
//!   code to 990,000, just under the bodies, so every body is truncated.
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
//! # Allocations and instructions per request
//!
//! `tracetape-bench allocs` (a build with `--features count-allocs`, which
//! installs a counting global allocator) and `tracetape-bench callgrind`
//! (the server under `valgrind --tool=callgrind`) send each mode's server
//! (the hello world's, or the JSON app's `json-*` modes) a warm-up, a mark,
//! exactly `--requests` requests, and a second mark, and print what
//! happened between the marks per request, with the difference to the
//! mode's baseline ([`per_request`]). `callgrind --keep-dumps DIR` keeps
//! each mode's dump for `callgrind_annotate`.
//!
//! # Replay speed
//!
//! `tracetape-bench replay` measures the brief's replay target: at least
//! 1,000 recorded requests replayed per second, three mocked calls each.
//! The service (`orders.rs`, run as `tracetape-bench serve-orders` on the
//! same two-worker runtime) answers `POST /orders` after three outbound
//! calls through `TracingMiddleware`, one after the other (a customer, a
//! stock check, a price quote), under `TraceLayer`, with
//! `tracetape::init()`; its spans are not exported
//! (`OTEL_TRACES_EXPORTER=none`; `--traces local` writes them to the local
//! store, a service's default).
//!
//! 1. Recording (not measured): the service runs with
//!    `TRACETAPE_MODE=record` (sample rate 1, a queue large enough that
//!    nothing is dropped) against its dependency, served by the benchmark
//!    itself, and is sent `--recordings` distinct orders (2000 by
//!    default), 8 at a time; once it has stopped and flushed, the recorder
//!    must have written every one, and every file must read back as one
//!    answered order with its three calls, no two requests alike.
//! 2. Each round, with the dependency gone: a fresh service with
//!    `TRACETAPE_MODE=replay` over those recordings, started and waited for
//!    by the benchmark (its start-up, loading the recordings, is reported
//!    apart), then the real `tracetape replay --no-start --url ...
//!    --recordings DIR --concurrency 8 --format json --output FILE`
//!    (`--concurrency` changes it) as a subprocess: the `tracetape` beside
//!    this executable (`cargo build --release -p tracetape-cli`), or
//!    `--tracetape PATH`. Its JSON report must say that every recording
//!    passed, each with its three calls answered from the recording;
//!    anything else fails the run loudly, naming the first recordings that
//!    did not pass, and keeps the run's files.
//! 3. The figure of a round is recordings per second over the report's
//!    `duration_ms`: from the CLI's readiness probe (one GET, answered at
//!    once) to the last verdict, so it covers sending each request,
//!    the service answering its three calls from the recording, reading
//!    the response and the replay log, and comparing it with the recorded
//!    one. The report gives it per round with the median against the
//!    target, per-request latency (p50, p99), the whole `tracetape`
//!    process's wall time (which adds loading the recordings and writing
//!    the report) and its end-to-end rate, the service's start-up, and the
//!    CPU time of each side: the service's from `/proc/<pid>/stat` while
//!    the replay ran, the replayer's whole process from this process's
//!    reaped-children time (`/proc/self/stat`).
//!
//! # Collector down
//!
//! `tracetape-bench collector-down [--up N] [--down N] [--connections N]`
//! (defaults 20 s, 60 s, 32) measures the brief's "collector down for a
//! minute under load: no request slower, memory flat, drops counted"
//! ([`collector_down`]). One `traced` server (OTLP/HTTP to rotel) is loaded
//! through three phases without a restart: `before` (rotel up), `down`
//! (rotel killed, its ports closed, so exports are refused), `after`
//! (rotel started again on the same ports). Per phase: requests/s, p50,
//! p99 and max latency, the server's `VmRSS` sampled twice a second (min,
//! max, last); then down/before and after/before ratios, the RSS growth
//! over the outage, and the spans the two rotel runs logged against the
//! responses the load counted (lost = responses - delivered, counted from
//! outside); the server prints its own counts
//! (`TelemetryGuard::span_counts`) on standard error when it lost spans.
//!
//! # Replay fidelity
//!
//! `tracetape-bench fidelity [--requests N] [--concurrency 1,4,16]
//! [--replays N] [--changes NAME,...] [--keep]` (defaults 300, 1,4,16,
//! 1000; [`fidelity`]) measures the brief's replay fidelity: 0 false
//! deviations in 1,000 unchanged replays, >= 95% of injected changes
//! caught, all at the right place, 0 connections reaching a dependency.
//! Its service (`serve-fidelity`, a bike-rental depot unlike the
//! examples) has signed outbound queries (`?ts=..&sig=..`), request ids in
//! bodies and headers, three concurrent calls per quote, a retried 503, a
//! gzip dependency, an NDJSON stream, a start-up and a periodic background
//! call, in-memory state, an audit call after the response and dates
//! counted from today. It is recorded against its two dependencies (served
//! here), which are then stopped; the real `tracetape replay` starts it
//! (`--command`, with the preload library) and replays the unchanged build
//! at each concurrency by turns, then one build per injected change
//! (`FIDELITY_CHANGE`, 29 changes, two of them expected to pass), while
//! listeners hold the dependencies' recorded ports and count what
//! connects. A change counts as caught when the report has a finding at a
//! request and place where no unchanged replay had one, and at the right
//! place when that finding is the change's JSON path, status, header or
//! outbound call. The run fails only when it cannot run, not when a target
//! is missed.
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
//! cargo run --release -p tracetape-bench -- --seconds 5 --rounds 3 \
//!     --modes baseline,traced,peer-otel-tower,peer-tower-http
//! cargo run --release -p tracetape-bench -- --seconds 5 --rounds 3 \
//!     --modes json-1m-baseline,json-1m-record,json-1m-budget,json-1m-over-limit
//! cargo run --release -p tracetape-bench --features count-allocs -- allocs
//! cargo run --release -p tracetape-bench -- callgrind          # needs valgrind
//! cargo run --release -p tracetape-bench -- callgrind --requests 2000 \
//!     --modes json-1k-baseline,json-1k-traced,json-1k-record --keep-dumps /tmp/cg
//! cargo build --release -p tracetape-cli && \
//!     cargo run --release -p tracetape-bench -- replay       # 2000 recordings, 3 rounds
//! cargo run --release -p tracetape-bench -- replay --recordings 10000 --rounds 5
//! cargo run --release -p tracetape-bench -- collector-down   # 20 s + 60 s down + 20 s
//! cargo build --release -p tracetape-cli -p tracetape-preload && \
//!     cargo run --release -p tracetape-bench -- fidelity     # 300 recorded, 1,200 + 29 x 300 replayed
//! cargo run --release -p tracetape-bench -- fidelity --changes date-arithmetic,extra-call --keep
//! cargo build --release -p tracetape-cli && \
//!     cargo run --release -p tracetape-bench -- view         # 1,000,000 spans
//! cargo run --release -p tracetape-bench -- view --spans 200000 --keep
//! cargo run --release -p tracetape-bench -- --help
//! ```
//!
//! Use a release build: a debug build measures the debug build.
//!
//! # Sample output
//!
//! On the 2-core reference machine, quiet (no other builds during the run),
//! with the collector path shortened (`cargo run --release -p tracetape-bench
//! -- --seconds 5 --rounds 3 --modes baseline,traced,traced-grpc,local`, wrk
//! installed):
//!
//! ```text
//! tracetape-bench: 5 s per run (+1 s warm-up), rounds: 3, load: wrk -t1, 2 CPUs
//! GET /hello, 32 connections: baseline, traced, traced-grpc, local
//! collector: .../rotel-agent (blackhole exporter), OTLP/HTTP at http://127.0.0.1:37293, OTLP/gRPC at http://127.0.0.1:43835
//!   ...
//!
//! mode           round 1   round 2   round 3  median req/s  p50 ms  p99 ms peak MB  ratio
//! baseline        172371    174357    174171        174171   0.143   1.500     6.9  1.000
//! traced          113026    111185    109142        111185   0.223   1.890    13.8  0.638  vs baseline
//! traced-grpc     114843    109983    111747        111747   0.221   1.770    15.5  0.642  vs baseline
//! local           117484    115468    116946        116946   0.229   1.490    12.4  0.671  vs baseline
//!
//! traced: the collector received 2019517 spans for 2019453 responses counted by the load generator (100.0%, warm-up included)
//! traced: per-round ratios to the baseline of the same round: 0.656 0.638 0.627
//! traced-grpc: the collector received 877624 spans for 2049605 responses counted by the load generator (42.8%, warm-up included)
//! warning: traced-grpc: 1171981 spans did not reach the collector (dropped?)
//! traced-grpc: per-round ratios to the baseline of the same round: 0.666 0.631 0.642
//! local: the local store held 67.0 MB after each run on average (it is size-capped, so this is not a span count)
//! local: per-round ratios to the baseline of the same round: 0.682 0.662 0.671
//!
//! memory: medians of each run's peak resident set (VmHWM, read before the server stops; warm-up included)
//! memory traced: peak RSS 13.8 MB, +7.0 MB over baseline (6.9 MB)
//! memory traced-grpc: peak RSS 15.5 MB, +8.6 MB over baseline (6.9 MB)
//! memory local: peak RSS 12.4 MB, +5.5 MB over baseline (6.9 MB)
//!
//! ratio traced/baseline: 0.64 (target >= 0.90)
//! ratio traced-grpc/baseline: 0.64 (target >= 0.90)
//! ratio local/baseline: 0.67 (target >= 0.90)
//! ```
//!
//! Record mode with ~1 KB bodies (`--modes
//! json-1k-baseline,json-1k-traced,json-1k-record`, same machine, quiet but
//! for one ~2 s link step in round 1):
//!
//! ```text
//! tracetape-bench: 5 s per run (+1 s warm-up), rounds: 3, load: wrk -t1, 2 CPUs
//! POST /echo: 978-byte JSON order in, 975-byte JSON confirmation out, 32 connections: json-1k-baseline, json-1k-traced, json-1k-record
//! collector: .../rotel-agent (blackhole exporter), OTLP/HTTP at http://127.0.0.1:37579, OTLP/gRPC at http://127.0.0.1:42613
//!   ...
//!
//! mode                round 1   round 2   round 3  median req/s  p50 ms  p99 ms peak MB  ratio
//! json-1k-baseline      33996     39481     39996         39481   0.777   1.740     7.2  1.000
//! json-1k-traced        33328     32702     32684         32702   0.920   2.490    12.6  0.828  vs json-1k-baseline
//! json-1k-record        18654     21467     21571         21467   1.420   4.230    17.3  0.544  vs json-1k-baseline
//!
//! json-1k-traced: the collector received 598327 spans for 598219 responses counted by the load generator (100.0%, warm-up included)
//! json-1k-traced: per-round ratios to the json-1k-baseline of the same round: 0.980 0.828 0.817
//! json-1k-record server stderr, round(s) 1, 2, 3:
//!   tracetape: warning: RecordingWriter.RecordingDroppingStarted: the recording queue is full (1024 recordings or 16777216 bytes); recordings are dropped and counted until it drains
//! json-1k-record: the collector received 373532 spans for 373393 responses counted by the load generator (100.0%, warm-up included)
//! json-1k-record: 169507 recordings written (169507 files, 806.9 MB) for 373393 responses counted by the load generator (45.4%, warm-up included); dropped by the full queue: 204025 (54.6%), failed: 0
//! json-1k-record: the last recording holds a 978-byte request body and a 975-byte response body, both whole
//! warning: json-1k-record: the bounded recording queue dropped 204025 recordings (54.6% of responses): record mode did less work than asked, and its ratios flatter it
//! json-1k-record: per-round ratios to the json-1k-baseline of the same round: 0.549 0.544 0.539
//! json-1k-record: per-round ratios to the json-1k-traced of the same round: 0.560 0.656 0.660
//!
//! memory: medians of each run's peak resident set (VmHWM, read before the server stops; warm-up included)
//! memory json-1k-traced: peak RSS 12.6 MB, +5.4 MB over json-1k-baseline (7.2 MB)
//! memory json-1k-record: peak RSS 17.3 MB, +10.1 MB over json-1k-baseline (7.2 MB), +4.7 MB over json-1k-traced (12.6 MB) (target: record mode adds <= 10 MB)
//!
//! ratio json-1k-traced/json-1k-baseline: 0.83 (target >= 0.90)
//! ratio json-1k-record/json-1k-baseline: 0.54 (target >= 0.80, record vs no tracetape; the queue dropped 204025 recordings)
//! ratio json-1k-record/json-1k-traced: 0.66 (target >= 0.80, record vs tracing with TRACETAPE_MODE=off; the queue dropped 204025 recordings)
//! ```
//!
//! With ~1 MB bodies (`--modes json-1m-baseline,json-1m-traced,json-1m-record`,
//! quiet) a run gave median 53 / 51 / 40 req/s (record 0.76 of the baseline, 0.78 of
//! traced, nothing dropped) and record added 24.7 MB of peak RSS over the
//! baseline, 21.0 MB over traced: each of the 8 connections' exchanges holds
//! its two captured 1 MB bodies until it is handed to the writer, which then
//! encodes it (base64 in JSON) into a buffer of its own. With `--connections 1`
//! record mode adds about 2-3 MB. The 1 MB baseline is CPU-bound in the
//! handler (~30 ms a request, building and dropping a `serde_json::Value`
//! of ~14,000 small objects), which is what keeps those ratios high.
//!
//! With the pair modes the table gains `pair-baseline` and `pair-traced`
//! rows (the latter `vs pair-baseline`), the span line of `pair-traced`
//! counts three spans per response (`... at 3 spans each (front SERVER,
//! CLIENT, back SERVER): 99.9% of N, warm-up included`), and the summary
//! ends with `ratio pair-traced/pair-baseline: ...`.
//!
//! Read the span line with the ratio: a traced run that drops spans does
//! less work than one that exports them all, so its ratio flatters it; and
//! read the recordings line with a record mode's ratios for the same
//! reason (above, the queue dropped more than half of the 1 KB recordings).
//!
//! Replay speed (`cargo run --release -p tracetape-bench -- replay`, the
//! reference machine quiet: no rustc and the CPUs at least 90% idle for a
//! minute before):
//!
//! ```text
//! tracetape-bench replay: 2000 recordings of POST /orders (3 outbound calls each, through TracingMiddleware), concurrency 8, rounds: 3, 2 CPUs
//! replayer: .../target/release/tracetape replay --no-start --concurrency 8 --format json
//! service: axum + TraceLayer, reqwest + TracingMiddleware, 2 workers, spans: none (OTEL_TRACES_EXPORTER=none)
//! recorded: 2000 recordings (18.5 MB, one file each) in 0.4 s, each a POST /orders answered 200 with its 3 outbound calls, no two alike
//!   round 1: 2000 of 2000 passed in 0.161 s: 12444 replays/s; CPU: service 0.15 s, replayer 0.45 s
//!   round 2: 2000 of 2000 passed in 0.165 s: 12116 replays/s; CPU: service 0.15 s, replayer 0.46 s
//!   round 3: 2000 of 2000 passed in 0.168 s: 11913 replays/s; CPU: service 0.15 s, replayer 0.44 s
//!
//! round   replays/s  window s  process s  p50 ms  p99 ms  service CPU s  replayer CPU s
//! 1           12444     0.161      0.510    0.47    1.09           0.15            0.45
//! 2           12116     0.165      0.507    0.48    1.22           0.15            0.46
//! 3           11913     0.168      0.500    0.48    1.56           0.15            0.44
//! median      12116     0.165      0.507    0.48    1.22           0.15            0.45
//!
//! checked: every replay passed (6000 recordings over 3 rounds); 18000 outbound calls answered from the recordings (exact 18000, redacted 0, similar 0), none unmatched
//! CPU per replayed request (medians, user + system): service 75 us (0.91 cores over the window), replayer 225 us over its whole run (0.88 cores over its process time); 2 CPUs
//! not in the figure: the service's start in replay mode (spawned to listening, loading the recordings) took 0.118 s (median)
//! end to end: the whole tracetape process (start, loading the recordings, replaying, writing the report) replays 3943 recordings/s (median)
//!
//! replay speed: 12116 recorded requests/s (median of 3 rounds of 2000 recordings, 3 mocked calls each, concurrency 8): 12.12 x the target (>= 1,000/s)
//! ```
//!
//! With `--recordings 10000` the window is about 0.76 s and the median
//! 13,100 replays/s; with `--traces local` (spans to the local store)
//! 11,000/s. The service keeps one core busy during the window. The
//! replayer's CPU time covers its whole process, and most of it falls
//! outside the window: loading every recording before the first request,
//! writing the JSON report after the last verdict (a perf profile puts
//! roughly a third of it inside the window, so the window is CPU-bound on
//! both cores). That is also why the end-to-end rate is about a third of
//! the figure.

mod alloc_count;
mod child;
mod cli;
mod collector;
mod collector_down;
mod cpu;
mod cpu_share;
mod exported;
mod fidelity;
mod grpc;
mod json;
mod load;
mod memory;
mod mode;
mod orders;
mod peers;
mod per_request;
mod postgres;
mod recordings;
mod replay;
mod report;
mod run;
mod sample;
mod server;
mod view;

use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    let result = args()
        .and_then(cli::parse)
        .and_then(|command| match command {
            Command::Run(args) => run::run(&args).map(|()| ExitCode::SUCCESS),
            Command::Replay(args) => replay::run(&args).map(|()| ExitCode::SUCCESS),
            Command::CollectorDown(args) => collector_down::run(&args).map(|()| ExitCode::SUCCESS),
            Command::Serve(args) => server::serve(&args).map(|()| ExitCode::SUCCESS),
            Command::ServeOrders(args) => orders::serve_orders(&args).map(|()| ExitCode::SUCCESS),
            Command::Fidelity(args) => fidelity::run(&args).map(|()| ExitCode::SUCCESS),
            Command::ServeFidelity(args) => {
                fidelity::service::serve(&args).map(|()| ExitCode::SUCCESS)
            }
            Command::Postgres(args) => postgres::run(&args).map(|()| ExitCode::SUCCESS),
            Command::Grpc(args) => grpc::run(&args).map(|()| ExitCode::SUCCESS),
            Command::View(args) => view::run(&args).map(|()| ExitCode::SUCCESS),
            Command::Load(args) => load::generate(&args).map(|()| ExitCode::SUCCESS),
            Command::Allocs(args) => {
                per_request::run(per_request::Counter::Allocs, &args).map(|()| ExitCode::SUCCESS)
            }
            Command::Callgrind(args) => {
                per_request::run(per_request::Counter::Callgrind, &args).map(|()| ExitCode::SUCCESS)
            }
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
