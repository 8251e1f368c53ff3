//! The watchdog: a second `tracetape` process that stops the service's
//! process groups when the replay that started them is gone, however it
//! went (SIGKILL from a CI timeout included), so that no service of an
//! earlier build is left answering on the port.
//!
//! The replay starts it (`tracetape` [`SUBCOMMAND`], which `main` looks
//! for before parsing the command line, so no help or completion shows
//! it) in a process group of its own, holding the write end of a pipe to
//! its standard input, and tells it each group it starts (`watch PGID`) and
//! each it has stopped itself (`forget PGID`). The kernel closes the
//! pipe when the replay's process ends, whatever ends it: at end of file
//! the watchdog sends SIGTERM to the groups it still watches, waits up to
//! the grace period for them to go, sends SIGKILL to what is left, and
//! exits. No unsafe code is needed (no `prctl`, no `pre_exec`), and the
//! service's own children are untouched until then.
//!
//! Not covered: the watchdog killed on its own (the OOM killer; a kill
//! of the whole session or cgroup takes the service along anyway),
//! processes of the service that left its process group (`setsid`, a
//! daemon's double fork: the next replay refuses the port they hold), and
//! a kill in the moment between a start and its `watch` line.

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::process::{GRACE, kill_group_now};
use super::procfs;

/// The first argument that makes `tracetape` the watchdog.
pub(crate) const SUBCOMMAND: &str = "__replay-watchdog";
/// What the watchdog says on standard output once it reads its input.
const READY: &str = "watching";

/// The replay's end of the watchdog; clones share it. The watchdog is
/// told to stop nothing more and reaped when the last clone goes.
#[derive(Debug, Clone)]
pub(crate) struct Watchdog {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    child: Child,
    /// The pipe whose end of file tells the watchdog the replay is gone.
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts the watchdog: this executable again, with [`SUBCOMMAND`],
    /// and waits until it says it is reading its input.
    pub(crate) fn start() -> io::Result<Self> {
        // `/proc/self/exe` still runs this build when its file was
        // replaced or removed since (an upgrade during a run).
        let exe = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()?
        };
        let mut child = Command::new(exe)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Not in the replay's group: a signal to that group (a
            // terminal's Ctrl-C, `timeout`) must leave it to clean up.
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        let mut said = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut said)?;
        }
        if said.trim_end() != READY {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "the watchdog (`tracetape {SUBCOMMAND}`) did not start: it said {said:?}"
            )));
        }
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner { child, stdin })),
        })
    }

    /// From now on, the group `pgid` is stopped if the replay goes.
    pub(crate) fn watch(&self, pgid: u32) -> io::Result<()> {
        self.tell(&format!("watch {pgid}"))
    }

    /// The replay has stopped the group `pgid` itself.
    pub(crate) fn forget(&self, pgid: u32) {
        let _ = self.tell(&format!("forget {pgid}"));
    }

    fn tell(&self, line: &str) -> io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let stdin = inner
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("the watchdog is gone"))?;
        writeln!(stdin, "{line}")?;
        stdin.flush()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // End of file: the watchdog stops what it still watches (nothing,
        // when the replay stopped everything it started) and exits.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// `tracetape __replay-watchdog`: reads `watch PGID` and `forget PGID`
/// lines until end of file, then stops the groups still watched.
pub(crate) fn run() -> io::Result<()> {
    let mut out = io::stdout();
    writeln!(out, "{READY}")?;
    out.flush()?;
    let mut groups = Vec::new();
    for line in io::stdin().lock().lines() {
        // A read error ends the input as surely as end of file.
        let Ok(line) = line else { break };
        match line.split_once(' ') {
            Some(("watch", pgid)) => groups.extend(pgid.parse::<u32>().ok()),
            Some(("forget", pgid)) => {
                let pgid = pgid.parse::<u32>().ok();
                groups.retain(|&group| Some(group) != pgid);
            }
            _ => {}
        }
    }
    stop_groups(&groups);
    Ok(())
}

/// SIGTERM to each group, up to [`GRACE`] for them to go, then SIGKILL to
/// what is left.
fn stop_groups(groups: &[u32]) {
    let alive = |groups: &[u32]| -> Vec<u32> {
        groups
            .iter()
            .copied()
            .filter(|&pgid| !procfs::alive_in_group(pgid).is_empty())
            .collect()
    };
    let left = alive(groups);
    for &pgid in &left {
        kill_group_now(pgid, "TERM");
    }
    let deadline = Instant::now() + GRACE;
    let mut left = alive(&left);
    while !left.is_empty() && Instant::now() < deadline {
        // Other processes: there is nothing to wait on but /proc.
        std::thread::sleep(Duration::from_millis(20));
        left = alive(&left);
    }
    for pgid in left {
        kill_group_now(pgid, "KILL");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_groups_left_are_stopped() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 300 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id();
        stop_groups(&[pgid]);
        // Reaped here; the group's `sleep` was reaped by init or is gone.
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(procfs::alive_in_group(pgid).is_empty());
    }
}
