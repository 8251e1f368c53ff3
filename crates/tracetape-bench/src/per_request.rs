//! `allocs` and `callgrind`: what one request of the hello world (or of the
//! JSON app, traced or recording) costs the server process, counted rather
//! than timed.
//!
//! Both start `serve` in each mode (a fresh process per mode, spans
//! exported to the collector as in `run`), send it a warm-up of
//! `--warmup` requests, mark, send exactly `--requests` requests
//! (`GET /hello`, or `POST /echo` with the JSON order of a `json-*` mode,
//! `--connections` keep-alive connections from this process, each
//! response read whole and checked), mark again, and divide what
//! happened between the marks by the requests:
//!
//! - `allocs`: allocations (and bytes) of the server process, from the
//!   counting global allocator that a build with the `count-allocs`
//!   feature installs (stats_alloc); a mark is a newline written to the
//!   server's standard input, answered with one `allocations=N bytes=M`
//!   line on its standard output. Every thread counts: the workers and
//!   the export threads (a batch export is shared by the requests whose
//!   spans it carries, at most one batch falls on each side of a mark);
//! - `callgrind`: instructions, with the server run under
//!   `valgrind --tool=callgrind`; the first mark zeroes its counters
//!   (`callgrind_control -z`), the second dumps them (`callgrind_control
//!   -d`), and the dump's `summary:` is the instructions of every thread
//!   between the two.
//!
//! The table gives each mode's figure per request and its difference to
//! its baseline's (`baseline`, `json-1k-baseline`, ...) when that ran too,
//! which is what the instrumentation costs. In a record mode that includes
//! the writer thread encoding and writing each recording.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::child::{ChildGuard, ServedFiles, Wrapper, start_served_with};
use crate::collector::Collector;
use crate::mode::{Mode, Workload};
use crate::run::{SERVE_START_TIMEOUT, SERVE_STOP_TIMEOUT, telemetry_env};

/// The brief's bound on allocations per traced request.
const ALLOCS_TARGET: f64 = 12.0;
/// What opentelemetry-instrumentation-tower publishes.
const ALLOCS_PUBLISHED_PEER: f64 = 23.0;

/// Options of `allocs` and `callgrind`.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "Allocations (allocs) or instructions (callgrind) per request of one served app")]
pub(crate) struct PerRequestArgs {
    /// The modes: `GET /hello` or `json-*` ones (each compared with its
    /// baseline when that is listed too).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "baseline,traced,peer-otel-tower,peer-tower-http"
    )]
    pub(crate) modes: Vec<Mode>,
    /// Requests measured between the two marks.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) requests: u64,
    /// Requests sent before the first mark.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) warmup: u64,
    /// Keep-alive connections the requests are spread over.
    #[arg(long, default_value_t = 4)]
    pub(crate) connections: u64,
    /// callgrind: copy each mode's dump to `DIR/callgrind.MODE.out`, for
    /// `callgrind_annotate`.
    #[arg(long, value_name = "DIR")]
    pub(crate) keep_dumps: Option<PathBuf>,
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    Allocs,
    Callgrind,
}

/// One mode's count between the marks.
#[derive(Debug, Clone, Copy)]
struct Count {
    /// Allocations, or instructions.
    events: u64,
    /// Bytes allocated (allocs only).
    bytes: Option<u64>,
}

/// Runs `allocs` or `callgrind` and prints its table.
pub(crate) fn run(counter: Counter, args: &PerRequestArgs) -> anyhow::Result<()> {
    if counter == Counter::Allocs && !cfg!(feature = "count-allocs") {
        bail!(
            "allocs needs the counting allocator: cargo run --release -p tracetape-bench \
             --features count-allocs -- allocs"
        );
    }
    for mode in &args.modes {
        if mode.workload() == Workload::Pair {
            bail!("{mode}: allocs and callgrind measure one app, not the pair");
        }
    }
    if args.requests == 0 || args.connections == 0 || args.connections > args.requests {
        bail!(
            "--requests and --connections must be positive, with no more connections than requests"
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let mut collector = if args.modes.iter().any(|m| m.exports()) {
        Some(Collector::start(dir.path())?)
    } else {
        None
    };
    println!(
        "tracetape-bench {}: {} requests measured after {} warm-up, {} connections",
        match counter {
            Counter::Allocs => "allocs (counting global allocator, every thread of the server)",
            Counter::Callgrind => "callgrind (valgrind --tool=callgrind, every thread)",
        },
        args.requests,
        args.warmup,
        args.connections,
    );
    let mut counts: Vec<(Mode, Count)> = Vec::new();
    for &mode in &args.modes {
        let count = measure(counter, mode, args, dir.path(), collector.as_mut())
            .with_context(|| format!("mode {mode}"))?;
        eprintln!("  {:<16} {} events", mode.name(), count.events);
        counts.push((mode, count));
    }
    drop(collector);
    print!("{}", table(counter, args.requests, &counts));
    Ok(())
}

/// Starts the server of `mode`, sends the warm-up and the measured
/// requests between the marks, and stops it.
fn measure(
    counter: Counter,
    mode: Mode,
    args: &PerRequestArgs,
    dir: &Path,
    mut collector: Option<&mut Collector>,
) -> anyhow::Result<Count> {
    let files = ServedFiles::new(dir, &format!("{counter:?}-{mode}"))?;
    if let Some(collector) = collector.as_deref_mut()
        && mode.exports()
    {
        collector.ensure_running()?;
    }
    let env = telemetry_env(
        mode,
        collector.as_deref(),
        &files.work_dir.join("recordings"),
    )?;
    let out_file = files.work_dir.join("callgrind.out");
    let wrapper = match counter {
        Counter::Allocs => None,
        Counter::Callgrind => Some(Wrapper {
            program: PathBuf::from("valgrind"),
            args: vec![
                "--tool=callgrind".to_owned(),
                format!("--callgrind-out-file={}", out_file.display()),
            ],
        }),
    };
    // Under valgrind the server starts some fifty times slower.
    let start_timeout = SERVE_START_TIMEOUT * if wrapper.is_some() { 6 } else { 1 };
    let (mut server, port) = start_served_with(
        format!("server ({mode})"),
        wrapper.as_ref(),
        &["serve", "--mode", mode.name()],
        &files,
        env,
        start_timeout,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the client runtime")?;
    let load = Load::of(mode.workload());
    runtime.block_on(load.send(
        port,
        args.warmup.max(1),
        args.connections.min(args.warmup.max(1)),
    ))?;
    let first = mark(counter, &mut server, &files.stdout, 1)?;
    runtime.block_on(load.send(port, args.requests, args.connections))?;
    server.ensure_running()?;
    let count = match counter {
        Counter::Allocs => {
            let second = mark(counter, &mut server, &files.stdout, 2)?;
            Count {
                events: second.events.saturating_sub(first.events),
                bytes: second
                    .bytes
                    .zip(first.bytes)
                    .map(|(b, a)| b.saturating_sub(a)),
            }
        }
        Counter::Callgrind => {
            callgrind_control(&["-d"], server.id())?;
            let dump = newest_dump(&files.work_dir, &out_file)?;
            if let Some(keep) = &args.keep_dumps {
                let kept = keep.join(format!("callgrind.{mode}.out"));
                fs::create_dir_all(keep)
                    .and_then(|()| fs::copy(&dump, &kept))
                    .with_context(|| format!("keeping the dump as {}", kept.display()))?;
                eprintln!("  {mode}: dump kept as {}", kept.display());
            }
            Count {
                events: callgrind_summary(
                    &fs::read_to_string(&dump)
                        .with_context(|| format!("reading {}", dump.display()))?,
                )?,
                bytes: None,
            }
        }
    };
    let stop_timeout = SERVE_STOP_TIMEOUT * if counter == Counter::Callgrind { 6 } else { 1 };
    if let Err(err) = server.stop_cleanly(stop_timeout, &files.stderr) {
        eprintln!("warning: {err:#}");
    }
    Ok(count)
}

/// The first mark (allocs: the `n`th counts line; callgrind: counters
/// zeroed, so the count starts at 0).
fn mark(
    counter: Counter,
    server: &mut ChildGuard,
    stdout: &Path,
    n: usize,
) -> anyhow::Result<Count> {
    match counter {
        Counter::Allocs => {
            server.send_line()?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let text = fs::read_to_string(stdout).unwrap_or_default();
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| l.starts_with("allocations="))
                    .collect();
                if let Some(line) = lines.get(n - 1) {
                    return parse_alloc_line(line);
                }
                server.ensure_running()?;
                if Instant::now() > deadline {
                    bail!("the server did not answer mark {n} with its allocation count");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Counter::Callgrind => {
            callgrind_control(&["-z"], server.id())?;
            Ok(Count {
                events: 0,
                bytes: None,
            })
        }
    }
}

/// Reads `allocations=N bytes=M`.
fn parse_alloc_line(line: &str) -> anyhow::Result<Count> {
    let mut events = None;
    let mut bytes = None;
    for pair in line.split_whitespace() {
        match pair.split_once('=') {
            Some(("allocations", v)) => events = Some(v.parse()?),
            Some(("bytes", v)) => bytes = Some(v.parse()?),
            _ => {}
        }
    }
    Ok(Count {
        events: events.context("no allocations= in the counts line")?,
        bytes,
    })
}

/// Runs `callgrind_control ARGS PID`.
fn callgrind_control(args: &[&str], pid: u32) -> anyhow::Result<()> {
    let output = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .output()
        .context("running callgrind_control (apt-get install valgrind)")?;
    if !output.status.success() {
        bail!(
            "callgrind_control {} {pid} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The dump `callgrind_control -d` wrote: the newest file named after
/// `out_file` with a suffix.
fn newest_dump(dir: &Path, out_file: &Path) -> anyhow::Result<PathBuf> {
    let prefix = out_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut dumps: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(&prefix) && name.len() > prefix.len()
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        dumps.sort();
        if let Some((_, path)) = dumps.pop() {
            // The dump is complete once its summary line is there.
            if fs::read_to_string(&path).is_ok_and(|t| callgrind_summary(&t).is_ok()) {
                return Ok(path);
            }
        }
        if Instant::now() > deadline {
            bail!("no callgrind dump appeared in {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first event count (instructions, `Ir`) of a callgrind dump's
/// `summary:` (or `totals:`) line.
fn callgrind_summary(text: &str) -> anyhow::Result<u64> {
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .context("no summary line in the callgrind dump")?;
    line.split_whitespace()
        .next()
        .context("an empty summary line")?
        .parse()
        .context("the summary's instruction count")
}

/// The requests a mode is sent: its method, path and body.
#[derive(Debug, Clone)]
struct Load {
    post: Option<Bytes>,
}

impl Load {
    fn of(workload: Workload) -> Self {
        Self {
            post: match workload {
                Workload::Json(bytes) => Some(Bytes::from(crate::json::order(bytes))),
                Workload::Hello | Workload::Pair => None,
            },
        }
    }

    /// Sends exactly `requests` requests to `port`, spread over
    /// `connections` keep-alive connections; fails on any error or non-2xx.
    async fn send(&self, port: u16, requests: u64, connections: u64) -> anyhow::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..connections {
            let share = requests / connections + u64::from(i < requests % connections);
            let load = self.clone();
            tasks.spawn(async move {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp))
                        .await?;
                tokio::spawn(conn);
                for _ in 0..share {
                    sender.ready().await?;
                    let request = load.request(addr)?;
                    let response = sender.send_request(request).await?;
                    let status = response.status();
                    response.into_body().collect().await?;
                    if !status.is_success() {
                        bail!("the server answered {status}");
                    }
                }
                anyhow::Ok(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("a client connection's task")??;
        }
        Ok(())
    }

    fn request(&self, addr: SocketAddr) -> anyhow::Result<Request<Full<Bytes>>> {
        let request = match &self.post {
            None => Request::get("/hello")
                .header(HOST, addr.to_string())
                .body(Full::default())?,
            Some(body) => Request::post("/echo")
                .header(HOST, addr.to_string())
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))?,
        };
        Ok(request)
    }
}

/// Per request, and the difference to `baseline`'s.
fn table(counter: Counter, requests: u64, counts: &[(Mode, Count)]) -> String {
    let mut out = String::new();
    let per = |c: &Count| c.events as f64 / requests as f64;
    let base_of = |mode: Mode| {
        let baseline = mode.baseline()?;
        let (_, count) = counts.iter().find(|(m, _)| *m == baseline)?;
        Some(per(count))
    };
    let base = base_of(Mode::Traced);
    let (unit, decimals) = match counter {
        Counter::Allocs => ("allocations", 2),
        Counter::Callgrind => ("instructions", 0),
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:>16} {:>16} {:>16}",
        "mode",
        format!("{unit}/req"),
        "over baseline",
        if counter == Counter::Allocs {
            "bytes/req"
        } else {
            ""
        }
    );
    for (mode, count) in counts {
        let own = per(count);
        let _ = writeln!(
            out,
            "{:<16} {:>16.decimals$} {:>16} {:>16}",
            mode.name(),
            own,
            base_of(*mode).map_or("-".to_owned(), |b| format!("{:+.decimals$}", own - b)),
            count.bytes.map_or(String::new(), |b| format!(
                "{:.0}",
                b as f64 / requests as f64
            )),
        );
    }
    if counter == Counter::Allocs
        && let (Some(b), Some((_, traced))) =
            (base, counts.iter().find(|(m, _)| *m == Mode::Traced))
    {
        let added = per(traced) - b;
        let _ = writeln!(
            out,
            "\nallocations per traced request (traced - baseline): {added:.2} (target <= \
             {ALLOCS_TARGET:.0}; opentelemetry-instrumentation-tower publishes \
             {ALLOCS_PUBLISHED_PEER:.0})"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_counts_line_and_the_callgrind_summary() -> anyhow::Result<()> {
        let count = parse_alloc_line("allocations=120 bytes=4096")?;
        assert_eq!((count.events, count.bytes), (120, Some(4096)));
        assert!(parse_alloc_line("bytes=1").is_err());
        let dump = "version: 1\ncreator: callgrind\nevents: Ir\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(callgrind_summary(dump)?, 123_456);
        assert!(callgrind_summary("events: Ir\n").is_err());
        Ok(())
    }

    #[test]
    fn table_gives_the_difference_to_the_baseline() {
        let counts = [
            (
                Mode::Baseline,
                Count {
                    events: 1_000,
                    bytes: Some(10_000),
                },
            ),
            (
                Mode::Traced,
                Count {
                    events: 3_000,
                    bytes: Some(30_000),
                },
            ),
        ];
        let table = table(Counter::Allocs, 100, &counts);
        assert!(table.contains("+20.00"), "{table}");
        assert!(table.contains("(traced - baseline): 20.00"), "{table}");
    }
}
