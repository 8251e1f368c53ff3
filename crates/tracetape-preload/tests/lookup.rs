//! The preloaded library in a real process, for host-name resolution
//! through the C library: `getaddrinfo` (by `std::net::ToSocketAddrs`), the
//! `gethostbyname` family and `res_query`, called from the child (see the
//! `common` module).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    GETHOSTBYNAME, RES_QUERY, UNSENDABLE, assert_event, assert_within, one_line, report_file,
    report_lines, run_child_resolving, run_child_with,
};

/// The child's side (see [`common::child`]), run by the other tests in a
/// child process of their own.
#[test]
#[ignore = "run in a child process by the other tests"]
fn child() {
    common::child();
}

/// Asserts that `line` reports resolving `host` from this process's child,
/// in [`common::child_resolves_without_instrumentation`].
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
    let (_tmp, report) = report_file();
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains("child: localhost not resolved: "),
        "{stdout}"
    );
    assert_reports_resolution(&one_line(&report), "localhost", true);
}

#[test]
fn allow_mode_resolves_the_host_name_and_still_reports_it() {
    let (_tmp, report) = report_file();
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_MODE", "allow"),
        ],
    );
    assert!(stdout.contains("child: localhost resolved\n"), "{stdout}");
    assert_reports_resolution(&one_line(&report), "localhost", false);
}

#[test]
fn an_allow_listed_host_name_is_neither_reported_nor_refused() {
    let (_tmp, report) = report_file();
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
    let (_tmp, report) = report_file();
    let stdout = run_child_resolving(
        &["127.0.0.1", "::1"],
        &[],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(stdout.contains("child: 127.0.0.1 resolved\n"), "{stdout}");
    assert!(stdout.contains("child: ::1 resolved\n"), "{stdout}");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

/// Asserts that `line` reports looking `host` up through `interposed`, in
/// [`common::child_looks_up_without_instrumentation`].
fn assert_reports_lookup(line: &serde_json::Value, host: &str, blocked: bool, interposed: &str) {
    assert_eq!(line["kind"], "dns", "{line}");
    assert_eq!(line["host"], host, "{line}");
    assert!(
        line.get("address").is_none() && line.get("port").is_none(),
        "{line}"
    );
    assert_event(
        line,
        blocked,
        interposed,
        "child_looks_up_without_instrumentation",
    );
}

/// The `gethostbyname` family, each looking `localhost` up.
const GETHOSTBYNAMES: [&str; 4] = [
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
];

#[test]
fn gethostbyname_and_its_kin_are_refused_as_an_unknown_host_and_reported() {
    let (_tmp, report) = report_file();
    let lookups =
        GETHOSTBYNAMES.map(|function| format!("{function}:localhost,{function}:127.0.0.1"));
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (GETHOSTBYNAME, &lookups.join(",")),
    ]);
    // HOST_NOT_FOUND is 1; the `_r` ones return 0 with a null result, as
    // glibc does for a name it does not know.
    for expected in [
        "child: gethostbyname localhost not resolved (h_errno 1)\n",
        "child: gethostbyname2 localhost not resolved (h_errno 1)\n",
        "child: gethostbyname_r localhost not resolved (ret 0, result null true, h_errno 1)\n",
        "child: gethostbyname2_r localhost not resolved (ret 0, result null true, h_errno 1)\n",
    ] {
        assert!(run.stdout.contains(expected), "{expected}{}", run.stdout);
    }
    // IP literals are not looked up, so not reported nor refused.
    for function in GETHOSTBYNAMES {
        run.assert_said(&format!("child: {function} 127.0.0.1 resolved\n"));
    }
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, function) in lines.iter().zip(GETHOSTBYNAMES) {
        assert_reports_lookup(line, "localhost", true, function);
        assert_within(line, run.window);
    }
}

#[test]
fn allow_mode_resolves_with_gethostbyname_and_still_reports_it() {
    let (_tmp, report) = report_file();
    let lookups = GETHOSTBYNAMES.map(|function| format!("{function}:localhost"));
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (GETHOSTBYNAME, &lookups.join(",")),
    ]);
    for function in GETHOSTBYNAMES {
        run.assert_said(&format!("child: {function} localhost resolved\n"));
    }
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, function) in lines.iter().zip(GETHOSTBYNAMES) {
        assert_reports_lookup(line, "localhost", false, function);
    }
}

#[test]
fn an_allow_listed_host_name_is_looked_up_with_gethostbyname_unreported() {
    let (_tmp, report) = report_file();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
        (GETHOSTBYNAME, "gethostbyname:localhost"),
    ]);
    run.assert_said("child: gethostbyname localhost resolved\n");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

#[test]
fn res_query_is_refused_as_an_unknown_host_and_reported() {
    let (_tmp, report) = report_file();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (RES_QUERY, "1"),
    ]);
    // -1 with HOST_NOT_FOUND (1); the C library's own failure for this
    // name would be NO_RECOVERY (3).
    run.assert_said("child: res_query ret -1, h_errno 1\n");
    let line = one_line(&report);
    assert_reports_lookup(&line, UNSENDABLE, true, "res_query");
    assert_within(&line, run.window);
}

#[test]
fn allow_mode_hands_res_query_on_and_still_reports_it() {
    let (_tmp, report) = report_file();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (RES_QUERY, "1"),
    ]);
    // The C library's own answer: it cannot build a query for the name.
    run.assert_said("child: res_query ret -1, h_errno 3\n");
    assert_reports_lookup(&one_line(&report), UNSENDABLE, false, "res_query");
}
