//! A real PostgreSQL server for the tests, started by the test itself:
//! Debian's `postgresql` package (`initdb` and `postgres` from `pg_config
//! --bindir`), a cluster initialised into a temporary directory, listening
//! on 127.0.0.1 at a free port and on a Unix socket in that directory,
//! run as the unprivileged `postgres` user when the tests run as root (the
//! server refuses root). It is stopped, and its directory removed, when
//! the handle is dropped.
//!
//! A machine without the package fails these tests with a message saying
//! so (`.ci/run` installs it): a test that skipped itself would assert
//! nothing. `tracetape-bench postgres` starts its server with this file
//! too.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The line the server logs once it accepts connections.
const READY: &str = "database system is ready to accept connections";

/// The superuser the cluster is initialised with (trust authentication
/// on loopback and the socket: no password).
pub(crate) const USER: &str = "tracetape";

/// A running server; stopped on drop.
pub(crate) struct Postgres {
    child: Child,
    port: u16,
    /// Holds the cluster and the socket; removed after the server stops.
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Initialises a cluster and starts its server; panics, saying what
    /// is missing or what the server said, when it cannot.
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// As [`start`](Self::start), with connections over TCP asking for
    /// `password` (SCRAM-SHA-256); the Unix socket still trusts.
    pub(crate) fn start_with_password(password: &str) -> Self {
        Self::start_with(Some(password))
    }

    /// As [`start`](Self::start), taking TLS over TCP with this
    /// certificate chain and key (PEM).
    pub(crate) fn start_with_tls(certificate: &str, key: &str) -> Self {
        Self::start_configured(None, Some((certificate, key)))
    }

    fn start_with(password: Option<&str>) -> Self {
        Self::start_configured(password, None)
    }

    fn start_configured(password: Option<&str>, tls: Option<(&str, &str)>) -> Self {
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("tracetape-postgres-")
            .tempdir()
            .expect("a temporary directory for the cluster");
        let data = dir.path().join("data");
        let as_root = running_as_root();
        if as_root {
            // The server runs as `postgres`: the directory is its own.
            run(Command::new("chown").args(["postgres:", &dir.path().to_string_lossy()]));
        }
        let mut initdb = as_user(as_root, &bin.join("initdb"));
        initdb.args([
            "--pgdata",
            &data.to_string_lossy(),
            "--username",
            USER,
            "--encoding",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ]);
        match password {
            None => initdb.args(["--auth", "trust"]),
            Some(password) => {
                let file = dir.path().join("password");
                std::fs::write(&file, password).expect("the password file");
                if as_root {
                    run(Command::new("chown").arg("postgres:").arg(&file));
                }
                initdb
                    .args(["--auth-local", "trust", "--auth-host", "scram-sha-256"])
                    .arg(format!("--pwfile={}", file.display()))
            }
        };
        run(&mut initdb);
        let mut settings = Vec::new();
        if let Some((certificate, key)) = tls {
            for (name, text) in [("server.crt", certificate), ("server.key", key)] {
                let file = dir.path().join(name);
                std::fs::write(&file, text).expect("the server's TLS files");
                // The server refuses a key others may read.
                run(Command::new("chmod").arg("0600").arg(&file));
                if as_root {
                    run(Command::new("chown").arg("postgres:").arg(&file));
                }
                let setting = if name == "server.crt" {
                    "ssl_cert_file"
                } else {
                    "ssl_key_file"
                };
                settings.push(format!("{setting}={}", file.display()));
            }
            settings.push("ssl=on".to_owned());
        }
        let port = free_port();
        let mut server = as_user(as_root, &bin.join("postgres"));
        for setting in &settings {
            server.args(["-c", setting]);
        }
        let mut child = server
            .args(["-D", &data.to_string_lossy()])
            .args(["-p", &port.to_string()])
            .args(["-k", &dir.path().to_string_lossy()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off"])
            .args(["-c", "log_min_messages=notice"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting postgres");
        let log = child.stderr.take().expect("the server's log");
        let (ready, wait) = mpsc::channel();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                if line.contains(READY) {
                    let _ = ready.send(Ok(()));
                }
                said.push(line);
            }
            // The log ended (the server stopped): what it said, for a
            // start that failed.
            let _ = ready.send(Err(said.join("\n")));
        });
        match wait.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(said)) => panic!("postgres stopped while starting:\n{said}"),
            Err(_) => {
                let _ = child.kill();
                panic!("postgres did not accept connections within {START_TIMEOUT:?}");
            }
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// The port it listens on, on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A connection string for the `postgres` database as the superuser.
    pub(crate) fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Fast shutdown: the server ends its sessions and stops.
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

/// Where Debian's package keeps `initdb` and `postgres`: `pg_config
/// --bindir`, else the newest `/usr/lib/postgresql/<version>/bin`.
fn bindir() -> PathBuf {
    let has_server = |bin: &Path| bin.join("postgres").exists() && bin.join("initdb").exists();
    let configured = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let newest = || {
        let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
        versions
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .filter(|(_, bin)| has_server(bin))
            .max_by_key(|(version, _)| *version)
            .map(|(_, bin)| bin)
    };
    match configured.filter(|bin| has_server(bin)).or_else(newest) {
        Some(bin) => bin,
        None => panic!(
            "PostgreSQL's server is not installed (no initdb and postgres under pg_config \
             --bindir or /usr/lib/postgresql): apt-get install postgresql, as .ci/run does"
        ),
    }
}

/// `program`, run as `postgres` when the tests run as root (`setpriv`
/// execs it: the child is the server itself, which a signal then reaches).
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

/// Runs `command` to its end; panics with what it said when it fails.
fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("running {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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

/// A port nothing listens on now, on 127.0.0.1.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    listener.local_addr().expect("its address").port()
}
