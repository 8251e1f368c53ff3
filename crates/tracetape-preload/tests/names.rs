//! The preloaded library in a real process, for the host names of
//! connections and datagrams: after the child (see the `common` module)
//! resolves `localhost` with `getaddrinfo` (by `std::net::ToSocketAddrs`) or
//! the `gethostbyname` family, a `tcp` or `udp` line to an address the
//! lookup gave carries `"host":"localhost"`; one to an address no lookup
//! gave carries no `host`. An allow-list entry `host:port` lets a
//! connection to that port of an address the name resolved to through.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::{
    CONNECT_RESOLVED, CONNECT_TO, GETHOSTBYNAME, RESOLVE, SEND_TO, accepted_anything, assert_event,
    listener, one_line, report_file, report_lines, run_child_with,
};

/// The child's side (see [`common::child`]), run by the other tests in a
/// child process of their own.
#[test]
#[ignore = "run in a child process by the other tests"]
fn child() {
    common::child();
}

/// Asserts that `line` reports a `kind` connection or datagram to `addr`
/// with the host name `host` (no `host` field for `None`).
fn assert_destination(line: &serde_json::Value, kind: &str, addr: SocketAddr, host: Option<&str>) {
    assert_eq!(line["kind"], kind, "{line}");
    assert_eq!(line["address"], addr.ip().to_string(), "{line}");
    assert_eq!(line["port"], addr.port(), "{line}");
    match host {
        Some(host) => assert_eq!(line["host"], host, "{line}"),
        None => assert!(line.get("host").is_none(), "{line}"),
    }
}

#[test]
fn allow_mode_names_the_host_a_connection_s_address_was_resolved_from() {
    let (_tmp, report) = report_file();
    let (direct_listener, direct) = listener();
    let (resolved_listener, resolved) = listener();
    let port = resolved.port();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        // First to an address no lookup has given yet, then to one
        // `localhost` resolved to.
        (CONNECT_TO, &direct.to_string()),
        (CONNECT_RESOLVED, &format!("localhost:{port}")),
    ]);
    run.assert_said(&format!("child: {direct} connected\n"));
    run.assert_said(&format!(
        "child: localhost:{port} connected to 127.0.0.1:{port}\n"
    ));
    assert!(accepted_anything(&direct_listener));
    assert!(accepted_anything(&resolved_listener));
    let lines = report_lines(&report);
    let [unnamed, lookup, named] = &lines[..] else {
        panic!("expected a connection, a resolution and a connection, got {lines:?}");
    };
    assert_destination(unnamed, "tcp", direct, None);
    assert_event(
        unnamed,
        false,
        "connect",
        "child_connects_without_instrumentation",
    );
    // The resolution's own line is unchanged.
    assert_eq!(lookup["kind"], "dns", "{lookup}");
    assert_eq!(lookup["host"], "localhost", "{lookup}");
    assert!(lookup.get("address").is_none(), "{lookup}");
    assert_event(lookup, false, "getaddrinfo", "child_connects_to_resolved");
    assert_destination(named, "tcp", resolved, Some("localhost"));
    assert_event(named, false, "connect", "child_connects_to_resolved");
}

#[test]
fn a_connection_to_an_address_of_an_allowed_host_and_port_goes_through_without_a_line() {
    // The entry names the host and port only: before, the lookup went
    // through but the connection to its address was refused.
    let (_tmp, report) = report_file();
    let (resolved_listener, resolved) = listener();
    let port = resolved.port();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", &format!("LocalHost:{port}")),
        (CONNECT_RESOLVED, &format!("localhost:{port}")),
    ]);
    run.assert_said(&format!(
        "child: localhost:{port} connected to 127.0.0.1:{port}\n"
    ));
    assert!(accepted_anything(&resolved_listener));
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

#[test]
fn a_connection_after_an_allow_listed_lookup_is_refused_and_names_the_host() {
    let (_tmp, report) = report_file();
    let (listener, addr) = listener();
    let port = addr.port();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
        (CONNECT_RESOLVED, &format!("localhost:{port}")),
    ]);
    run.assert_said(&format!(
        "child: localhost:{port} refused at 127.0.0.1:{port}\n"
    ));
    assert!(!accepted_anything(&listener));
    // The lookup is allowed, so not reported; the connection is.
    let line = one_line(&report);
    assert_destination(&line, "tcp", addr, Some("localhost"));
    assert_event(&line, true, "connect", "child_connects_to_resolved");
}

#[test]
fn a_datagram_to_a_resolved_address_names_the_host() {
    let (_tmp, report) = report_file();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = receiver.local_addr().unwrap();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
        (RESOLVE, "localhost"),
        (SEND_TO, &addr.to_string()),
    ]);
    run.assert_said("child: localhost resolved\n");
    run.assert_said(&format!("child: send_to {addr} sent 0, refused 1\n"));
    let line = one_line(&report);
    assert_destination(&line, "udp", addr, Some("localhost"));
    assert_event(&line, true, "sendto", "child_sends_without_instrumentation");
}

#[test]
fn an_address_from_the_gethostbyname_family_names_the_host() {
    for function in [
        "gethostbyname",
        "gethostbyname2",
        "gethostbyname_r",
        "gethostbyname2_r",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let report = tmp.path().join("unpatched.jsonl");
        let (_listener, addr) = listener();
        let run = run_child_with(&[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
            (GETHOSTBYNAME, &format!("{function}:localhost")),
            (CONNECT_TO, &addr.to_string()),
        ]);
        assert!(
            run.stdout
                .contains(&format!("child: {function} localhost resolved\n")),
            "{function}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("child: {addr} refused\n")),
            "{function}: {}",
            run.stdout
        );
        let line = one_line(&report);
        assert_destination(&line, "tcp", addr, Some("localhost"));
    }
}

#[test]
fn resolving_an_ip_literal_names_no_host() {
    let (_tmp, report) = report_file();
    let (_listener, addr) = listener();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (RESOLVE, "127.0.0.1"),
        (CONNECT_TO, &addr.to_string()),
    ]);
    run.assert_said("child: 127.0.0.1 resolved\n");
    let line = one_line(&report);
    assert_destination(&line, "tcp", addr, None);
}
