//! The preloaded library in a real process, for TCP `connect`: a plain
//! `std::net::TcpStream` (or `UnixStream`) connecting from the child (see
//! the `common` module) is reported and refused, let through in `allow`
//! mode or when allow-listed (also as the process's own OTLP endpoint, in
//! its environment), and ignored when the library is inert or the socket
//! is not an IP one.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::os::unix::net::UnixListener;

use common::{
    accepted_anything, assert_event, listener, one_line, report_file, report_lines, run_child,
};

/// The child's side (see [`common::child`]), run by the other tests in a
/// child process of their own.
#[test]
#[ignore = "run in a child process by the other tests"]
fn child() {
    common::child();
}

/// Asserts that `line` reports a connection to `addr` from this process's
/// child, made in [`common::child_connects_without_instrumentation`].
fn assert_reports(line: &serde_json::Value, addr: SocketAddr, blocked: bool) {
    assert_eq!(line["kind"], "tcp", "{line}");
    assert_eq!(line["address"], addr.ip().to_string(), "{line}");
    assert_eq!(line["port"], addr.port(), "{line}");
    // No host name was resolved to it.
    assert!(line.get("host").is_none(), "{line}");
    assert_event(
        line,
        blocked,
        "connect",
        "child_connects_without_instrumentation",
    );
}

#[test]
fn a_bypassing_connection_is_refused_and_reported() {
    let (_tmp, report) = report_file();
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
    assert_reports(&one_line(&report), addr, true);
}

#[test]
fn allow_mode_lets_the_connection_through_and_still_reports_it() {
    let (_tmp, report) = report_file();
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
    assert_reports(&one_line(&report), addr, false);
}

#[test]
fn an_allow_listed_destination_is_neither_reported_nor_refused() {
    let (_tmp, report) = report_file();
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
fn the_process_s_own_otlp_endpoint_in_its_environment_is_neither_reported_nor_refused() {
    // Only the child's environment names the endpoint, as a variable set
    // inside the replayed command would; before, it was refused.
    let (_tmp, report) = report_file();
    let (collector, endpoint) = listener();
    let (other_listener, other) = listener();
    let url = format!("http://{endpoint}/v1/traces");
    let stdout = run_child(
        &[endpoint.to_string(), other.to_string()],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &url),
        ],
    );
    assert!(
        stdout.contains(&format!("child: {endpoint} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&collector));
    assert!(
        stdout.contains(&format!("child: {other} refused")),
        "{stdout}"
    );
    assert!(!accepted_anything(&other_listener));
    let lines = report_lines(&report);
    let [line] = lines.as_slice() else {
        panic!("only the other connection: {lines:?}");
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
