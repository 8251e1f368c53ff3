//! `tracetape replay` with the preload library: the `replay_target`
//! example connecting around tracetape's clients
//! (`REPLAY_TARGET_BYPASS`) to a listener of the test's, refused by
//! default, let through with `--allow-unpatched`, reported in every format
//! and failing the run with `--fail-on-unpatched`; an ordinary replay, and
//! the other processes of the service's group, report nothing. Also: a
//! call through a plain `reqwest::Client` without tracetape's middleware
//! (`REPLAY_TARGET_PLAIN_CLIENT`), reported as a connection, and a lookup
//! of `localhost` (`REPLAY_TARGET_RESOLVE`), reported as a resolution, and
//! a datagram (`REPLAY_TARGET_UDP`), reported as a `udp` connection, in
//! text, JSON and JUnit; eight requests in flight at once, each finding
//! told to its own. Destinations and host names given with
//! `--allow-connect` (or the `allow_connect` key) are let through without a
//! finding, and a bad entry stops the run before it starts. The service's
//! own OTLP endpoint, set only inside `--command`, is let through without a
//! finding; a child process's connection is reported with its command
//! line; a connection made on tokio's blocking pool with the request's
//! context is told to its request at any concurrency, and one made by a
//! task without any request's context is told to none, even at
//! concurrency 1; with `--fail-on-unpatched` the text report says which
//! findings fail the run. Only loopback listeners, `localhost` and IP
//! literals are ever used.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::process::Output;

use replay_support::{Fixture, both, free_port, schema, stderr, stdout, target_exe};
use serde_json::Value;

/// A loopback listener that accepts nothing on its own.
fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Whether a connection reached `listener`. Called once the replay has
/// exited: a connection the service made is in the listener's queue by
/// then (the kernel completes it before `accept`), so nothing is waited
/// for.
fn accepted(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(err) if err.kind() == ErrorKind::WouldBlock => false,
        Err(err) => panic!("accept failed: {err}"),
    }
}

/// Replays the recordings of `fixture` one at a time, the example
/// connecting around tracetape to `bypass`, with `args` added.
fn replay_bypassing(fixture: &Fixture, bypass: SocketAddr, args: &[&str]) -> Output {
    let bypass = bypass.to_string();
    replay_with(fixture, &[("REPLAY_TARGET_BYPASS", &bypass)], args)
}

/// Replays the recordings of `fixture` one at a time with `vars` set for
/// the service, with `args` added.
fn replay_with(fixture: &Fixture, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut all = vec!["--concurrency", "1"];
    all.extend(args);
    let mut command = fixture.replay_command(free_port(), "", &all);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// The replay id of the only recording, from a JSON report.
fn only_id(report: &Value) -> String {
    let [recording] = report["recordings"].as_array().unwrap().as_slice() else {
        panic!("one recording: {report}");
    };
    recording["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_bypassing_connection_is_blocked_and_reported_with_the_handler_frame() {
    let fixture = Fixture::record(&["o-1"]);
    let (listener, addr) = listener();
    let output = replay_bypassing(&fixture, addr, &[]);
    // Reported, but without --fail-on-unpatched the run passes.
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(!accepted(&listener), "the connection reached the listener");
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!(
            "unpatched connection: tcp {addr} blocked, during POST /orders ("
        )),
        "{text}"
    );
    let frames: Vec<&str> = text
        .lines()
        .take_while(|line| !line.is_empty())
        .filter(|line| line.starts_with("  at "))
        .collect();
    assert!(
        frames[0].starts_with("  at replay_target::connect_bypassing_tracetape"),
        "{text}"
    );
    assert!(
        text.contains("\nunpatched: 1 connection, 0 resolutions (1 blocked, 0 allowed)\n"),
        "{text}"
    );
    assert!(!stderr(&output).contains("detection"), "{}", both(&output));
}

/// Eight orders in flight at once, each connecting around tracetape in the
/// way `variable` tells the replay target: each finding names exactly one
/// request, its own (`check` looks at each finding too).
fn each_connection_is_told_to_its_own_request(variable: &str, check: impl Fn(&Value)) {
    let orders = ["o-1", "o-2", "o-3", "o-4", "o-5", "o-6", "o-7", "o-8"];
    let fixture = Fixture::record(&orders);
    let (_listener, addr) = listener();
    let output = fixture
        .replay_command(
            free_port(),
            "",
            &["--concurrency", "8", "--order", "free", "--format", "json"],
        )
        .env(variable, addr.to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut replayed: Vec<&str> = report["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|recording| recording["id"].as_str().unwrap())
        .collect();
    let mut blamed: Vec<&str> = report["unpatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            let [one] = finding["recordings"].as_array().unwrap().as_slice() else {
                panic!("not told to one request: {finding}");
            };
            check(finding);
            one.as_str().unwrap()
        })
        .collect();
    replayed.sort_unstable();
    blamed.sort_unstable();
    assert_eq!(replayed.len(), orders.len(), "{report}");
    assert_eq!(blamed, replayed, "one finding per request, each its own");
}

#[test]
fn at_any_concurrency_each_connection_is_told_to_the_request_that_made_it() {
    // Every order connects around tracetape from its handler; eight are in
    // flight at once, so only the thread and time of each connection (and
    // the poll times in each replay log) tell them apart.
    each_connection_is_told_to_its_own_request("REPLAY_TARGET_BYPASS", |_| {});
}

#[test]
fn allow_unpatched_lets_the_connection_through_and_still_reports_it() {
    let fixture = Fixture::record(&["o-1"]);
    let (listener, addr) = listener();
    let output = replay_bypassing(&fixture, addr, &["--allow-unpatched"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(accepted(&listener), "the connection was refused");
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!(
            "unpatched connection: tcp {addr} allowed, during "
        )),
        "{text}"
    );
    assert!(
        text.contains("\nunpatched: 1 connection, 0 resolutions (0 blocked, 1 allowed)\n"),
        "{text}"
    );
}

#[test]
fn fail_on_unpatched_fails_the_run_and_the_json_report_carries_the_finding() {
    let fixture = Fixture::record(&["o-1"]);
    let (_listener, addr) = listener();
    let output = replay_bypassing(&fixture, addr, &["--fail-on-unpatched", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema_text = include_str!("../../../docs/replay-report.schema.json");
    let schema: Value = serde_json::from_str(schema_text).unwrap();
    assert_eq!(schema::violations(&schema, &report), Vec::<String>::new());
    // The recording itself passed: the finding alone fails the run.
    assert_eq!(report["totals"]["passed"], 1);
    assert_eq!(report["unpatched_detection"], true);
    let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
        panic!("one finding: {report}");
    };
    assert_eq!(finding["kind"], "tcp");
    assert_eq!(finding["address"], "127.0.0.1");
    assert_eq!(finding["port"], addr.port());
    assert_eq!(finding["blocked"], true);
    assert_eq!(finding["recordings"], serde_json::json!([only_id(&report)]));
    assert!(
        finding["frames"][0]
            .as_str()
            .unwrap()
            .starts_with("replay_target::connect_bypassing_tracetape"),
        "{finding}"
    );
}

#[test]
fn in_junit_a_finding_is_output_or_with_fail_on_unpatched_a_failure() {
    let fixture = Fixture::record(&["o-1"]);
    let (_listener, addr) = listener();
    let case = |args: &[&str]| {
        let mut all = vec!["--format", "junit"];
        all.extend(args);
        let output = replay_bypassing(&fixture, addr, &all);
        let suites = junit_parser::from_reader(output.stdout.as_slice()).unwrap();
        let case = suites.suites[0].cases[0].clone();
        (output.status.code(), suites.failures, case)
    };
    let (code, failures, passed) = case(&[]);
    assert_eq!((code, failures), (Some(0), 0));
    assert!(passed.status.is_success());
    assert!(
        passed
            .system_out
            .as_deref()
            .unwrap()
            .starts_with(&format!("unpatched connection: tcp {addr} blocked")),
        "{passed:?}"
    );
    let (code, failures, failed) = case(&["--fail-on-unpatched"]);
    assert_eq!((code, failures), (Some(1), 1));
    let junit_parser::TestStatus::Failure(failure) = &failed.status else {
        panic!("a failure: {failed:?}");
    };
    assert_eq!(failure.failure_type, "unpatched");
    assert!(
        failure
            .text
            .contains("  at replay_target::connect_bypassing_tracetape"),
        "{}",
        failure.text
    );
}

#[test]
fn an_ordinary_replay_finds_nothing_and_wrappers_in_the_group_are_ignored() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let (listener, addr) = listener();
    // A second process in the group connects around tracetape at start-up
    // (the example telling its start to REPLAY_TARGET_NOTIFY): it is not
    // the service, which is the process listening on the port. Refused,
    // it exits, and only then is the service started, so its line is
    // written before the replay can end.
    let exe = target_exe();
    let command = format!(
        "PORT=0 REPLAY_TARGET_NOTIFY={addr} '{}'; exec '{}'",
        exe.display(),
        exe.display()
    );
    let output = fixture
        .replay_shell(&command, free_port(), "", &["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["totals"]["passed"], 2, "{report}");
    assert_eq!(report["unpatched_detection"], true);
    assert_eq!(report["unpatched"], serde_json::json!([]), "{report}");
    assert_eq!(report["unpatched_ignored"], 1, "{report}");
    assert!(!accepted(&listener));

    let output = fixture.replay("", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output)
            .contains("\nunpatched: 0 connections, 0 resolutions (0 blocked, 0 allowed)\n"),
        "{}",
        both(&output)
    );
}

#[test]
fn where_detection_cannot_work_the_run_says_so() {
    let fixture = Fixture::record(&["o-1"]);
    // The service started without the library.
    let command = format!("env -u LD_PRELOAD '{}'", target_exe().display());
    let output = fixture
        .replay_shell(&command, free_port(), "", &[])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stderr(&output).contains(
            "warning: unpatched-dependency detection cannot work for this service: its process "
        ),
        "{}",
        both(&output)
    );
    // No library to start it with.
    let output = fixture.replay("", &["--preload", "/no/such/lib.so", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stderr(&output).starts_with(
            "note: unpatched-dependency detection is off: the preload library /no/such/lib.so \
             (--preload, replay.preload) does not exist"
        ),
        "{}",
        both(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["unpatched_detection"], false);
}

#[test]
fn a_call_through_a_plain_reqwest_client_is_blocked_and_reported_with_the_handler_frame() {
    let fixture = Fixture::record(&["o-1"]);
    let (listener, addr) = listener();
    let addr_text = addr.to_string();
    let vars = [("REPLAY_TARGET_PLAIN_CLIENT", addr_text.as_str())];
    let output = replay_with(&fixture, &vars, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(!accepted(&listener), "the connection reached the listener");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["totals"]["passed"], 1, "{report}");
    let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
        panic!("one finding: {report}");
    };
    assert_eq!(finding["kind"], "tcp", "{finding}");
    assert_eq!(finding["address"], "127.0.0.1", "{finding}");
    assert_eq!(finding["port"], addr.port(), "{finding}");
    assert_eq!(finding["host"], Value::Null, "{finding}");
    assert_eq!(finding["blocked"], true, "{finding}");
    assert_eq!(finding["recordings"], serde_json::json!([only_id(&report)]));
    let frames = finding["frames"].as_array().unwrap();
    assert!(
        frames.iter().any(|frame| frame
            .as_str()
            .unwrap()
            .contains("replay_target::call_with_plain_client")),
        "{finding}"
    );
}

#[test]
fn a_plain_reqwest_client_s_call_goes_through_with_allow_unpatched_and_is_still_reported() {
    let fixture = Fixture::record(&["o-1"]);
    // The dependency the plain client calls: answers one request.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let served = std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8(head).unwrap()
    });
    let addr_text = addr.to_string();
    let vars = [("REPLAY_TARGET_PLAIN_CLIENT", addr_text.as_str())];
    let output = replay_with(&fixture, &vars, &["--allow-unpatched"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let head = served.join().unwrap();
    assert!(head.starts_with("GET /plain HTTP/1.1\r\n"), "{head}");
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!(
            "unpatched connection: tcp {addr} allowed, during POST /orders ("
        )),
        "{text}"
    );
    assert!(
        text.contains("  at replay_target::call_with_plain_client"),
        "{text}"
    );
}

#[test]
fn a_datagram_sent_around_tracetape_is_blocked_and_reported_as_udp_or_let_through() {
    let fixture = Fixture::record(&["o-1"]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let addr = socket.local_addr().unwrap();
    let addr_text = addr.to_string();
    let vars = [("REPLAY_TARGET_UDP", addr_text.as_str())];
    // Loopback datagrams are queued by the time `send_to` returns, and the
    // replay has exited: whatever was sent is waiting.
    let received = |socket: &std::net::UdpSocket| {
        let mut buf = [0; 64];
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => Some(buf[..len].to_vec()),
            Err(err) if err.kind() == ErrorKind::WouldBlock => None,
            Err(err) => panic!("recv failed: {err}"),
        }
    };

    let output = replay_with(&fixture, &vars, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(received(&socket), None, "the datagram was sent");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
        panic!("one finding: {report}");
    };
    assert_eq!(finding["kind"], "udp", "{finding}");
    assert_eq!(finding["address"], "127.0.0.1", "{finding}");
    assert_eq!(finding["port"], addr.port(), "{finding}");
    assert_eq!(finding["blocked"], true, "{finding}");
    assert_eq!(finding["recordings"], serde_json::json!([only_id(&report)]));
    assert!(
        finding["frames"][0]
            .as_str()
            .unwrap()
            .starts_with("replay_target::send_datagram_bypassing_tracetape"),
        "{finding}"
    );

    let output = replay_with(&fixture, &vars, &["--allow-unpatched"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(received(&socket).as_deref(), Some(&b"o-1"[..]));
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!(
            "unpatched connection: udp {addr} allowed, during POST /orders ("
        )),
        "{text}"
    );
    assert!(
        text.contains("\nunpatched: 1 connection, 0 resolutions (0 blocked, 1 allowed)\n"),
        "{text}"
    );
}

#[test]
fn resolving_a_host_name_is_blocked_by_default_and_reported_as_dns() {
    let fixture = Fixture::record(&["o-1"]);
    let vars = [("REPLAY_TARGET_RESOLVE", "localhost")];
    let output = replay_with(&fixture, &vars, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("unpatched resolution: dns localhost blocked, during POST /orders ("),
        "{text}"
    );
    let frames: Vec<&str> = text
        .lines()
        .take_while(|line| !line.is_empty())
        .filter(|line| line.starts_with("  at "))
        .collect();
    assert!(
        frames
            .iter()
            .any(|frame| frame.starts_with("  at replay_target::resolve_bypassing_tracetape")),
        "{text}"
    );
    assert!(
        text.contains("\nunpatched: 0 connections, 1 resolution (1 blocked, 0 allowed)\n"),
        "{text}"
    );

    let output = replay_with(&fixture, &vars, &["--allow-unpatched"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("unpatched resolution: dns localhost allowed, during POST /orders ("),
        "{text}"
    );
}

#[test]
fn the_json_report_carries_a_resolution_s_host() {
    let fixture = Fixture::record(&["o-1"]);
    let vars = [("REPLAY_TARGET_RESOLVE", "localhost")];
    let output = replay_with(
        &fixture,
        &vars,
        &["--fail-on-unpatched", "--format", "json"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema_text = include_str!("../../../docs/replay-report.schema.json");
    let schema: Value = serde_json::from_str(schema_text).unwrap();
    assert_eq!(schema::violations(&schema, &report), Vec::<String>::new());
    let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
        panic!("one finding: {report}");
    };
    assert_eq!(finding["kind"], "dns", "{finding}");
    assert_eq!(finding["host"], "localhost", "{finding}");
    assert_eq!(finding["address"], Value::Null, "{finding}");
    assert_eq!(finding["port"], Value::Null, "{finding}");
    assert_eq!(finding["blocked"], true, "{finding}");
    assert_eq!(finding["recordings"], serde_json::json!([only_id(&report)]));
}

#[test]
fn in_junit_a_resolution_is_output_or_with_fail_on_unpatched_a_failure() {
    let fixture = Fixture::record(&["o-1"]);
    let vars = [("REPLAY_TARGET_RESOLVE", "localhost")];
    let case = |args: &[&str]| {
        let mut all = vec!["--format", "junit"];
        all.extend(args);
        let output = replay_with(&fixture, &vars, &all);
        let suites = junit_parser::from_reader(output.stdout.as_slice()).unwrap();
        let case = suites.suites[0].cases[0].clone();
        (output.status.code(), suites.failures, case)
    };
    let (code, failures, passed) = case(&[]);
    assert_eq!((code, failures), (Some(0), 0));
    assert!(passed.status.is_success(), "{passed:?}");
    let out = passed.system_out.as_deref().unwrap();
    assert!(
        out.starts_with("unpatched resolution: dns localhost blocked, during POST /orders ("),
        "{passed:?}"
    );
    assert!(
        out.contains("  at replay_target::resolve_bypassing_tracetape"),
        "{out}"
    );
    let (code, failures, failed) = case(&["--fail-on-unpatched"]);
    assert_eq!((code, failures), (Some(1), 1));
    let junit_parser::TestStatus::Failure(failure) = &failed.status else {
        panic!("a failure: {failed:?}");
    };
    assert_eq!(failure.failure_type, "unpatched");
    assert!(
        failure
            .message
            .starts_with("unpatched resolution: dns localhost blocked, during POST /orders ("),
        "{failure:?}"
    );
    assert!(
        failure
            .text
            .contains("  at replay_target::resolve_bypassing_tracetape"),
        "{}",
        failure.text
    );
}

#[test]
fn allow_connect_lets_the_bypassing_connection_through_without_a_finding() {
    let fixture = Fixture::record(&["o-1"]);
    let (listener, addr) = listener();
    let addr_text = addr.to_string();
    let output = replay_bypassing(
        &fixture,
        addr,
        &["--allow-connect", &addr_text, "--format", "json"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(accepted(&listener), "the connection was refused");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["totals"]["passed"], 1, "{report}");
    assert_eq!(report["unpatched_detection"], true, "{report}");
    assert_eq!(report["unpatched"], serde_json::json!([]), "{report}");
}

#[test]
fn allow_connect_lets_a_host_name_resolve_without_a_finding_from_the_flag_and_the_file() {
    let fixture = Fixture::record(&["o-1"]);
    let vars = [("REPLAY_TARGET_RESOLVE", "localhost")];
    let output = replay_with(
        &fixture,
        &vars,
        &["--allow-connect", "localhost", "--fail-on-unpatched"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = stdout(&output);
    assert!(!text.contains("unpatched resolution"), "{text}");
    assert!(
        text.contains("\nunpatched: 0 connections, 0 resolutions (0 blocked, 0 allowed)\n"),
        "{text}"
    );

    // The key's entries and the flag's combine: the file lets the lookup
    // through, the flag the connection.
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        "[replay]\nallow_connect = [\"LocalHost\"]\n",
    )
    .unwrap();
    let (listener, addr) = listener();
    let addr_text = addr.to_string();
    let output = fixture
        .replay_command(
            free_port(),
            "",
            &[
                "--concurrency",
                "1",
                "--allow-connect",
                &addr_text,
                "--format",
                "json",
            ],
        )
        .env("REPLAY_TARGET_RESOLVE", "localhost")
        .env("REPLAY_TARGET_BYPASS", &addr_text)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(accepted(&listener), "the connection was refused");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["unpatched_detection"], true, "{report}");
    assert_eq!(report["unpatched"], serde_json::json!([]), "{report}");
}

#[test]
fn a_bad_allow_connect_entry_stops_the_run_before_it_starts() {
    let fixture = Fixture::record(&["o-1"]);
    for (entry, error) in [
        (
            "not a host:port:x",
            "error: --allow-connect \"not a host:port:x\": \"x\" is not a port: expected \
             IP:PORT, [IPV6]:PORT, HOST or HOST:PORT",
        ),
        ("", "error: --allow-connect \"\": an empty entry: expected"),
        (
            "127.0.0.1",
            "error: --allow-connect \"127.0.0.1\": an IP address needs its port",
        ),
    ] {
        let output = fixture.replay("", &["--allow-connect", entry]);
        assert_eq!(output.status.code(), Some(2), "{}", both(&output));
        assert!(stderr(&output).starts_with(error), "{}", both(&output));
        assert_eq!(stdout(&output), "", "{}", both(&output));
    }
    // So does one in the file, named as the key.
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        "[replay]\nallow_connect = [\"db:5432\", \"db:x\"]\n",
    )
    .unwrap();
    let output = fixture.replay("", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).starts_with("error: replay.allow_connect \"db:x\": \"x\" is not a port"),
        "{}",
        both(&output)
    );
}

/// A loopback HTTP server answering every request `200` with an empty
/// body, as an OTLP/HTTP collector would; counts the connections it
/// accepted. Runs until the test ends.
fn collector() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                // Head, then as much body as content-length says.
                let mut head = Vec::new();
                let mut byte = [0];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                let _ = stream.read_exact(&mut body);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                );
            });
        }
    });
    (addr, accepted)
}

#[test]
fn the_service_s_own_otlp_endpoint_set_inside_the_command_is_allowed_without_a_finding() {
    // The endpoint is set only in the shell the command runs, so the
    // replayer's environment does not name it: before, the library refused
    // the service's exports and reported them as an unpatched connection.
    let fixture = Fixture::record(&["o-1"]);
    let (addr, accepted) = collector();
    let command = format!(
        "OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
         OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{} OTEL_BSP_SCHEDULE_DELAY=50 exec '{}'",
        addr.port(),
        target_exe().display()
    );
    let output = fixture
        .replay_shell(
            &command,
            free_port(),
            "",
            &["--fail-on-unpatched", "--format", "json"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["unpatched_detection"], true, "{report}");
    assert_eq!(report["unpatched"], serde_json::json!([]), "{report}");
    // The spans were exported: at the latest when the service stopped.
    assert!(
        accepted.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "nothing reached the collector: {}",
        both(&output)
    );
}

#[test]
fn a_child_process_s_connection_is_reported_with_its_command_line() {
    // The service runs `curl`: before, its line was another process's of
    // the group, ignored.
    let fixture = Fixture::record(&["o-1"]);
    let (listener, addr) = listener();
    let addr_text = addr.to_string();
    let vars = [("REPLAY_TARGET_CHILD_CURL", addr_text.as_str())];
    let output = replay_with(&fixture, &vars, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(!accepted(&listener), "the connection reached the listener");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["unpatched_ignored"], 0, "{report}");
    let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
        panic!("one finding: {report}");
    };
    assert_eq!(finding["kind"], "tcp", "{finding}");
    assert_eq!(finding["port"], addr.port(), "{finding}");
    assert_eq!(
        finding["child_command"],
        format!("curl -s -m 5 http://{addr}/child"),
        "{finding}"
    );
    // Not on a thread of the service: no request is named, the one in
    // flight is context.
    assert_eq!(finding["recordings"], serde_json::json!([]), "{finding}");
    assert_eq!(
        finding["in_flight"],
        serde_json::json!([only_id(&report)]),
        "{finding}"
    );

    let output = replay_with(&fixture, &vars, &[]);
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            " started by the service: curl -s -m 5 http://{addr}/child\n"
        )),
        "{text}"
    );
}

#[test]
fn a_connection_on_the_blocking_pool_is_told_to_its_request_at_any_concurrency() {
    // Each order connects from `context::spawn_blocking`, eight at once:
    // before, such a line was on no handler's thread and all eight
    // requests in flight were listed.
    each_connection_is_told_to_its_own_request("REPLAY_TARGET_BLOCKING_BYPASS", |finding| {
        assert!(
            finding["frames"][0]
                .as_str()
                .unwrap()
                .starts_with("replay_target::connect_bypassing_tracetape"),
            "{finding}"
        );
    });
}

#[test]
fn a_connection_from_a_task_without_a_request_s_context_names_no_request() {
    // A task spawned at start-up connects while an order waits for it, one
    // order at a time: before, the only request in flight was named.
    let fixture = Fixture::record(&["o-1"]);
    let (_listener, addr) = listener();
    let addr_text = addr.to_string();
    let vars = [("REPLAY_TARGET_BACKGROUND_BYPASS", addr_text.as_str())];
    let output = replay_with(&fixture, &vars, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
        panic!("one finding: {report}");
    };
    assert_eq!(finding["port"], addr.port(), "{finding}");
    assert_eq!(finding["recordings"], serde_json::json!([]), "{finding}");
    assert_eq!(
        finding["in_flight"],
        serde_json::json!([only_id(&report)]),
        "{finding}"
    );

    let output = replay_with(&fixture, &vars, &[]);
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!(
            "unpatched connection: tcp {addr} blocked, by no replayed request's work (not on a \
             thread running one then; in flight: POST /orders ("
        )),
        "{text}"
    );

    // Failing the run, it is a failing test case of its own in JUnit: the
    // order's own case passed.
    let output = replay_with(
        &fixture,
        &vars,
        &["--fail-on-unpatched", "--format", "junit"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let suites = junit_parser::from_reader(output.stdout.as_slice()).unwrap();
    assert_eq!(suites.failures, 1, "{}", stdout(&output));
    let cases = &suites.suites[0].cases;
    assert!(cases[0].status.is_success(), "{cases:?}");
    let outside = cases
        .iter()
        // The parser puts the class name before the name.
        .find(|case| {
            case.name
                .ends_with("connections and resolutions outside the replayed requests' work")
        })
        .unwrap_or_else(|| panic!("{}", stdout(&output)));
    let junit_parser::TestStatus::Failure(failure) = &outside.status else {
        panic!("a failure: {outside:?}");
    };
    assert_eq!(failure.failure_type, "unpatched");
    assert!(
        failure
            .message
            .ends_with("; fails the run (--fail-on-unpatched)"),
        "{failure:?}"
    );
}

#[test]
fn with_fail_on_unpatched_the_text_report_says_which_findings_fail_the_run() {
    // Before, the run failed with every recording passed and nothing in
    // the text saying why.
    let fixture = Fixture::record(&["o-1"]);
    let (_listener, addr) = listener();
    let output = replay_bypassing(&fixture, addr, &["--fail-on-unpatched"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "unpatched connection: tcp {addr} blocked, during "
        )) && first.ends_with("; fails the run (--fail-on-unpatched)"),
        "{text}"
    );
    assert!(
        text.contains(
            "\nunpatched: 1 connection, 0 resolutions (1 blocked, 0 allowed); it fails the run \
             (--fail-on-unpatched)\n"
        ),
        "{text}"
    );
    // Without the flag, the same finding fails nothing and says nothing of it.
    let output = replay_bypassing(&fixture, addr, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        !stdout(&output).contains("fails the run"),
        "{}",
        both(&output)
    );
}

/// Where a `replay_target` built with `debug = "line-tables-only"` is, for
/// [`with_line_tables_only_the_first_frame_is_still_the_service_s`].
const LINE_TABLES_TARGET: &str = "REPLAY_TARGET_LINE_TABLES";

#[test]
#[ignore = "needs a replay_target built with line tables only, named by REPLAY_TARGET_LINE_TABLES"]
fn with_line_tables_only_the_first_frame_is_still_the_service_s() {
    // Build it with
    //   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release \
    //     -p tracetape-cli --example replay_target --target-dir /tmp/line-tables
    // and run with REPLAY_TARGET_LINE_TABLES=/tmp/line-tables/release/examples/replay_target.
    // Its frames are short names (`{async_fn#0}`, `poll<…>`) told apart by
    // their files: before, the plain client's first frame was hyper-util's.
    let exe = std::env::var(LINE_TABLES_TARGET)
        .unwrap_or_else(|_| panic!("set {LINE_TABLES_TARGET} to the example built so"));
    let fixture = Fixture::record(&["o-1"]);
    let (_listener, addr) = listener();
    let addr_text = addr.to_string();
    for (var, first) in [
        ("REPLAY_TARGET_BYPASS", "connect_bypassing_tracetape at "),
        (
            "REPLAY_TARGET_BLOCKING_BYPASS",
            "connect_bypassing_tracetape at ",
        ),
        // `call_with_plain_client`, an async fn: `{async_fn#0} at …`.
        ("REPLAY_TARGET_PLAIN_CLIENT", "{async_fn#0} at "),
        ("REPLAY_TARGET_RESOLVE", "resolve_bypassing_tracetape at "),
    ] {
        let value = if var == "REPLAY_TARGET_RESOLVE" {
            "localhost"
        } else {
            addr_text.as_str()
        };
        let output = fixture
            .replay_shell(&format!("'{exe}'"), free_port(), "", &["--format", "json"])
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let [finding] = report["unpatched"].as_array().unwrap().as_slice() else {
            panic!("one finding: {report}");
        };
        let frame = finding["frames"][0].as_str().unwrap_or_default();
        assert!(
            frame.starts_with(first) && frame.contains("examples/replay_target.rs:"),
            "{var}: {finding}"
        );
    }
}
