//! Load generation: `wrk` when available, else a built-in generator that
//! runs as its own process (`tracetape-bench load`), so the generator never
//! shares a runtime, or an allocator, with the server it measures.
//!
//! Both keep `connections` keep-alive HTTP/1.1 connections busy with
//! `GET /hello`, one request in flight per connection, from a single thread
//! (`wrk -t1`; a current-thread runtime for the built-in one).

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::HOST;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::child::{ChildGuard, stdin_closed, watched};
use crate::cli::LoadArgs;

/// Which generator produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generator {
    Wrk,
    Builtin,
}

impl Generator {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Generator::Wrk => "wrk -t1",
            Generator::Builtin => "built-in (hyper, 1 thread)",
        }
    }
}

/// What one load run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LoadResult {
    /// Successful responses completed within the run.
    pub(crate) requests: u64,
    /// Failed requests: socket errors, non-2xx/3xx responses.
    pub(crate) errors: u64,
    /// Length of the run.
    pub(crate) seconds: f64,
    /// Requests per second.
    pub(crate) rps: f64,
    /// Median latency, milliseconds.
    pub(crate) p50_ms: Option<f64>,
    /// 99th percentile latency, milliseconds.
    pub(crate) p99_ms: Option<f64>,
}

/// Whether `wrk` is on `PATH` and runs.
pub(crate) fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Loads `127.0.0.1:port/hello` for `seconds` with the chosen generator.
pub(crate) fn run_load(
    generator: Generator,
    port: u16,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<LoadResult> {
    let mut command = match generator {
        Generator::Wrk => {
            let mut command = watched("wrk")?;
            command.args([
                "-t1".to_owned(),
                format!("-c{connections}"),
                format!("-d{seconds}s"),
                "--latency".to_owned(),
                format!("http://127.0.0.1:{port}/hello"),
            ]);
            command
        }
        Generator::Builtin => {
            let exe = std::env::current_exe().context("locating this executable")?;
            let mut command = Command::new(exe);
            command.args([
                "load".to_owned(),
                "--port".to_owned(),
                port.to_string(),
                "--connections".to_owned(),
                connections.to_string(),
                "--seconds".to_owned(),
                seconds.to_string(),
            ]);
            command
        }
    };
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", generator.name()))?;
    let mut child = ChildGuard::new(generator.name(), child);

    // Both print a few hundred bytes at the end: the pipe cannot fill up.
    let limit = Duration::from_secs(seconds + 30);
    let Some(status) = child.wait_timeout(limit)? else {
        bail!("{} did not finish within {limit:?}", generator.name());
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.take_stdout() {
        stdout
            .read_to_string(&mut out)
            .context("reading the load generator's output")?;
    }
    if !status.success() {
        bail!("{} failed ({status}):\n{out}", generator.name());
    }
    match generator {
        Generator::Wrk => parse_wrk(&out),
        Generator::Builtin => parse_builtin(&out),
    }
    .with_context(|| format!("parsing the output of {}:\n{out}", generator.name()))
}

/// A wrk duration such as `812.00us`, `1.25ms`, `10.00s` or `1.00m`, in
/// milliseconds.
fn parse_wrk_time(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// Reads wrk's summary: `Requests/sec:`, `N requests in T`, the latency
/// distribution, and the error lines.
fn parse_wrk(out: &str) -> anyhow::Result<LoadResult> {
    let mut result = LoadResult::default();
    let mut rps = None;
    let mut non_2xx = 0;
    for line in out.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = Some(rest.trim().parse::<f64>().context("Requests/sec")?);
        } else if line.contains(" requests in ") {
            let requests = words.next().context("request count")?;
            result.requests = requests.parse().context("request count")?;
            let time = words.nth(2).context("run time")?.trim_end_matches(',');
            result.seconds = parse_wrk_time(time).context("run time")? / 1000.0;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in rest.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    result.errors += n.parse::<u64>().context("socket errors")?;
                }
            }
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = rest.trim().parse::<u64>().context("non-2xx count")?;
        } else if let (Some(pct), Some(time), None) = (words.next(), words.next(), words.next()) {
            match pct {
                "50%" => result.p50_ms = parse_wrk_time(time),
                "99%" => result.p99_ms = parse_wrk_time(time),
                _ => {}
            }
        }
    }
    result.rps = rps.context("no \"Requests/sec:\" line")?;
    // wrk counts non-2xx responses in its total; report successes only.
    result.requests = result.requests.saturating_sub(non_2xx);
    result.errors += non_2xx;
    Ok(result)
}

/// Reads the single `key=value ...` line that `load` prints.
fn parse_builtin(out: &str) -> anyhow::Result<LoadResult> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with("requests="))
        .context("no result line")?;
    let mut result = LoadResult::default();
    for pair in line.split_whitespace() {
        let (key, value) = pair.split_once('=').context("key=value")?;
        match key {
            "requests" => result.requests = value.parse()?,
            "errors" => result.errors = value.parse()?,
            "seconds" => result.seconds = value.parse()?,
            "p50_us" => result.p50_ms = value.parse::<f64>().ok().map(|us| us / 1000.0),
            "p99_us" => result.p99_ms = value.parse::<f64>().ok().map(|us| us / 1000.0),
            _ => {}
        }
    }
    if result.seconds <= 0.0 {
        bail!("run time missing");
    }
    result.rps = result.requests as f64 / result.seconds;
    Ok(result)
}

/// What one connection of the built-in generator saw.
#[derive(Debug, Default)]
struct ConnectionStats {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// `load`: the built-in generator. Prints one result line on standard
/// output.
pub(crate) fn generate(args: &LoadArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the load runtime")?;
    let stop = stdin_closed();
    let (stats, seconds) = runtime.block_on(async {
        tokio::select! {
            stats = generate_for(args) => Ok(stats),
            _ = stop => Err(anyhow::anyhow!("stopped: standard input closed")),
        }
    })?;
    let mut latencies: Vec<u32> = Vec::new();
    let mut errors = 0;
    for s in stats {
        latencies.extend_from_slice(&s.latencies_us);
        errors += s.errors;
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> String {
        if latencies.is_empty() {
            return "-".to_owned();
        }
        let rank = ((latencies.len() as f64) * p).ceil() as usize;
        let index = rank.clamp(1, latencies.len()) - 1;
        latencies.get(index).map_or("-".to_owned(), u32::to_string)
    };
    println!(
        "requests={} errors={errors} seconds={seconds:.3} p50_us={} p99_us={}",
        latencies.len(),
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}

/// Runs the connections until the deadline; returns their stats and the
/// length of the measured window in seconds.
async fn generate_for(args: &LoadArgs) -> (Vec<ConnectionStats>, f64) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut tasks = JoinSet::new();
    for _ in 0..args.connections {
        tasks.spawn(connection(addr, deadline));
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stats) => all.push(stats),
            Err(_) => all.push(ConnectionStats {
                latencies_us: Vec::new(),
                errors: 1,
            }),
        }
    }
    (all, (deadline - start).as_secs_f64())
}

/// One client connection, reconnecting after errors, until `deadline`;
/// responses still in flight at the deadline are not counted.
async fn connection(addr: SocketAddr, deadline: tokio::time::Instant) -> ConnectionStats {
    let mut stats = ConnectionStats::default();
    let _ = tokio::time::timeout_at(deadline, async {
        loop {
            if request_loop(addr, &mut stats).await.is_err() {
                stats.errors += 1;
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    })
    .await;
    stats
}

/// Sends `GET /hello` on one keep-alive connection until an error.
async fn request_loop(addr: SocketAddr, stats: &mut ConnectionStats) -> anyhow::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp)).await?;
    // Ends when `sender` is dropped.
    tokio::spawn(conn);
    loop {
        sender.ready().await?;
        let request = Request::get("/hello")
            .header(HOST, addr.to_string())
            .body(Empty::new())?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        if ok {
            let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
            stats.latencies_us.push(micros);
        } else {
            stats.errors += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "\
Running 5s test @ http://127.0.0.1:40000/hello
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  310.12us   9.87ms   90.00%
    Req/Sec    31.50k     1.20k   33.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.40ms
     99%    2.50ms
  156789 requests in 5.00s, 19.14MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  31357.80
Transfer/sec:      3.83MB
";

    #[test]
    fn parses_wrk() -> anyhow::Result<()> {
        let r = parse_wrk(WRK)?;
        assert!((r.rps - 31357.80).abs() < 1e-6);
        assert_eq!(r.requests, 156789 - 4);
        assert_eq!(r.errors, 7);
        assert!((r.seconds - 5.0).abs() < 1e-9);
        assert_eq!(r.p50_ms, Some(0.812));
        assert_eq!(r.p99_ms, Some(2.5));
        Ok(())
    }

    #[test]
    fn parses_wrk_times() {
        assert_eq!(parse_wrk_time("10.00s"), Some(10_000.0));
        assert_eq!(parse_wrk_time("1.00m"), Some(60_000.0));
        assert_eq!(parse_wrk_time("bogus"), None);
    }

    #[test]
    fn rejects_wrk_without_rate() {
        assert!(parse_wrk("Running 5s test\n").is_err());
    }

    #[test]
    fn parses_builtin() -> anyhow::Result<()> {
        let r = parse_builtin("requests=1000 errors=0 seconds=2.000 p50_us=900 p99_us=2000\n")?;
        assert_eq!(r.requests, 1000);
        assert!((r.rps - 500.0).abs() < 1e-9);
        assert_eq!(r.p50_ms, Some(0.9));
        assert_eq!(r.p99_ms, Some(2.0));
        Ok(())
    }
}
