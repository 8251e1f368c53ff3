//! The preloaded library in a real process, for UDP: a UDP socket
//! connected, datagrams sent with `send_to`, `sendmsg` and `sendmmsg` from
//! the child (see the `common` module), the cap on datagram lines, and DNS
//! queries sent to port 53 by the process itself.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};

use common::{
    DNS_QUERY_TO, GETHOSTBYNAME, SEND_TO, SENDMMSG_TO, SENDMSG_TO, UDP_CONNECT_TO, assert_event,
    assert_within, localhost_query, one_line, report_file, report_lines, run_child_with,
};

/// The child's side (see [`common::child`]), run by the other tests in a
/// child process of their own.
#[test]
#[ignore = "run in a child process by the other tests"]
fn child() {
    common::child();
}

/// A loopback UDP socket that never reads on its own, for [`received`] to
/// look at afterwards.
fn receiver() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// The datagrams waiting at `socket`. Loopback delivery happens within the
/// sender's call, so once the child has exited everything it sent is there.
fn received(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut datagrams = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match socket.recv(&mut buf) {
            Ok(len) => datagrams.push(buf[..len].to_vec()),
            Err(err) if err.kind() == ErrorKind::WouldBlock => return datagrams,
            Err(err) => panic!("recv failed: {err}"),
        }
    }
}

/// Asserts that `line` reports a datagram (or a UDP socket connected) to
/// `addr`, made through `interposed` in
/// [`common::child_sends_without_instrumentation`] within the child's run.
fn assert_reports_udp(
    line: &serde_json::Value,
    addr: SocketAddr,
    blocked: bool,
    interposed: &str,
    window: (u64, u64),
) {
    assert_eq!(line["kind"], "udp", "{line}");
    assert_eq!(line["address"], addr.ip().to_string(), "{line}");
    assert_eq!(line["port"], addr.port(), "{line}");
    assert!(line.get("host").is_none(), "{line}");
    assert_event(
        line,
        blocked,
        interposed,
        "child_sends_without_instrumentation",
    );
    assert_within(line, window);
}

#[test]
fn connecting_a_udp_socket_is_refused_and_reported() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (UDP_CONNECT_TO, &dest),
    ]);
    run.assert_said(&format!("child: udp connect {addr} refused\n"));
    assert_reports_udp(&one_line(&report), addr, true, "connect", run.window);
    assert!(received(&socket).is_empty());
}

#[test]
fn allow_mode_connects_the_udp_socket_and_still_reports_it() {
    let (_tmp, report) = report_file();
    let (_socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (UDP_CONNECT_TO, &dest),
    ]);
    run.assert_said(&format!("child: udp connect {addr} sent 0\n"));
    assert_reports_udp(&one_line(&report), addr, false, "connect", run.window);
}

#[test]
fn a_datagram_sent_with_send_to_is_refused_and_reported() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (SEND_TO, &dest),
    ]);
    run.assert_said(&format!("child: send_to {addr} sent 0, refused 1\n"));
    let line = one_line(&report);
    assert_reports_udp(&line, addr, true, "sendto", run.window);
    // `at` comes right after `tid`.
    let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "kind",
            "address",
            "port",
            "pid",
            "tid",
            "at",
            "blocked",
            "backtrace",
            "command",
            "parents"
        ],
        "{line}"
    );
    // The child's command line (this test binary, asked to run its child
    // test) and its parents, this process first.
    let exe = std::env::current_exe().unwrap();
    let command = line["command"].as_str().unwrap();
    assert!(
        command.starts_with(&format!("{} child ", exe.display())),
        "{line}"
    );
    assert_eq!(line["parents"][0]["pid"], std::process::id(), "{line}");
    assert_eq!(line["parents"][0]["exe"], exe.to_str().unwrap(), "{line}");
    assert_eq!(received(&socket), Vec::<Vec<u8>>::new());
}

#[test]
fn allow_mode_sends_the_datagram_and_still_reports_it() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (SEND_TO, &dest),
    ]);
    run.assert_said(&format!("child: send_to {addr} sent 1, refused 0\n"));
    assert_reports_udp(&one_line(&report), addr, false, "sendto", run.window);
    assert_eq!(received(&socket), [b"datagram 0".to_vec()]);
}

#[test]
fn an_allow_listed_datagram_destination_is_neither_reported_nor_refused() {
    let (_tmp, report) = report_file();
    let (allowed_socket, allowed) = receiver();
    let (other_socket, other) = receiver();
    let sends = format!("{allowed},{other}");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", &allowed.to_string()),
        (SEND_TO, &sends),
    ]);
    run.assert_said(&format!("child: send_to {allowed} sent 1, refused 0\n"));
    run.assert_said(&format!("child: send_to {other} sent 0, refused 1\n"));
    assert_eq!(received(&allowed_socket).len(), 1);
    assert!(received(&other_socket).is_empty());
    assert_reports_udp(&one_line(&report), other, true, "sendto", run.window);
}

#[test]
fn datagrams_are_reported_at_most_64_times_per_destination_and_all_decided_on() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let (other_socket, other) = receiver();
    let sends = format!("{addr}*100,{other}*3");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (SEND_TO, &sends),
    ]);
    run.assert_said(&format!("child: send_to {addr} sent 100, refused 0\n"));
    assert_eq!(received(&socket).len(), 100);
    assert_eq!(received(&other_socket).len(), 3);
    let lines = report_lines(&report);
    let to = |dest: SocketAddr| {
        lines
            .iter()
            .filter(|line| line["port"] == dest.port())
            .inspect(|line| assert_reports_udp(line, dest, false, "sendto", run.window))
            .count()
    };
    assert_eq!(to(addr), 64);
    assert_eq!(to(other), 3);
    assert_eq!(lines.len(), 67);
}

#[test]
fn the_cap_on_lines_does_not_let_datagrams_through() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let sends = format!("{addr}*100");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (SEND_TO, &sends),
    ]);
    run.assert_said(&format!("child: send_to {addr} sent 0, refused 100\n"));
    assert!(received(&socket).is_empty());
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 64);
    for line in &lines {
        assert_reports_udp(line, addr, true, "sendto", run.window);
    }
}

#[test]
fn a_dns_query_sent_to_port_53_is_refused_and_reported_with_its_name() {
    let (_tmp, report) = report_file();
    // Refused before reaching the network: nothing is sent to port 53.
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (DNS_QUERY_TO, "127.0.0.1:53"),
        (SENDMSG_TO, "127.0.0.1:53"),
    ]);
    run.assert_said("child: dns query 127.0.0.1:53 refused\n");
    run.assert_said("child: sendmsg 127.0.0.1:53 refused\n");
    let lines = report_lines(&report);
    let [send_to, sendmsg] = &lines[..] else {
        panic!("expected two report lines, got {lines:?}");
    };
    for (line, interposed) in [(send_to, "sendto"), (sendmsg, "sendmsg")] {
        assert_eq!(line["kind"], "dns", "{line}");
        assert_eq!(line["host"], "localhost", "{line}");
        assert_eq!(line["address"], "127.0.0.1", "{line}");
        assert_eq!(line["port"], 53, "{line}");
        assert_event(
            line,
            true,
            interposed,
            "child_sends_without_instrumentation",
        );
        assert_within(line, run.window);
    }
}

#[test]
fn a_dns_shaped_datagram_to_another_port_is_plain_udp() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        // A DNS query's name in the allow list does not matter away from
        // port 53.
        ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
        (DNS_QUERY_TO, &dest),
    ]);
    run.assert_said(&format!("child: dns query {addr} refused\n"));
    assert_reports_udp(&one_line(&report), addr, true, "sendto", run.window);
    assert!(received(&socket).is_empty());
}

#[test]
fn sendmsg_and_sendmmsg_datagrams_are_refused_and_reported() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (SENDMSG_TO, &dest),
        (SENDMMSG_TO, &dest),
    ]);
    for action in ["sendmsg", "sendmmsg"] {
        run.assert_said(&format!("child: {action} {addr} refused\n"));
    }
    let lines = report_lines(&report);
    let [sendmsg, sendmmsg] = &lines[..] else {
        panic!("expected two report lines, got {lines:?}");
    };
    assert_reports_udp(sendmsg, addr, true, "sendmsg", run.window);
    assert_reports_udp(sendmmsg, addr, true, "sendmmsg", run.window);
    assert!(received(&socket).is_empty());
}

#[test]
fn allow_mode_lets_sendmsg_and_sendmmsg_through() {
    let (_tmp, report) = report_file();
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (SENDMSG_TO, &dest),
        (SENDMMSG_TO, &dest),
    ]);
    run.assert_said(&format!("child: sendmmsg {addr} sent 2\n"));
    let query = localhost_query();
    run.assert_said(&format!("child: sendmsg {addr} sent {}\n", query.len()));
    assert_eq!(received(&socket), [query, b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(report_lines(&report).len(), 2);
}

#[test]
fn without_the_variables_datagrams_and_lookups_go_through() {
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        (SEND_TO, &dest),
        (SENDMMSG_TO, &dest),
        (GETHOSTBYNAME, "gethostbyname:localhost"),
    ]);
    run.assert_said(&format!("child: send_to {addr} sent 1, refused 0\n"));
    run.assert_said("child: gethostbyname localhost resolved\n");
    assert_eq!(received(&socket).len(), 3);
}
