//! The `tracetape view` under test: the release binary started in the
//! run's directory on free loopback ports, its addresses read from the
//! lines it prints, killed when dropped.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::child::{ChildGuard, remove_telemetry_vars};

/// How long the view may take to print its addresses.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `tracetape view`.
#[derive(Debug)]
pub(super) struct ViewServer {
    /// Killed when dropped.
    child: ChildGuard,
    /// The web UI and its API, `http://ADDR`.
    pub(super) web: String,
    /// The OTLP/gRPC receiver, `http://ADDR`.
    pub(super) grpc: String,
    /// The span store file.
    pub(super) db: PathBuf,
}

impl ViewServer {
    /// Starts `tracetape` `view` with its files in `dir` (an empty trace
    /// store, no recordings or reports, a size limit the run stays under)
    /// and waits for its three lines.
    pub(super) fn start(tracetape: &Path, dir: &Path) -> anyhow::Result<Self> {
        let db = dir.join("view.sqlite");
        let mut command = Command::new(tracetape);
        command
            .arg("view")
            .args(["--listen", "127.0.0.1:0"])
            .args(["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"])
            .arg("--db")
            .arg(&db)
            .arg("--store")
            .arg(dir.join("empty-traces"))
            .arg("--recordings")
            .arg(dir.join("none"))
            .arg("--reports-dir")
            .arg(dir.join("none"))
            .args(["--max-size", "8GiB"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        remove_telemetry_vars(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("starting {} view", tracetape.display()))?;
        let mut child = ChildGuard::new("tracetape view", child);
        let lines = first_lines(&mut child)?;
        let (web, grpc) = addresses(&lines)?;
        Ok(ViewServer {
            child,
            web,
            grpc,
            db,
        })
    }

    /// The view's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails when the view has exited.
    pub(super) fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.child.ensure_running()
    }
}

/// The first three lines the view prints, read on a thread of their own
/// so that a view that prints nothing fails the run after a while.
fn first_lines(child: &mut ChildGuard) -> anyhow::Result<Vec<String>> {
    let stdout = child
        .take_stdout()
        .context("the view's standard output is not piped")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => lines.push(line.trim_end().to_owned()),
            }
        }
        let _ = tx.send(lines);
        // Keep reading, so that the view never blocks on a full pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let lines = rx
        .recv_timeout(START_TIMEOUT)
        .with_context(|| format!("tracetape view printed no addresses in {START_TIMEOUT:?}"))?;
    if lines.len() < 3 {
        child.ensure_running()?;
        bail!("tracetape view printed {lines:?} and stopped printing");
    }
    Ok(lines)
}

/// The web UI's and the OTLP/gRPC receiver's URLs, from
/// `tracetape view: http://ADDR/` and
/// `receiving OTLP/gRPC at http://ADDR and OTLP/HTTP at ...`.
fn addresses(lines: &[String]) -> anyhow::Result<(String, String)> {
    let web = lines
        .iter()
        .find_map(|line| line.strip_prefix("tracetape view: "))
        .map(|url| url.trim_end_matches('/').to_owned())
        .with_context(|| format!("no web UI address in {lines:?}"))?;
    let grpc = lines
        .iter()
        .find_map(|line| line.strip_prefix("receiving OTLP/gRPC at "))
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_owned)
        .with_context(|| format!("no OTLP/gRPC address in {lines:?}"))?;
    for url in [&web, &grpc] {
        url.strip_prefix("http://")
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .with_context(|| format!("{url:?} is not http://ADDR:PORT"))?;
    }
    Ok((web, grpc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_addresses_the_view_prints() -> anyhow::Result<()> {
        let lines = [
            "tracetape view: http://127.0.0.1:41234/",
            "receiving OTLP/gRPC at http://127.0.0.1:40001 and OTLP/HTTP at http://127.0.0.1:40002/v1/traces",
            "spans kept in /tmp/x/view.sqlite (read 0 new from /tmp/x/empty-traces); Ctrl-C stops",
        ]
        .map(str::to_owned);
        let (web, grpc) = addresses(&lines)?;
        assert_eq!(web, "http://127.0.0.1:41234");
        assert_eq!(grpc, "http://127.0.0.1:40001");
        assert!(addresses(&lines[2..]).is_err());
        Ok(())
    }
}
