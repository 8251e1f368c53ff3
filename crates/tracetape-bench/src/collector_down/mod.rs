//! `collector-down`: the brief's "collector down for a minute under load:
//! no request slower, memory flat, drops counted".
//!
//! One `serve --mode traced` process (spans and metrics over OTLP/HTTP to
//! rotel, exactly as the `traced` mode of `run`) is loaded, after a short
//! warm-up, through three consecutive phases, never restarted:
//!
//! 1. `before`: rotel up, `--up` seconds;
//! 2. `down`: rotel killed (SIGKILL) just before, its ports left closed,
//!    so every export is refused; `--down` seconds;
//! 3. `after`: rotel started again on the same ports (a fresh debug log),
//!    `--up` seconds.
//!
//! Each phase is one load run (wrk, else the built-in generator) with the
//! server's `VmRSS` sampled on a thread meanwhile ([`RssSampler`]). Then
//! the server is stopped as `run` stops it (its standard input closed: it
//! flushes what it still holds to the second rotel), the second rotel's
//! count is read once it settles, and [`summary`] prints the phases, their
//! ratios to `before`, the memory growth over the outage, and the spans the
//! two rotel runs received against the responses the load counted.

mod summary;

use std::fs;
use std::time::Duration;

use anyhow::Context;

use crate::child::{ChildGuard, ServedFiles, start_served};
use crate::cli::CollectorDownArgs;
use crate::collector::Collector;
use crate::load::{self, Generator, Target, run_load};
use crate::memory::RssSampler;
use crate::mode::Mode;
use crate::run::{SERVE_START_TIMEOUT, SERVE_STOP_TIMEOUT, telemetry_env};

use summary::{Phase, PhaseResult, Spans};

/// Seconds of load before the first phase, not measured (its responses
/// are counted with the spans).
const WARMUP_SECONDS: u64 = 1;
/// How often the server's resident set is sampled.
const RSS_EVERY: Duration = Duration::from_millis(500);
/// At most this many lines of the server's standard error are quoted.
const STDERR_LINES: usize = 8;

/// Runs the three phases and prints the report.
pub(crate) fn run(args: &CollectorDownArgs) -> anyhow::Result<()> {
    let generator = load::choose(args.load)?;
    // Declared first so it is removed last, after every child is gone.
    let dir = tempfile::Builder::new()
        .prefix("tracetape-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let collector = Collector::start(dir.path())?;
    let (grpc_port, http_port) = collector.ports();

    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "tracetape-bench collector-down: traced mode (GET /hello, spans over OTLP/HTTP, every \
         request sampled), {} connections, load: {}, {cpus} CPUs",
        args.connections,
        generator.name()
    );
    println!(
        "phases: {WARMUP_SECONDS} s warm-up, then before {} s ({}), down {} s ({}), after {} s \
         ({}); one server throughout",
        args.up,
        Phase::Before.collector(),
        args.down,
        Phase::Down.collector(),
        args.up,
        Phase::After.collector(),
    );
    println!(
        "collector: {} (blackhole exporter), OTLP/HTTP at {}",
        collector.binary().display(),
        collector.http_endpoint()
    );

    let files = ServedFiles::new(dir.path(), "traced")?;
    let env = telemetry_env(
        Mode::Traced,
        Some(&collector),
        &files.work_dir.join("recordings"),
    )?;
    let (mut server, port) = start_served(
        "server (traced)".to_owned(),
        &["serve", "--mode", Mode::Traced.name()],
        &files,
        env,
        SERVE_START_TIMEOUT,
    )?;
    let drive = Drive {
        generator,
        port,
        connections: args.connections,
    };

    let warmup_responses = drive.load(WARMUP_SECONDS).context("warm-up")?.requests;
    let before = phase(Phase::Before, &drive, &mut server, args.up)?;
    let delivered_before = collector.kill().context("killing rotel-agent")?;
    eprintln!("  rotel-agent killed: ports {grpc_port} and {http_port} refuse connections");
    let down = phase(Phase::Down, &drive, &mut server, args.down)?;
    let collector = Collector::start_on(dir.path(), "rotel-after", grpc_port, http_port)
        .context("starting rotel-agent again")?;
    eprintln!("  rotel-agent started again on ports {grpc_port} and {http_port}");
    let after = phase(Phase::After, &drive, &mut server, args.up)?;

    let exit = server.stop(SERVE_STOP_TIMEOUT)?;
    drop(server);
    let delivered_after = collector.spans_received_settled(Duration::from_secs(3))?;
    drop(collector);

    let phases = [before, down, after];
    println!();
    print!(
        "{}",
        summary::report(
            &phases,
            Spans {
                delivered: [delivered_before, delivered_after],
                warmup_responses,
            }
        )
    );
    println!();
    match exit {
        Some(status) if status.success() => {
            println!("server: stopped cleanly when asked (standard input closed)")
        }
        Some(status) => println!("warning: server: failed as it stopped ({status})"),
        None => println!("warning: server: did not stop within {SERVE_STOP_TIMEOUT:?}, killed"),
    }
    let stderr = fs::read_to_string(&files.stderr).unwrap_or_default();
    print!("{}", quote_stderr(&stderr));
    Ok(())
}

/// Where and how the phases load the server.
#[derive(Debug)]
struct Drive {
    generator: Generator,
    port: u16,
    connections: u32,
}

impl Drive {
    fn load(&self, seconds: u64) -> anyhow::Result<load::LoadResult> {
        run_load(
            self.generator,
            self.port,
            &Target::Hello,
            self.connections,
            seconds,
        )
    }
}

/// One phase: `seconds` of load with the server's resident set sampled.
fn phase(
    phase: Phase,
    drive: &Drive,
    server: &mut ChildGuard,
    seconds: u64,
) -> anyhow::Result<PhaseResult> {
    server.ensure_running()?;
    let sampler = RssSampler::start(server.id(), RSS_EVERY);
    let load = drive.load(seconds);
    let rss = sampler.finish();
    let load = load.with_context(|| format!("phase {phase}"))?;
    server
        .ensure_running()
        .with_context(|| format!("phase {phase}"))?;
    eprintln!(
        "  {:<7}{:.0} req/s, p99 {} ms, {} errors",
        phase.name(),
        load.rps,
        load.p99_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.3}")),
        load.errors
    );
    Ok(PhaseResult { phase, load, rss })
}

/// The server's standard error, at most [`STDERR_LINES`] lines of it, with
/// how many there were.
fn quote_stderr(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "server stderr: empty\n".to_owned();
    }
    let mut out = format!("server stderr: {} lines; the first:\n", lines.len());
    for line in lines.iter().take(STDERR_LINES) {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_first_lines_of_stderr() {
        assert_eq!(quote_stderr(""), "server stderr: empty\n");
        let many: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let quoted = quote_stderr(&many);
        assert!(quoted.starts_with("server stderr: 20 lines; the first:\n  line 0\n"));
        assert_eq!(quoted.lines().count(), 1 + STDERR_LINES);
    }
}
