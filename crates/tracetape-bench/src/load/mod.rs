//! Load generation: `wrk` when available ([`wrk`]), else a built-in
//! generator ([`builtin`]) that runs as its own process
//! (`tracetape-bench load`), so the generator never shares a runtime, or
//! an allocator, with the server it measures.
//!
//! Both keep `connections` keep-alive HTTP/1.1 connections busy, one
//! request in flight per connection, from a single thread (`wrk -t1`; a
//! current-thread runtime for the built-in one), with the request a
//! [`Target`] names: `GET /hello`, or `POST /echo` with a JSON body read
//! from a file.

mod builtin;
mod wrk;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

pub(crate) use builtin::generate;

use crate::child::{ChildGuard, watched};
use crate::cli::LoadTool;

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

/// What each request of a load run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `GET /hello`.
    Hello,
    /// `POST /echo`, `Content-Type: application/json`, with the bytes of
    /// `body` (a file); `script` is the wrk Lua script that sends them.
    Json { body: PathBuf, script: PathBuf },
}

impl Target {
    /// Writes `body` and the wrk script that posts it into `dir`, under
    /// names starting with `name`.
    pub(crate) fn json(dir: &Path, name: &str, body: &[u8]) -> anyhow::Result<Target> {
        let body_path = dir.join(format!("{name}.json"));
        std::fs::write(&body_path, body)
            .with_context(|| format!("writing {}", body_path.display()))?;
        let script = dir.join(format!("{name}.lua"));
        std::fs::write(&script, wrk::post_json_script(&body_path))
            .with_context(|| format!("writing {}", script.display()))?;
        Ok(Target::Json {
            body: body_path,
            script,
        })
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
    /// The slowest request, milliseconds.
    pub(crate) max_ms: Option<f64>,
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

/// The generator `tool` asks for: `wrk` when it is on `PATH` (or an
/// error if `wrk` was asked for and is missing), else the built-in one.
pub(crate) fn choose(tool: LoadTool) -> anyhow::Result<Generator> {
    Ok(match tool {
        LoadTool::Builtin => Generator::Builtin,
        LoadTool::Wrk if !wrk_available() => bail!("--load wrk, but wrk is not on PATH"),
        LoadTool::Wrk => Generator::Wrk,
        LoadTool::Auto if wrk_available() => Generator::Wrk,
        LoadTool::Auto => Generator::Builtin,
    })
}

/// Loads `127.0.0.1:port` with `target` for `seconds` with the chosen
/// generator.
pub(crate) fn run_load(
    generator: Generator,
    port: u16,
    target: &Target,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<LoadResult> {
    let mut command = match generator {
        Generator::Wrk => {
            let mut command = watched("wrk")?;
            command.args(wrk::args(port, target, connections, seconds));
            command
        }
        Generator::Builtin => {
            let exe = std::env::current_exe().context("locating this executable")?;
            let mut command = Command::new(exe);
            command.args(builtin::args(port, target, connections, seconds));
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
        Generator::Wrk => wrk::parse(&out),
        Generator::Builtin => builtin::parse(&out),
    }
    .with_context(|| format!("parsing the output of {}:\n{out}", generator.name()))
}
