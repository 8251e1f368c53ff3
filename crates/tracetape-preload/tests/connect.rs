//! The preloaded library in a real process: this test binary runs itself as
//! the child, with `LD_PRELOAD` naming the built `libtracetape_preload.so`,
//! and the child connects with a plain `std::net::TcpStream`, or resolves
//! a host name with `std::net::ToSocketAddrs`, which bypass every
//! instrumented client. Only loopback destinations, `localhost` and IP
//! literals are ever used.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set for the child: comma-separated destinations to connect to, each an
/// `ip:port` or `unix:PATH`.
const CONNECT_TO: &str = "TRACETAPE_PRELOAD_TEST_CONNECT_TO";

/// Set for the child: comma-separated host names or IP literals to resolve.
const RESOLVE: &str = "TRACETAPE_PRELOAD_TEST_RESOLVE";

/// The function the child resolves from, named so that its frame can be
/// found in the reported backtrace.
#[inline(never)]
fn child_resolves_without_instrumentation(host: &str) -> std::io::Result<usize> {
    use std::net::ToSocketAddrs as _;
    (host, 80).to_socket_addrs().map(Iterator::count)
}

/// The function the child connects from, named so that its frame can be
/// found in the reported backtrace.
#[inline(never)]
fn child_connects_without_instrumentation(dest: &str) -> std::io::Result<()> {
    match dest.strip_prefix("unix:") {
        Some(path) => std::os::unix::net::UnixStream::connect(path).map(drop),
        None => std::net::TcpStream::connect(dest).map(drop),
    }
}

/// The child's side: says whether the library is loaded, then connects to
/// each destination and prints how it went.
#[test]
#[ignore = "run in a child process by the other tests"]
fn connect_child() {
    let Some(destinations) = std::env::var_os(CONNECT_TO) else {
        return;
    };
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    if maps.contains("libtracetape_preload.so") {
        println!("child: preloaded");
    }
    let hosts = std::env::var(RESOLVE).unwrap_or_default();
    for host in hosts.split(',').filter(|host| !host.is_empty()) {
        match child_resolves_without_instrumentation(host) {
            Ok(n) if n > 0 => println!("child: {host} resolved"),
            Ok(_) => println!("child: {host} resolved to nothing"),
            Err(err) => println!("child: {host} not resolved: {err}"),
        }
    }
    for dest in destinations
        .to_string_lossy()
        .split(',')
        .filter(|d| !d.is_empty())
    {
        match child_connects_without_instrumentation(dest) {
            Ok(()) => println!("child: {dest} connected"),
            Err(err) if err.kind() == ErrorKind::ConnectionRefused => {
                println!("child: {dest} refused");
            }
            Err(err) => println!("child: {dest} failed: {err}"),
        }
    }
}

/// The built library, next to this test binary (`target/<profile>/deps`)
/// or one directory up, where cargo also puts it.
fn preload_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .into_iter()
        .map(|dir| dir.join("libtracetape_preload.so"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libtracetape_preload.so not found next to {}; run `cargo build -p tracetape-preload`",
                exe.display()
            )
        })
}

/// A loopback listener that never accepts on its own, for
/// [`accepted_anything`] to look at afterwards.
fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Whether a connection reached `listener` (it completed the handshake and
/// waits in the backlog).
fn accepted_anything(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(err) if err.kind() == ErrorKind::WouldBlock => false,
        Err(err) => panic!("accept failed: {err}"),
    }
}

/// Runs the child with the library preloaded and `vars` set; its stdout.
fn run_child(destinations: &[String], vars: &[(&str, &str)]) -> String {
    run_child_resolving(&[], destinations, vars)
}

/// Runs the child resolving `hosts`, then connecting to `destinations`.
fn run_child_resolving(hosts: &[&str], destinations: &[String], vars: &[(&str, &str)]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "connect_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LD_PRELOAD", preload_library())
        .env(CONNECT_TO, destinations.join(","))
        .env(RESOLVE, hosts.join(","))
        .env_remove("TRACETAPE_UNPATCHED_REPORT")
        .env_remove("TRACETAPE_UNPATCHED_MODE")
        .env_remove("TRACETAPE_UNPATCHED_ALLOW");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("child: preloaded"),
        "the library was not loaded in the child:\n{stdout}\n{stderr}"
    );
    stdout
}

/// The report's lines, parsed; none when the file was never written.
fn report_lines(path: &Path) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
            .collect(),
        Err(err) if err.kind() == ErrorKind::NotFound => Vec::new(),
        Err(err) => panic!("failed to read {}: {err}", path.display()),
    }
}

/// Asserts that `line` reports a connection to `addr` from this process's
/// child, made in [`child_connects_without_instrumentation`].
fn assert_reports(line: &serde_json::Value, addr: SocketAddr, blocked: bool) {
    assert_eq!(line["kind"], "tcp", "{line}");
    assert_eq!(line["address"], addr.ip().to_string(), "{line}");
    assert_eq!(line["port"], addr.port(), "{line}");
    assert_event(
        line,
        blocked,
        "connect",
        "child_connects_without_instrumentation",
    );
}

/// Asserts what every report line carries: whether it was `blocked`, the
/// child's pid and tid, and a backtrace from the `interposed` function
/// through the child's function `made_in`.
fn assert_event(line: &serde_json::Value, blocked: bool, interposed: &str, made_in: &str) {
    assert_eq!(line["blocked"], blocked, "{line}");
    assert!(line["pid"].as_u64().is_some_and(|pid| pid > 0), "{line}");
    assert!(line["tid"].as_u64().is_some_and(|tid| tid > 0), "{line}");
    let frames = line["backtrace"].as_array().unwrap();
    assert!(
        frames[0].as_str().unwrap().starts_with(interposed),
        "the backtrace starts at the interposed {interposed}: {line}"
    );
    assert!(
        frames
            .iter()
            .any(|frame| frame.as_str().unwrap().contains(made_in)),
        "{line}"
    );
}

#[test]
fn a_bypassing_connection_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (listener, addr) = listener();
    let stdout = run_child(
        &[addr.to_string()],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains(&format!("child: {addr} refused")),
        "{stdout}"
    );
    assert!(
        !accepted_anything(&listener),
        "the connection reached the listener"
    );
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports(line, addr, true);
}

#[test]
fn allow_mode_lets_the_connection_through_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (listener, addr) = listener();
    let stdout = run_child(
        &[addr.to_string()],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_MODE", "allow"),
        ],
    );
    assert!(
        stdout.contains(&format!("child: {addr} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&listener));
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports(line, addr, false);
}

#[test]
fn an_allow_listed_destination_is_neither_reported_nor_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (allowed_listener, allowed) = listener();
    let (other_listener, other) = listener();
    let stdout = run_child(
        &[allowed.to_string(), other.to_string()],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            (
                "TRACETAPE_UNPATCHED_ALLOW",
                &format!("10.0.0.1:80, {allowed}"),
            ),
        ],
    );
    assert!(
        stdout.contains(&format!("child: {allowed} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&allowed_listener));
    // The library was active: the destination not in the list was refused.
    assert!(
        stdout.contains(&format!("child: {other} refused")),
        "{stdout}"
    );
    assert!(!accepted_anything(&other_listener));
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected only the other destination reported, got {lines:?}");
    };
    assert_reports(line, other, true);
}

#[test]
fn without_the_variables_the_library_is_inert() {
    let (listener, addr) = listener();
    let stdout = run_child(&[addr.to_string()], &[]);
    assert!(
        stdout.contains(&format!("child: {addr} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&listener));
}

#[test]
fn unix_socket_connections_are_not_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let socket = tmp.path().join("service.sock");
    let unix = UnixListener::bind(&socket).unwrap();
    let dest = format!("unix:{}", socket.display());
    let stdout = run_child(
        std::slice::from_ref(&dest),
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains(&format!("child: {dest} connected")),
        "{stdout}"
    );
    unix.set_nonblocking(true).unwrap();
    assert!(unix.accept().is_ok(), "the connection reached the listener");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

/// Asserts that `line` reports resolving `host` from this process's child,
/// in [`child_resolves_without_instrumentation`].
fn assert_reports_resolution(line: &serde_json::Value, host: &str, blocked: bool) {
    assert_eq!(line["kind"], "dns", "{line}");
    assert_eq!(line["host"], host, "{line}");
    assert!(
        line.get("address").is_none() && line.get("port").is_none(),
        "{line}"
    );
    assert_event(
        line,
        blocked,
        "getaddrinfo",
        "child_resolves_without_instrumentation",
    );
}

#[test]
fn resolving_a_host_name_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains("child: localhost not resolved: "),
        "{stdout}"
    );
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports_resolution(line, "localhost", true);
}

#[test]
fn allow_mode_resolves_the_host_name_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_MODE", "allow"),
        ],
    );
    assert!(stdout.contains("child: localhost resolved\n"), "{stdout}");
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports_resolution(line, "localhost", false);
}

#[test]
fn an_allow_listed_host_name_is_neither_reported_nor_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_ALLOW", "127.0.0.1:9, LocalHost:8081"),
        ],
    );
    assert!(stdout.contains("child: localhost resolved\n"), "{stdout}");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

#[test]
fn ip_literals_are_never_reported_as_resolutions() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["127.0.0.1", "::1"],
        &[],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(stdout.contains("child: 127.0.0.1 resolved\n"), "{stdout}");
    assert!(stdout.contains("child: ::1 resolved\n"), "{stdout}");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}
