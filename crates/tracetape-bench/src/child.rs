//! Child processes that die with the parent, and the port-file handshake.
//!
//! Every child `run` starts is held in a [`ChildGuard`], which stops it when
//! dropped (on success, on error and on panic unwinding). Every child also
//! gets a piped standard input and stops when it closes, so it goes away
//! even if the parent is killed outright: `serve` and `load` watch their
//! standard input themselves, and programs that do not (rotel, wrk) run
//! under `tracetape-bench watch -- PROGRAM ARGS...`, which kills the program
//! when its standard input closes.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Owns a child process and kills it when dropped.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    name: String,
    child: Child,
}

impl ChildGuard {
    pub(crate) fn new(name: impl Into<String>, child: Child) -> Self {
        ChildGuard {
            name: name.into(),
            child,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The child's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the child has exited.
    pub(crate) fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("checking on {}", self.name))
    }

    /// Fails when the child has already exited.
    pub(crate) fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.exited()? {
            bail!("{} exited early ({status})", self.name);
        }
        Ok(())
    }

    /// Writes a newline to the child's standard input (a mark: `serve`
    /// answers with its allocation counts, see [`stdin_closed`]).
    pub(crate) fn send_line(&mut self) -> anyhow::Result<()> {
        use std::io::Write as _;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .with_context(|| format!("{}'s standard input is closed", self.name))?;
        stdin
            .write_all(b"\n")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("writing to {}", self.name))
    }

    /// Waits up to `timeout` for the child to exit by itself.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes the child's standard input (its signal to stop cleanly) and
    /// waits up to `timeout` for it to exit; kills it after that. Returns
    /// its exit status when it exited by itself, `None` when it was killed.
    pub(crate) fn stop(&mut self, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
        drop(self.child.stdin.take());
        if let Some(status) = self.wait_timeout(timeout)? {
            return Ok(Some(status));
        }
        self.kill();
        Ok(None)
    }

    /// Stops the child as [`stop`](Self::stop) does, and fails unless it
    /// exited by itself, successfully; its standard error went to
    /// `stderr`, which the error quotes.
    pub(crate) fn stop_cleanly(&mut self, timeout: Duration, stderr: &Path) -> anyhow::Result<()> {
        match self.stop(timeout)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => bail!(
                "{} failed as it stopped ({status}); its stderr:\n{}",
                self.name,
                fs::read_to_string(stderr).unwrap_or_default()
            ),
            None => bail!(
                "{} did not stop within {timeout:?} and was killed",
                self.name
            ),
        }
    }

    /// Asks the child to stop by closing its standard input, gives it a
    /// moment (a `watch` child then stops its program), then kills it if
    /// it is still running, and reaps it.
    pub(crate) fn kill(&mut self) {
        if self.child.stdin.is_some() {
            drop(self.child.stdin.take());
            if let Ok(Some(_)) = self.wait_timeout(Duration::from_secs(3)) {
                return;
            }
        }
        if let Ok(None) = self.child.try_wait() {
            // Errors here mean it exited in between: nothing left to do.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// Takes the child's standard output, when it was piped.
    pub(crate) fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `path` exists and holds a port number, or fails after
/// `timeout` or as soon as `child` exits.
pub(crate) fn wait_for_port_file(
    path: &Path,
    child: &mut ChildGuard,
    timeout: Duration,
) -> anyhow::Result<u16> {
    let deadline = Instant::now() + timeout;
    loop {
        match fs::read_to_string(path) {
            Ok(text) => {
                return text
                    .trim()
                    .parse()
                    .with_context(|| format!("port file {} holds {text:?}", path.display()));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("reading {}", path.display()));
            }
        }
        child.ensure_running()?;
        if Instant::now() >= deadline {
            bail!(
                "{} did not write {} within {timeout:?}",
                child.name(),
                path.display()
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Where a served child's files go, all named after it in the run's
/// directory: its working directory, its port file, its standard output
/// and error.
#[derive(Debug, Clone)]
pub(crate) struct ServedFiles {
    pub(crate) work_dir: PathBuf,
    pub(crate) port_file: PathBuf,
    pub(crate) stdout: PathBuf,
    pub(crate) stderr: PathBuf,
}

impl ServedFiles {
    /// `{dir}/{name}/` (created), `{dir}/{name}.port`, `.stdout` and
    /// `.stderr`.
    pub(crate) fn new(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let work_dir = dir.join(name);
        fs::create_dir_all(&work_dir)
            .with_context(|| format!("creating {}", work_dir.display()))?;
        Ok(ServedFiles {
            work_dir,
            port_file: dir.join(format!("{name}.port")),
            stdout: dir.join(format!("{name}.stdout")),
            stderr: dir.join(format!("{name}.stderr")),
        })
    }
}

/// Starts this executable with `args` (a serving subcommand, to which
/// `--port-file` is added) in `files`' working directory, its output to
/// `files`, with this process's `OTEL_*` and `TRACETAPE_*` variables
/// removed and `env` set instead; waits until it has written its port.
pub(crate) fn start_served(
    name: String,
    args: &[&str],
    files: &ServedFiles,
    env: Vec<(&'static str, OsString)>,
    timeout: Duration,
) -> anyhow::Result<(ChildGuard, u16)> {
    start_served_with(name, None, args, files, env, timeout)
}

/// A program this executable is run under (`valgrind --tool=callgrind`).
#[derive(Debug, Clone)]
pub(crate) struct Wrapper {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
}

/// [`start_served`], under `wrapper` when there is one.
pub(crate) fn start_served_with(
    name: String,
    wrapper: Option<&Wrapper>,
    args: &[&str],
    files: &ServedFiles,
    env: Vec<(&'static str, OsString)>,
    timeout: Duration,
) -> anyhow::Result<(ChildGuard, u16)> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let mut command = match wrapper {
        Some(wrapper) => {
            let mut command = Command::new(&wrapper.program);
            command.args(&wrapper.args).arg(exe);
            command
        }
        None => Command::new(exe),
    };
    command
        .args(args)
        .arg("--port-file")
        .arg(&files.port_file)
        .current_dir(&files.work_dir)
        .stdin(Stdio::piped())
        .stdout(File::create(&files.stdout).context("creating the server's stdout file")?)
        .stderr(File::create(&files.stderr).context("creating the server's stderr file")?);
    remove_telemetry_vars(&mut command);
    command.envs(env);
    let child = command
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let mut server = ChildGuard::new(name, child);
    let port = wait_for_port_file(&files.port_file, &mut server, timeout)?;
    Ok((server, port))
}

/// Keeps the `OTEL_*` and `TRACETAPE_*` variables of this process's
/// environment from `command`: only the settings the benchmark chooses
/// reach what it measures.
pub(crate) fn remove_telemetry_vars(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("OTEL_") || text.starts_with("TRACETAPE_") {
            command.env_remove(&name);
        }
    }
}

/// Writes `port` to `path` atomically: to a temporary file next to it, then
/// renamed, so a reader never sees a partial write.
pub(crate) fn write_port_file(path: &Path, port: u16) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, format!("{port}\n")).with_context(|| format!("writing {tmp:?}"))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {tmp:?} to {}", path.display()))
}

/// A command that runs `program` under `tracetape-bench watch`, with a
/// piped standard input: the program is killed when that input closes.
pub(crate) fn watched(program: impl AsRef<OsStr>) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let mut command = Command::new(exe);
    command
        .args(["watch", "--"])
        .arg(program)
        .stdin(Stdio::piped());
    Ok(command)
}

/// `watch -- PROGRAM ARGS...`: runs the program (standard output and error
/// inherited) until it exits, or until this process's standard input
/// closes, in which case it kills the program.
pub(crate) fn watch(command: &[String]) -> anyhow::Result<ExitCode> {
    let (program, args) = command.split_first().context("watch: no program given")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        let _ = tx.send(());
    });
    loop {
        if let Some(status) = child.try_wait().context("waiting for the program")? {
            let code = status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1);
            return Ok(ExitCode::from(code));
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(ExitCode::FAILURE);
            }
        }
    }
}

/// A oneshot receiver that completes when standard input reaches end of
/// file or fails: the parent closed it or died. Each newline read before
/// that is a mark: a build with the counting allocator prints its counts
/// then ([`crate::alloc_count::counts_line`]).
pub(crate) fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 64];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    // A mark: with the counting allocator, its counts.
                    for _ in buf[..n].iter().filter(|&&b| b == b'\n') {
                        if let Some(line) = crate::alloc_count::counts_line() {
                            use std::io::Write as _;
                            let mut out = io::stdout().lock();
                            let _ = writeln!(out, "{line}");
                            let _ = out.flush();
                        }
                    }
                }
            }
        }
        let _ = tx.send(());
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_file_round_trip() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("port");
        write_port_file(&path, 4242)?;
        assert_eq!(fs::read_to_string(&path)?, "4242\n");
        assert!(!dir.path().join("port.tmp").exists());
        Ok(())
    }
}
