//! The demo's database: a PostgreSQL server of its own when the machine
//! has one installed (`initdb` and `postgres` from `pg_config --bindir` or
//! the newest `/usr/lib/postgresql/<version>/bin`), its cluster in a
//! temporary directory removed when it stops, listening only on a Unix
//! socket there; run as the `postgres` user when the demo runs as root
//! (the server refuses root).
//! Checkout keeps its orders there while recorded; the server is stopped
//! before the replays, which answer its queries from the recordings.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The line the server logs once it accepts connections.
const READY: &str = "database system is ready to accept connections";

/// The port in the socket's name.
const PORT: u16 = 5432;

/// A running server; stopped when dropped.
pub(super) struct Postgres {
    child: Child,
    /// Holds the cluster and the socket; removed after the server stops.
    dir: tempfile::TempDir,
    /// The binaries it came from, to say so.
    pub(super) bin: PathBuf,
}

impl Postgres {
    /// Starts a server; `None` when the machine has none installed.
    pub(super) fn start() -> anyhow::Result<Option<Self>> {
        let Some(bin) = bindir() else { return Ok(None) };
        let temporary = tempfile::Builder::new()
            .prefix("tracetape-demo-postgres-")
            .tempdir()
            .context("failed to create a directory for the demo's database")?;
        let dir = temporary.path();
        let as_root = running_as_root();
        if as_root {
            run(Command::new("chown").arg("postgres:").arg(dir))?;
        }
        let data = dir.join("data");
        run(as_user(as_root, &bin.join("initdb"))
            .arg("--pgdata")
            .arg(&data)
            .args([
                "--username",
                "demo",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
            ])
            .args(["--no-sync", "--no-instructions"]))?;
        let mut child = as_user(as_root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &PORT.to_string()])
            .arg("-k")
            .arg(dir)
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("failed to start postgres")?;
        let log = child.stderr.take().context("postgres has no log")?;
        let (ready, wait) = mpsc::channel();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                if line.contains(READY) {
                    let _ = ready.send(Ok(()));
                }
                said.push(line);
            }
            let _ = ready.send(Err(said.join("\n")));
        });
        let server = Self {
            child,
            dir: temporary,
            bin,
        };
        match wait.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Ok(Some(server)),
            Ok(Err(said)) => bail!("postgres stopped while starting:\n{said}"),
            Err(_) => bail!("postgres did not accept connections within {START_TIMEOUT:?}"),
        }
    }

    /// The URL of its `postgres` database, through its socket: the
    /// socket's directory as the host, percent-encoded, as libpq, sqlx and
    /// tokio-postgres read it.
    pub(super) fn url(&self) -> String {
        let dir = self.dir.path().to_string_lossy();
        let host: String = dir
            .bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(byte).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect();
        format!("postgres://demo@{host}:{PORT}/postgres")
    }

    /// Stops it (fast shutdown: sessions end, the server exits).
    pub(super) fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let stopped = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.shut_down();
        }
    }
}

/// `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`, with
/// both `initdb` and `postgres` in it.
fn bindir() -> Option<PathBuf> {
    let has_server = |bin: &Path| bin.join("postgres").exists() && bin.join("initdb").exists();
    let configured = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    configured.filter(|bin| has_server(bin)).or_else(|| {
        std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .filter(|(_, bin)| has_server(bin))
            .max_by_key(|(version, _)| *version)
            .map(|(_, bin)| bin)
    })
}

/// `program`, run as `postgres` (through `setpriv`, which execs it) when
/// the demo runs as root.
fn as_user(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("failed to run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Whether this process runs as root (its effective user id is 0).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}
