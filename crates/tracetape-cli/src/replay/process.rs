//! The service's process: `sh -c COMMAND` in a process group of its own,
//! its output appended to a log file, and the whole group stopped with
//! SIGTERM, then SIGKILL for whatever is left after a grace period (and a
//! wait, read from `/proc`, until no process of the group is left). Each
//! group is told to the [`Watchdog`], which stops it if the replay goes
//! without doing so.
//!
//! Signals go to the group through the shell's `kill` (`sh -c 'kill -s
//! TERM -- -PGID'`): this crate has no unsafe code, the standard library
//! only signals one process, and `sh`, needed to run the command anyway,
//! always has `kill` built in (a `kill` executable may not be installed).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::procfs;
use super::watchdog::Watchdog;

/// How long the group has to exit after SIGTERM before SIGKILL.
pub(super) const GRACE: Duration = Duration::from_secs(5);
/// Lines of the log shown when the service fails.
const TAIL_LINES: usize = 20;

/// The log file the service writes to: standard output and standard error
/// of every start, one after the other. It lives in a temporary directory
/// that is removed at the end unless [`keep`](Self::keep) was called.
#[derive(Debug)]
pub(crate) struct ServiceLog {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl ServiceLog {
    pub(crate) fn create() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("tracetape-replay-")
            .tempdir()?;
        let path = dir.path().join("service.log");
        File::create(&path)?;
        Ok(Self {
            dir: Some(dir),
            path,
        })
    }

    /// A log at `path` (made anew), kept after the run.
    pub(crate) fn create_at(path: &Path) -> io::Result<Self> {
        File::create(path)?;
        Ok(Self {
            dir: None,
            path: path.to_owned(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the log stays after the run.
    pub(crate) fn kept(&self) -> bool {
        self.dir.is_none()
    }

    /// Keeps the log after the run, for the user to read.
    pub(crate) fn keep(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
    }

    /// The last lines of the log, each indented, and where the rest is:
    /// what an error shows when the service failed. Keeps the log.
    pub(crate) fn tail(&mut self) -> String {
        self.keep();
        let text = std::fs::read(&self.path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let shown = &lines[lines.len().saturating_sub(TAIL_LINES)..];
        let mut tail = format!("its log ({}):", self.path.display());
        if shown.is_empty() {
            tail.push_str(" (empty)");
        }
        for line in shown {
            tail.push_str("\n  | ");
            tail.push_str(line);
        }
        tail
    }

    fn append(&self) -> io::Result<File> {
        OpenOptions::new().append(true).open(&self.path)
    }
}

/// The running service: the group leader, `sh -c COMMAND`.
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    /// The process group: the leader's pid.
    pgid: u32,
    /// The group has been stopped (or has no process left to stop).
    stopped: bool,
    /// What stops the group if the replay goes first.
    watchdog: Option<Watchdog>,
}

impl Process {
    /// Starts `command` with `env` added to this process's environment,
    /// its output appended to `log` under a line saying which start this
    /// is, and its group told to `watchdog`.
    pub(crate) fn spawn(
        command: &str,
        env: &[(&str, &Path)],
        log: &ServiceLog,
        start: usize,
        watchdog: Option<&Watchdog>,
    ) -> io::Result<Self> {
        let mut out = log.append()?;
        writeln!(
            out,
            "--- tracetape replay: start {start} of the service: sh -c {command:?} ---"
        )?;
        let err = out.try_clone()?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let child = cmd.spawn()?;
        let pgid = child
            .id()
            .ok_or_else(|| io::Error::other("the service exited as it started"))?;
        let process = Self {
            child,
            pgid,
            stopped: false,
            watchdog: watchdog.cloned(),
        };
        if let Some(watchdog) = watchdog {
            // Dropped (so killed) when the watchdog cannot be told.
            watchdog.watch(pgid).map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("failed to tell the watchdog about the service's process group: {err}"),
                )
            })?;
        }
        Ok(process)
    }

    /// The process group: the leader's pid.
    pub(crate) fn pgid(&self) -> u32 {
        self.pgid
    }

    /// Waits for the leader to exit.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Stops the whole group: SIGTERM, up to [`GRACE`] for the leader to
    /// exit, then SIGKILL for anything left in the group (children the
    /// service left behind, or a leader that would not stop).
    pub(crate) async fn stop(&mut self) {
        if self.stopped {
            return;
        }
        signal_group(self.pgid, "TERM").await;
        let _ = tokio::time::timeout(GRACE, self.child.wait()).await;
        signal_group(self.pgid, "KILL").await;
        let _ = self.child.wait().await;
        // A killed process may take a moment to go (a large one unmaps a
        // lot); the leader's exit says nothing of the rest of the group.
        let deadline = tokio::time::Instant::now() + GRACE;
        while !procfs::alive_in_group(self.pgid).is_empty()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stopped = true;
        if let Some(watchdog) = &self.watchdog {
            watchdog.forget(self.pgid);
        }
    }
}

impl Drop for Process {
    /// A run that ends without [`stop`](Process::stop) (an error, a panic)
    /// still leaves nothing running.
    fn drop(&mut self) {
        if !self.stopped {
            kill_group_now(self.pgid, "KILL");
        }
    }
}

/// Sends `signal` to the process group `pgid` and waits for `sh` to have
/// sent it, outside the async runtime; a group with nobody left in it is
/// no error.
pub(super) fn kill_group_now(pgid: u32, signal: &str) {
    let _ = std::process::Command::new("sh")
        .args(kill_args(pgid, signal))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Sends `signal` to the process group `pgid`; a group with nobody left
/// in it is no error.
async fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("sh")
        .args(kill_args(pgid, signal))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// The arguments of `sh` that send `signal` to the group `pgid`.
fn kill_args(pgid: u32, signal: &str) -> [String; 5] {
    [
        "-c".to_owned(),
        r#"kill -s "$1" -- "-$2""#.to_owned(),
        "sh".to_owned(),
        signal.to_owned(),
        pgid.to_string(),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines_and_keeps_the_log() {
        let mut log = ServiceLog::create().unwrap();
        let lines: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        std::fs::write(log.path(), lines).unwrap();
        let tail = log.tail();
        let shown: Vec<&str> = tail.lines().collect();
        assert_eq!(shown.len(), 1 + TAIL_LINES);
        assert_eq!(shown[1], "  | line 11");
        assert_eq!(shown[TAIL_LINES], "  | line 30");
        let path = log.path().to_owned();
        drop(log);
        assert!(path.exists());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_signal_reaches_the_whole_group() {
        let log = ServiceLog::create().unwrap();
        // The leader waits for a child; SIGTERM to the leader alone would
        // leave `sleep` running, and `wait` waiting.
        let mut process = Process::spawn("sleep 300 & wait", &[], &log, 1, None).unwrap();
        signal_group(process.pgid, "TERM").await;
        let waited = tokio::time::timeout(Duration::from_secs(30), process.wait()).await;
        let status = waited.expect("the group got no signal").unwrap();
        assert!(!status.success());
        process.stop().await;
    }

    #[test]
    fn an_unkept_log_goes_away() {
        let log = ServiceLog::create().unwrap();
        let path = log.path().to_owned();
        drop(log);
        assert!(!path.exists());
    }
}
