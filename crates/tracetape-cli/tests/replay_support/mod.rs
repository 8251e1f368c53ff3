//! What the `tracetape replay` tests share: a dependency service that
//! counts its requests, recordings made by running the `replay_target`
//! example in record mode against it, and `tracetape replay` run against
//! the same example.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

pub mod schema;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// The credential every recorded order carries.
pub const TOKEN: &str = "s3cret";

/// How long a test waits for something a process promised to do.
const PATIENCE: Duration = Duration::from_secs(60);

/// The `replay_target` example, which `cargo test` builds beside the test
/// executables (`target/debug/examples/`).
pub fn target_exe() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    let target = profile.join("examples").join("replay_target");
    assert!(
        target.exists(),
        "{} is missing: `cargo test -p tracetape-cli` builds it (with `--test`, build it \
         first: `cargo build -p tracetape-cli --example replay_target`)",
        target.display()
    );
    target
}

/// A loopback port nothing listens on (at least when this returns).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A dependency of the example: `GET /stock/{sku}`, `POST /price` and
/// `GET /loyalty/{id}`, counting every request it gets.
pub struct Dependency {
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl Dependency {
    pub fn start(runtime: &Runtime) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let count = move || {
            counted.fetch_add(1, Ordering::SeqCst);
        };
        let (stock, price, loyalty) = (count.clone(), count.clone(), count);
        let router = Router::new()
            .route(
                "/stock/{sku}",
                get(move || async move {
                    stock();
                    axum::Json(json!({"available": 10}))
                }),
            )
            .route(
                "/price",
                post(move || async move {
                    price();
                    axum::Json(json!({"unit_cents": 250}))
                }),
            )
            .route(
                "/loyalty/{id}",
                get(move || async move {
                    loyalty();
                    axum::Json(json!({"points": 3}))
                }),
            );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, router).await });
        Self {
            url: format!("http://{addr}"),
            hits,
        }
    }

    /// Requests it has had so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Lines the example tells over `REPLAY_TARGET_NOTIFY`, one connection
/// each.
pub struct Notices {
    addr: SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl Notices {
    pub fn listen() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut line = String::new();
                if stream.and_then(|mut s| s.read_to_string(&mut line)).is_ok()
                    && tx.send(line.trim().to_owned()).is_err()
                {
                    return;
                }
            }
        });
        Self { addr, lines }
    }

    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The next line; fails the test if none comes.
    pub fn next(&self) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .expect("the service told nothing")
    }
}

/// Recordings of the example's orders, and what replaying them needs.
pub struct Fixture {
    pub runtime: Runtime,
    pub dependency: Dependency,
    /// The working directory of every run; holds `recordings/`.
    pub dir: tempfile::TempDir,
    /// The order ids recorded, in order.
    pub orders: Vec<String>,
}

impl Fixture {
    /// Runs the example in record mode and sends it one order per id,
    /// one after the other; then stops it, which writes the recordings.
    pub fn record(orders: &[&str]) -> Self {
        Self::record_with(orders, &[])
    }

    /// Runs the example in record mode and sends it `requests` (method,
    /// path, JSON body), one after the other; then stops it. Each answer
    /// must be 200.
    pub fn record_requests(requests: &[(&str, &str, Option<Value>)]) -> Self {
        let (fixture, mut target, url) = Self::start_recording(&[], &[]);
        let client = reqwest::Client::new();
        for (method, path, body) in requests {
            let mut request = client.request(method.parse().unwrap(), format!("{url}{path}"));
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = fixture.runtime.block_on(request.send()).unwrap();
            assert_eq!(response.status(), 200, "{method} {path}");
            fixture.runtime.block_on(response.bytes()).unwrap();
        }
        fixture.stop_recording(&mut target, requests.len());
        fixture
    }

    /// As [`record`](Self::record), with `vars` in the example's
    /// environment.
    pub fn record_with(orders: &[&str], vars: &[(&str, &str)]) -> Self {
        // Redacted in the recordings; `REPLAY_TARGET_TOKEN` makes the
        // example check it.
        Self::record_orders(orders, vars, "", &format!("Bearer {TOKEN}"))
    }

    /// As [`record_with`](Self::record_with), the token sent as the query
    /// `?api_key=` instead of a header.
    pub fn record_with_query_key(orders: &[&str], vars: &[(&str, &str)]) -> Self {
        Self::record_orders(orders, vars, &format!("?api_key={TOKEN}"), "")
    }

    /// Records `orders` sent to `/orders{query}` with `authorization`.
    fn record_orders(
        orders: &[&str],
        vars: &[(&str, &str)],
        query: &str,
        authorization: &str,
    ) -> Self {
        let (fixture, mut target, url) = Self::start_recording(orders, vars);
        let client = reqwest::Client::new();
        for id in orders {
            let response = fixture.runtime.block_on(
                client
                    .post(format!("{url}/orders{query}"))
                    .header("x-request-id", format!("req-{id}"))
                    .header("authorization", authorization)
                    .header(
                        "traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    )
                    .json(&json!({"id": id, "sku": "tea", "qty": 2}))
                    .send(),
            );
            let body: Value = fixture.runtime.block_on(response.unwrap().json()).unwrap();
            assert_eq!(body["total_cents"], 500, "{body}");
        }
        fixture.stop_recording(&mut target, orders.len());
        fixture
    }

    /// The fixture, and the example started in record mode with `vars`,
    /// and its URL.
    pub fn start_recording(orders: &[&str], vars: &[(&str, &str)]) -> (Self, Child, String) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dependency = Dependency::start(&runtime);
        let fixture = Self {
            runtime,
            dependency,
            dir: tempfile::tempdir().unwrap(),
            orders: orders.iter().map(|&id| id.to_owned()).collect(),
        };
        let mut target = fixture
            .env(&mut Command::new(target_exe()), "")
            .env("TRACETAPE_MODE", "record")
            .env("TRACETAPE_RECORD_DIR", fixture.recordings())
            .env("PORT", "0")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let url = listening_url(&mut target);
        (fixture, target, url)
    }

    /// Stops the example, which writes the recordings, and checks that
    /// there is one per request (`requests`), besides the background ones.
    pub fn stop_recording(&self, target: &mut Child, requests: usize) {
        stop(target);
        let loaded = tracetape::record::RecordingStore::new(self.recordings())
            .load()
            .unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let inbound = loaded
            .recordings
            .iter()
            .filter(|stored| !stored.recording.background)
            .count();
        assert_eq!(inbound, requests, "one recording per request");
    }

    pub fn recordings(&self) -> PathBuf {
        self.dir.path().join("recordings")
    }

    /// What every run of the example needs in its environment, with the
    /// behaviour `change` (see the example's docs).
    pub fn env<'c>(&self, command: &'c mut Command, change: &str) -> &'c mut Command {
        command
            .current_dir(self.dir.path())
            .env("DEPENDENCY_URL", &self.dependency.url)
            .env("OTEL_SERVICE_NAME", "orders")
            .env("OTEL_TRACES_EXPORTER", "none")
            .env("OTEL_METRICS_EXPORTER", "none")
            .env("REPLAY_TARGET_CHANGE", change)
            .env_remove("REPLAY_TARGET_BYPASS")
            // The service logs `tracetape replay` keeps go away with the fixture.
            .env("TMPDIR", self.dir.path())
            .env_remove("TRACETAPE_CONFIG")
            .env_remove("TRACETAPE_RECORD_DIR")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
    }

    /// `tracetape replay` starting the example with `change` on `port`,
    /// with `args` added, ready to run.
    pub fn replay_command(&self, port: u16, change: &str, args: &[&str]) -> Command {
        let service = format!("'{}'", target_exe().display());
        self.replay_shell(&service, port, change, args)
    }

    /// `tracetape replay` starting the service with the shell command
    /// `service` on `port`, with `args` added, ready to run.
    pub fn replay_shell(&self, service: &str, port: u16, change: &str, args: &[&str]) -> Command {
        self.subcommand_shell("replay", service, port, change, args)
    }

    /// [`replay_shell`](Self::replay_shell) for `tracetape {subcommand}`,
    /// which takes the same flags.
    fn subcommand_shell(
        &self,
        subcommand: &str,
        service: &str,
        port: u16,
        change: &str,
        args: &[&str],
    ) -> Command {
        self.tracetape_shell(
            Path::new(env!("CARGO_BIN_EXE_tracetape")),
            subcommand,
            service,
            port,
            change,
            args,
        )
    }

    /// [`subcommand_shell`](Self::subcommand_shell) run by the `tracetape`
    /// executable at `tracetape` (an installed one, say).
    pub fn tracetape_shell(
        &self,
        tracetape: &Path,
        subcommand: &str,
        service: &str,
        port: u16,
        change: &str,
        args: &[&str],
    ) -> Command {
        let mut command = Command::new(tracetape);
        let port = port.to_string();
        command
            .args([subcommand, "--command", service, "--port", &port])
            .args(["--recordings", self.recordings().to_str().unwrap()])
            .args(args);
        // The example listens where PORT says; the service started inherits it.
        self.env(&mut command, change).env("PORT", &port);
        command
    }

    /// `tracetape {subcommand}` (`replay`, `accept`) starting the example
    /// with `change` on a free port, with `args` added, run to its end.
    pub fn run(&self, subcommand: &str, change: &str, args: &[&str]) -> Output {
        let service = format!("'{}'", target_exe().display());
        self.subcommand_shell(subcommand, &service, free_port(), change, args)
            .output()
            .unwrap()
    }

    /// Runs `tracetape replay` as [`replay_command`](Self::replay_command)
    /// sets it up, on a free port.
    pub fn replay(&self, change: &str, args: &[&str]) -> Output {
        self.replay_command(free_port(), change, args)
            .output()
            .unwrap()
    }
}

/// Reads the example's first line, `listening on URL`, and returns the URL.
pub fn listening_url(target: &mut Child) -> String {
    let stdout = target.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the example said {line:?}"))
        .to_owned()
}

/// Stops the example with SIGTERM, which it answers by writing what it
/// still has to write and exiting.
pub fn stop(target: &mut Child) {
    signal(target.id(), "TERM");
    assert!(target.wait().unwrap().success());
}

/// Sends `signal` to the process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Whether the process `pid` still runs (a zombie, dead but not yet
/// reaped by its parent, does not).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (comm) state ...`; comm may hold spaces and parentheses.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// The environment of every process a test starts: working in `dir`,
/// with nothing of the caller's OpenTelemetry, tracetape, example or
/// proxy settings (spans go to the local store under `dir/.tracetape`,
/// calls straight to loopback).
pub fn hermetic<'c>(command: &'c mut Command, dir: &Path) -> &'c mut Command {
    for (name, _) in std::env::vars_os() {
        let upper = name.to_string_lossy().to_ascii_uppercase();
        if upper.starts_with("OTEL_")
            || upper.starts_with("TRACETAPE_")
            || upper.starts_with("SHOP_")
            || upper.ends_with("_PROXY")
            || upper == "NO_COLOR"
            || upper == "LD_PRELOAD"
        {
            command.env_remove(&name);
        }
    }
    command.current_dir(dir).env("TMPDIR", dir)
}

/// A child process killed (and reaped) if the test ends before it does.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    /// Sends the process SIGINT (an example's Ctrl-C: it stops serving,
    /// finishes the requests in flight and writes what it recorded) and
    /// waits for it to exit successfully; `log` is shown if it does not.
    pub fn interrupt(mut self, log: &Path) {
        signal(self.0.id(), "INT");
        let deadline = std::time::Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the example did not exit within {PATIENCE:?} of SIGINT; its log:\n{}",
                read(log)
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "the example exited with {status}; its log:\n{}",
            read(log)
        );
    }
}

/// The file at `path`, or what kept it from being read.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| format!("({}: {err})", path.display()))
}

/// `path` single-quoted for `sh -c`.
pub fn quoted(path: &Path) -> String {
    let text = path.to_str().unwrap();
    assert!(!text.contains('\''), "{text}");
    format!("'{text}'")
}

/// `stdout` and `stderr` of a run, for assertion messages.
pub fn both(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        stdout(output),
        stderr(output)
    )
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}
