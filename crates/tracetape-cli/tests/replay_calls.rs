//! `tracetape replay` judging the calls a new build makes, not only its
//! responses: a call answered by a recorded call that is not the same
//! call, calls made after the response or outside any replayed request,
//! dependencies that moved, and the service's log kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use replay_support::{Fixture, both, free_port, schema, stderr, stdout};
use serde_json::Value;

// A changed request body sent to a dependency was answered by the
// recorded call anyway, and the replay passed.
#[test]
fn a_changed_outbound_body_deviates_at_its_path_unless_only_warned_about() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("price-qty", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    assert!(text.starts_with("POST /orders  deviated  "), "{text}");
    let price = format!("{}/price", fixture.dependency.url);
    assert!(
        text.contains(&format!(
            "\n  call deviates: POST {price}: answered by recorded call 1 (POST {price}), which is \
             not the same call; if the new build makes this call on purpose, accept it or record \
             this request again\n    body $.qty: expected 2, actual 3\n"
        )),
        "{text}"
    );

    let output = fixture.replay("price-qty", &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    schema::check_report(&report);
    let call = &report["recordings"][0]["calls"][1];
    assert_eq!(call["level"], "similar");
    assert_eq!(call["deviates"], true);
    assert_eq!(call["answered_by"]["url"], price.as_str());
    assert_eq!(call["differences"][0]["at"], "$.qty");
    assert_eq!(report["passed"], false);

    // As a warning, the recording passes and the call is still shown.
    let output = fixture.replay("price-qty", &["--call-deviations", "warn"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).contains("  call deviates (warning): POST "),
        "{}",
        both(&output)
    );
}

// A call made after the response by a task carrying the request's
// context failed inside the service and the report said nothing.
#[test]
fn a_call_after_the_response_is_reported_with_its_request() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("audit-after", &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    schema::check_report(&report);
    let recording = &report["recordings"][0];
    assert_eq!(recording["outcome"], "mock-missing", "{recording}");
    assert_eq!(recording["late_calls"], 1);
    assert_eq!(
        recording["calls"][2]["url"],
        format!("{}/loyalty/o-1", fixture.dependency.url)
    );
    assert_eq!(recording["calls"][2]["level"], Value::Null);
    assert_eq!(report["background"]["pending"], 0);
}

// A call made at start-up with no recorded answer appeared nowhere in
// the report, and the log that explained it was deleted.
#[test]
fn an_unanswered_start_up_call_fails_the_run_and_keeps_the_log() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("startup-call", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "calls outside the replayed requests (start-up, background)  failed\n  mock missing: \
             GET {}/stock/warm-up: no background recording answers it",
            fixture.dependency.url
        )),
        "{text}"
    );
    // Every recording passed; the run did not.
    assert!(
        text.contains("\nPOST /orders       1         0             0        0\n"),
        "{text}"
    );
    let log = text
        .lines()
        .find_map(|line| line.strip_prefix("the service's log: "))
        .unwrap_or_else(|| panic!("no log kept: {text}"));
    assert!(std::path::Path::new(log).exists());

    // Asked for, the log is kept where told, also when the run passes.
    let kept = fixture.dir.path().join("service.log");
    let output = fixture.replay("", &["--service-log", kept.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        std::fs::read_to_string(&kept)
            .unwrap()
            .contains("listening on http://127.0.0.1:")
    );
}

// Replay failed whenever a dependency answered at another address than
// recorded (dynamic ports in CI, containers).
#[test]
fn a_dependency_at_another_origin_is_matched_through_the_mapping() {
    let fixture = Fixture::record(&["o-1"]);
    let moved = format!("http://127.0.0.1:{}", free_port());
    let mut command = fixture.replay_command(free_port(), "", &[]);
    command.env("DEPENDENCY_URL", &moved);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(stdout(&output).starts_with("POST /orders  mock-missing  "));

    let mapping = format!("{}={moved}", fixture.dependency.url);
    let mut command = fixture.replay_command(free_port(), "", &["--origin", &mapping]);
    command.env("DEPENDENCY_URL", &moved);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));

    let output = fixture.replay("", &["--origin", "pricing:9000=x"]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains("--origin \"pricing:9000\": not an origin"),
        "{}",
        both(&output)
    );
}

// A start-up call the new build no longer made went unnoticed: only its
// consequences showed, somewhere else.
#[test]
fn a_start_up_call_no_longer_made_fails_the_run() {
    let fixture = Fixture::record_with(&["o-1"], &[("REPLAY_TARGET_CHANGE", "startup-call")]);
    let output = fixture.replay("startup-call", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));

    let output = fixture.replay("", &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    schema::check_report(&report);
    assert_eq!(report["totals"]["passed"], 1);
    assert_eq!(report["background"]["failed"], true);
    assert_eq!(
        report["background"]["unused_calls"][0]["url"],
        format!("{}/stock/warm-up", fixture.dependency.url)
    );
}
