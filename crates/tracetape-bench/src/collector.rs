//! A real OTLP collector for the traced mode: `rotel-agent` with the
//! blackhole exporter, so spans cross a real gRPC connection and are
//! decoded, then discarded.
//!
//! rotel runs with `--debug-log traces`, which logs one line per export
//! request received with its span count; adding those up tells how many of
//! the spans the server made actually reached the collector.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::child::{ChildGuard, watched};

/// How long rotel may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `rotel-agent`, killed when dropped.
#[derive(Debug)]
pub(crate) struct Collector {
    process: ChildGuard,
    grpc_port: u16,
    http_port: u16,
    output: PathBuf,
    binary: PathBuf,
}

impl Collector {
    /// Starts rotel on two free loopback ports, with its files in `dir`,
    /// and waits until both ports accept connections.
    pub(crate) fn start(dir: &Path) -> anyhow::Result<Self> {
        Collector::start_on(dir, "rotel", free_port()?, free_port()?)
    }

    /// Starts rotel listening on `grpc_port` and `http_port`, its files in
    /// `dir` named after `name` (`{name}.out`, `.pid`, `.log`), and waits
    /// until both ports accept connections. Starting it again on the ports
    /// of one that was killed brings "the same" collector back.
    pub(crate) fn start_on(
        dir: &Path,
        name: &str,
        grpc_port: u16,
        http_port: u16,
    ) -> anyhow::Result<Self> {
        let binary = rotel_binary()?;
        let output = dir.join(format!("{name}.out"));
        let out =
            File::create(&output).with_context(|| format!("creating {}", output.display()))?;
        let err = out.try_clone().context("duplicating a file handle")?;
        let child = watched(&binary)?
            .arg("start")
            .args(["--exporter", "blackhole"])
            .arg("--otlp-grpc-endpoint")
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{http_port}"))
            .args(["--debug-log", "traces", "--log-format", "json"])
            .arg("--pid-file")
            .arg(dir.join(format!("{name}.pid")))
            .arg("--log-file")
            .arg(dir.join(format!("{name}.log")))
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut collector = Collector {
            process: ChildGuard::new("rotel-agent", child),
            grpc_port,
            http_port,
            output,
            binary,
        };
        for port in [grpc_port, http_port] {
            collector.wait_listening(port)?;
        }
        Ok(collector)
    }

    fn wait_listening(&mut self, port: u16) -> anyhow::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Err(err) = self.process.ensure_running() {
                let out = fs::read_to_string(&self.output).unwrap_or_default();
                return Err(err.context(format!("rotel output:\n{out}")));
            }
            if Instant::now() >= deadline {
                bail!("rotel-agent did not listen on {addr} within {START_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// rotel's own process id: the child of the `watch` process this
    /// holds (Linux); `None` where `/proc` does not say.
    pub(crate) fn pid(&self) -> Option<u32> {
        let watch = self.process.id();
        let children = fs::read_to_string(format!("/proc/{watch}/task/{watch}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// The gRPC and OTLP/HTTP ports, to start it again on.
    pub(crate) fn ports(&self) -> (u16, u16) {
        (self.grpc_port, self.http_port)
    }

    /// Kills rotel outright (SIGKILL, through its `watch` process: no
    /// flush, no goodbye), waits until neither port accepts connections,
    /// and returns the spans its debug log counted.
    pub(crate) fn kill(mut self) -> anyhow::Result<u64> {
        self.process.kill();
        for port in [self.grpc_port, self.http_port] {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + START_TIMEOUT;
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                if Instant::now() >= deadline {
                    bail!("{addr} still accepts connections after rotel-agent was killed");
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.spans_received()
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for the OTLP/HTTP receiver.
    pub(crate) fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for the gRPC receiver.
    pub(crate) fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The rotel binary in use.
    pub(crate) fn binary(&self) -> &Path {
        &self.binary
    }

    /// Fails when rotel has exited.
    pub(crate) fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.process.ensure_running()
    }

    /// Spans received so far, from rotel's debug log.
    pub(crate) fn spans_received(&self) -> anyhow::Result<u64> {
        let text = fs::read_to_string(&self.output)
            .with_context(|| format!("reading {}", self.output.display()))?;
        Ok(count_spans(&text))
    }

    /// Spans received, once the count has not changed for a moment (the
    /// log line can trail the export response slightly); at most `limit`.
    pub(crate) fn spans_received_settled(&self, limit: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + limit;
        let mut last = self.spans_received()?;
        loop {
            thread::sleep(Duration::from_millis(250));
            let now = self.spans_received()?;
            if now == last || Instant::now() >= deadline {
                return Ok(now);
            }
            last = now;
        }
    }
}

/// Sums the `"spans":N` fields of rotel's `Received traces.` JSON lines.
fn count_spans(log: &str) -> u64 {
    log.lines()
        .filter(|line| line.contains("\"Received traces.\""))
        .filter_map(|line| {
            let rest = &line[line.find("\"spans\":")? + "\"spans\":".len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse::<u64>().ok()
        })
        .sum()
}

/// `$ROTEL_AGENT`, else the `rotel-agent` next to the `rotel` Python
/// package.
fn rotel_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return Ok(PathBuf::from(path));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import rotel, os; print(os.path.dirname(rotel.__file__))",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running python3 to find the rotel package (or set ROTEL_AGENT)")?;
    if !out.status.success() {
        bail!("python3 could not import rotel (pip install rotel, or set ROTEL_AGENT)");
    }
    let dir = String::from_utf8(out.stdout).context("python3 output")?;
    let binary = Path::new(dir.trim()).join("rotel-agent");
    if !binary.is_file() {
        bail!("no rotel-agent at {} (set ROTEL_AGENT)", binary.display());
    }
    Ok(binary)
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("local address")?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_spans_in_rotel_log() {
        let log = r#"{"v":0,"msg":"Starting Rotel.","level":30,"grpc_endpoint":"127.0.0.1:1"}
{"v":0,"msg":"Received traces.","level":30,"spans":512,"resource_spans":1,"data_type":"traces"}
{"v":0,"msg":"Received traces.","level":30,"spans":7,"resource_spans":1,"data_type":"traces"}
{"v":0,"msg":"Received metrics.","level":30,"metrics":3}
"#;
        assert_eq!(count_spans(log), 519);
    }
}
