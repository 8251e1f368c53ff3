//! `tracetape replay` end to end: the `replay_target` example recorded
//! against a dependency that counts its requests, then replayed as it is
//! and with its behaviour changed (`REPLAY_TARGET_CHANGE`), crashing,
//! failing to start, interrupted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::process::{Command, Stdio};

use replay_support::{
    Fixture, Notices, TOKEN, both, free_port, listening_url, running, schema, signal, stderr,
    stdout, stop,
};
use serde_json::Value;

#[test]
fn an_unchanged_build_passes_and_its_dependency_is_never_called() {
    let fixture = Fixture::record(&["o-1", "o-2", "o-3"]);
    let recorded = fixture.dependency.hits();
    assert_eq!(recorded, 6, "two calls per order");

    let port = free_port();
    let output = fixture.replay_command(port, "", &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = stdout(&output);
    // Nothing needs looking at: the summary alone.
    assert!(text.starts_with("REQUEST "), "{text}");
    assert!(
        text.contains("\nPOST /orders       3         0             0        0\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "3 of 3 recordings of orders replayed against http://127.0.0.1:{port}/ in "
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "outbound calls answered from the recordings: 0 dynamic, 6 exact, 0 redacted, 0 similar\n"
        ),
        "{text}"
    );
    assert_eq!(
        fixture.dependency.hits(),
        recorded,
        "the dependency was called"
    );
    // The service was stopped.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_changed_value_deviates_at_its_json_path_with_a_suggestion() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let output = fixture.replay("total", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    assert_eq!(
        text.matches("POST /orders  deviated  ").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains(
            "  body $.total_cents: expected 500, actual 501\n    expected: 500\n    actual:   501\n    \
             suggestion: if the new value is intended, record this request again; if it changes \
             from run to run, add an ignore rule for $.total_cents\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nPOST /orders       0         2             0        0\n"),
        "{text}"
    );
    // The second deviated the same way: named under the first, not repeated.
    assert_eq!(
        text.matches("  body $.total_cents: expected 500").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("  the same in 1 more recording:\n    POST /orders  deviated  "),
        "{text}"
    );

    // An ignore rule given as a flag forgives it.
    let output = fixture.replay("total", &["--ignore", "$.total_cents"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
}

#[test]
fn the_text_report_is_coloured_as_color_and_the_environment_say() {
    let fixture = Fixture::record(&["o-1"]);
    // Standard output is a pipe here: `auto` colours it only when forced.
    let coloured = |flags: &[&str], vars: &[(&str, &str)]| {
        let output = fixture
            .replay_command(free_port(), "total", flags)
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", both(&output));
        let text = stdout(&output);
        assert!(text.contains("$.total_cents"), "{text}");
        text.contains("\x1b[31m500\x1b[0m")
    };
    assert!(!coloured(&[], &[]));
    assert!(coloured(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(
        &[],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(coloured(&["--color", "always"], &[("NO_COLOR", "1")]));
    assert!(!coloured(&["--color=never"], &[("CLICOLOR_FORCE", "1")]));
}

/// A word for `sh`, quoted.
fn quoted(word: &std::ffi::OsStr) -> String {
    format!("'{}'", word.to_str().unwrap().replace('\'', r"'\''"))
}

#[test]
fn on_a_terminal_the_progress_line_counts_what_passed_and_failed() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let replay = fixture.replay_command(free_port(), "total", &[]);
    let line: Vec<String> = std::iter::once(replay.get_program())
        .chain(replay.get_args())
        .map(quoted)
        .collect();
    // `script` runs the replay on a terminal of its own and copies what
    // it shows to its standard output.
    let mut script = Command::new("script");
    script
        .args(["-qec", &line.join(" "), "/dev/null"])
        .current_dir(replay.get_current_dir().unwrap())
        .stdin(Stdio::null());
    for (name, value) in replay.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    let output = script.output().unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!("[{}] 0/2  0 passed  0 failed  ", ".".repeat(30))),
        "{shown:?}"
    );
    assert!(
        shown.contains(&format!("[{}] 2/2  0 passed  2 failed  ", "#".repeat(30))),
        "{shown:?}"
    );
}

#[test]
fn a_new_outbound_call_is_a_missing_mock() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("new-call", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    assert!(text.starts_with("POST /orders  mock-missing  "), "{text}");
    assert!(
        text.contains(&format!(
            "\n  mock missing: GET {}/loyalty/o-1: no recorded call answers it; if the new build \
             makes this call on purpose, record this request again; if not, find out why the code \
             makes it now\n",
            fixture.dependency.url
        )),
        "{text}"
    );
    assert!(text.contains("; 1 with no recorded call\n"), "{text}");
    assert_eq!(fixture.dependency.hits(), 2, "only the recording's calls");
}

#[test]
fn a_call_no_longer_made_leaves_its_mock_unused() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("drop-call", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    let block: Vec<&str> = text.split("\n\n").next().unwrap().lines().collect();
    assert!(block[0].starts_with("POST /orders  deviated  "), "{text}");
    assert!(block[1].starts_with("  recording: "), "{text}");
    // The response is the same: only the unused call is wrong.
    assert_eq!(
        block[2..],
        [format!(
            "  mock unused: GET {}/stock/tea (recorded call 0): the new build no longer makes \
             this call; if that is intended, record this request again",
            fixture.dependency.url
        )],
        "{text}"
    );
}

#[test]
fn the_json_report_follows_its_schema() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let output = fixture.replay("total-on=o-2", &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema_text = include_str!("../../../docs/replay-report.schema.json");
    let schema: Value = serde_json::from_str(schema_text).unwrap();
    assert_eq!(schema::violations(&schema, &report), Vec::<String>::new());

    assert_eq!(report["service"], "orders");
    assert_eq!(
        report["totals"],
        serde_json::json!({"recordings": 2, "passed": 1, "deviated": 1, "mock_missing": 0, "errored": 0})
    );
    assert_eq!(report["levels"]["exact"], 4);
    let [passed, deviated] = report["recordings"].as_array().unwrap().as_slice() else {
        panic!("two recordings: {report}");
    };
    assert_eq!(passed["outcome"], "passed");
    assert_eq!(passed["route"], "/orders");
    assert_eq!(passed["calls"].as_array().unwrap().len(), 2);
    assert_eq!(passed["calls"][0]["level"], "exact");
    assert_eq!(deviated["outcome"], "deviated");
    assert_eq!(
        (
            deviated["recorded_status"].clone(),
            deviated["status"].clone()
        ),
        (200.into(), 200.into())
    );
    let deviation = &deviated["deviations"][0];
    assert_eq!(deviation["path"], "$.total_cents");
    assert_eq!(deviation["change"], "changed");
    assert_eq!(
        (deviation["expected"].clone(), deviation["actual"].clone()),
        ("500".into(), "501".into())
    );
    assert!(
        deviation["suggestion"]
            .as_str()
            .unwrap()
            .contains("add an ignore rule for $.total_cents")
    );
    // The id is what the file's recording answers to.
    let id = deviated["id"].as_str().unwrap();
    assert!(id.starts_with(deviated["trace_id"].as_str().unwrap()));
    assert!(deviated["file"].as_str().unwrap().ends_with(".jsonl"));
    assert!(
        deviated["line"].as_u64().unwrap() > 1,
        "after the segment's header"
    );
}

#[test]
fn the_junit_report_reads_back_as_junit() {
    let fixture = Fixture::record(&["o-1", "o-2", "o-3"]);
    let report = fixture.dir.path().join("report.xml");
    let output = fixture.replay(
        "crash-on=o-2,total-on=o-3",
        &[
            "--concurrency",
            "1",
            "--format",
            "junit",
            "--output",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).contains(&format!(
            "report written to {}: 1 passed, 1 deviated, 0 mock missing, 1 errored",
            report.display()
        )),
        "{}",
        both(&output)
    );
    let xml = std::fs::read(&report).unwrap();
    let suites = junit_parser::from_reader(xml.as_slice()).unwrap();
    assert_eq!((suites.tests, suites.failures, suites.errors), (3, 1, 1));
    let [suite] = suites.suites.as_slice() else {
        panic!("one suite");
    };
    assert_eq!(suite.name, "tracetape replay: orders");
    assert_eq!((suite.tests, suite.failures, suite.errors), (3, 1, 1));
    let cases = &suite.cases;
    assert_eq!(cases.len(), 3);
    for case in cases {
        assert_eq!(case.classname.as_deref(), Some("orders"));
        assert!(
            case.original_name.starts_with("POST /orders ("),
            "{}",
            case.original_name
        );
        assert!(case.file.as_deref().unwrap().ends_with(".jsonl"));
    }
    assert!(cases[0].status.is_success());
    let junit_parser::TestStatus::Error(error) = &cases[1].status else {
        panic!("the crash is an error: {:?}", cases[1].status);
    };
    assert_eq!(error.error_type, "errored");
    assert!(
        error.message.starts_with(
            "error: the service exited (exit status: 3) while this request was in flight; restarted"
        ),
        "{}",
        error.message
    );
    let junit_parser::TestStatus::Failure(failure) = &cases[2].status else {
        panic!("the new total is a failure: {:?}", cases[2].status);
    };
    assert_eq!(failure.failure_type, "deviated");
    assert_eq!(
        failure.message,
        "body $.total_cents: expected 500, actual 501"
    );
    // The text report's block, whole.
    assert!(
        failure.text.starts_with("POST /orders  deviated  "),
        "{}",
        failure.text
    );
    assert!(
        failure
            .text
            .contains("\n    expected: 500\n    actual:   501\n"),
        "{}",
        failure.text
    );
}

#[test]
fn a_service_that_dies_mid_run_is_restarted_and_the_others_run() {
    let fixture = Fixture::record(&["o-1", "o-2", "o-3"]);
    let output = fixture.replay("crash-on=o-2", &["--concurrency", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let text = stdout(&output);
    let blocks: Vec<&str> = text.split("\n\n").collect();
    assert!(blocks[0].starts_with("POST /orders  errored  "), "{text}");
    assert!(
        blocks[0].ends_with(
            "\n  error: the service exited (exit status: 3) while this request was in flight; \
             restarted"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nPOST /orders       2         0             0        1\n"),
        "{text}"
    );
    assert!(
        text.contains("\nthe service died and was started again 1 time\nthe service's log: "),
        "{text}"
    );
    // The crashed request is the second one recorded.
    let recordings: Vec<String> = replay_json(&fixture, "crash-on=o-2")["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recordings, ["passed", "errored", "passed"]);
}

/// The JSON report of a replay with `change`, one request at a time.
fn replay_json(fixture: &Fixture, change: &str) -> Value {
    let output = fixture.replay(change, &["--concurrency", "1", "--format", "json"]);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", both(&output)))
}

#[test]
fn a_service_that_exits_at_start_fails_the_run_with_its_log() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("exit-at-start", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(output.stdout.is_empty());
    let message = stderr(&output);
    assert!(
        message.starts_with(
            "error: the service exited (exit status: 1) before it was ready; its log ("
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "\n  | replay_target: cannot open the order database (REPLAY_TARGET_CHANGE=exit-at-start)\n"
        ),
        "{message}"
    );
    // The log is kept for reading.
    let log = message
        .split_once("its log (")
        .unwrap()
        .1
        .split_once("):")
        .unwrap()
        .0;
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("cannot open the order database")
    );
    std::fs::remove_dir_all(std::path::Path::new(log).parent().unwrap()).unwrap();
}

#[test]
fn a_service_that_never_becomes_ready_times_out() {
    let fixture = Fixture::record(&["o-1"]);
    let port = free_port();
    let output = fixture
        .replay_command(
            port,
            "never-ready",
            &["--ready", "/health", "--startup-timeout", "1"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let message = stderr(&output);
    // (Between the two, a note that something else answers at the port
    // when another test's server has taken it since the service stopped.)
    assert!(
        message.starts_with(&format!(
            "error: the service was not ready within 1s (startup_timeout); the last try: GET \
             http://127.0.0.1:{port}/health answered 503 Service Unavailable; "
        )) && message.contains("its log ("),
        "{message}"
    );
    assert!(
        message.contains("\n  | listening on http://127.0.0.1:"),
        "{message}"
    );
    // Stopped all the same.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// The pids the example told at start-up: its own and its child's.
fn started(notices: &Notices) -> (u32, u32) {
    let line = notices.next();
    let pids: Vec<u32> = line
        .strip_prefix("started ")
        .unwrap_or_else(|| panic!("{line}"))
        .split(' ')
        .map(|pid| pid.parse().unwrap())
        .collect();
    (pids[0], pids[1])
}

#[test]
fn stopping_the_service_stops_its_whole_process_group() {
    // The example leaves a `sleep` running as its child; stopping only the
    // process `tracetape` started would leave it behind.
    let fixture = Fixture::record(&["o-1"]);
    let notices = Notices::listen();
    // The example tells around tracetape's clients: allowed (and reported).
    let output = fixture
        .replay_command(free_port(), "spawn-child", &["--allow-unpatched"])
        .env("REPLAY_TARGET_NOTIFY", notices.addr())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let (service, child) = started(&notices);
    assert!(child != 0);
    assert!(!running(service), "the service {service} still runs");
    assert!(!running(child), "its child {child} still runs");
}

#[test]
fn ctrl_c_stops_the_service_and_reports_what_ran() {
    let fixture = Fixture::record(&["o-1", "o-2", "o-3"]);
    let notices = Notices::listen();
    let replay = fixture
        .replay_command(
            free_port(),
            "hang-on=o-3",
            &["--concurrency", "1", "--allow-unpatched"],
        )
        .env("REPLAY_TARGET_NOTIFY", notices.addr())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (service, _) = started(&notices);
    assert_eq!(notices.next(), "hang o-3");
    signal(replay.id(), "INT");
    let output = replay.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", both(&output));
    let text = stdout(&output);
    assert!(
        text.contains("\nPOST /orders       2         0             0        0\n"),
        "{text}"
    );
    assert!(
        text.ends_with("interrupted: 2 of 3 recordings were replayed\n"),
        "{text}"
    );
    assert!(
        stderr(&output)
            .contains("interrupted: 2 of 3 recordings were replayed; the service was stopped"),
        "{}",
        both(&output)
    );
    assert!(!running(service), "the service {service} still runs");
}

#[test]
fn a_service_not_in_replay_mode_is_said_to_be_one() {
    let fixture = Fixture::record(&["o-1"]);
    // Already running, but not replaying: `--url` alone starts nothing.
    let mut target = fixture
        .env(&mut Command::new(replay_support::target_exe()), "")
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = listening_url(&mut target);
    let mut replay = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    let recordings = fixture.recordings();
    fixture.env(
        replay.args([
            "replay",
            "--url",
            &url,
            "--recordings",
            recordings.to_str().unwrap(),
        ]),
        "",
    );
    let output = replay.output().unwrap();
    // No verdict (not even "errored") about a service that is not replaying.
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(output.stdout.is_empty(), "{}", both(&output));
    let message = stderr(&output);
    assert!(
        message.contains("error: the service answered POST /orders (recording ")
            && message.contains(
                "as a service not replaying would, so no verdict is given: the response has no \
             x-tracetape-replay-log header: the service is not running tracetape in replay mode"
            ),
        "{message}"
    );
    // Still running: it was not `tracetape`'s to stop.
    assert!(target.try_wait().unwrap().is_none());
    stop(&mut target);
}

#[test]
fn the_configuration_file_drives_the_replay() {
    let fixture = Fixture::record(&["o-1"]);
    let port = free_port();
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        format!(
            "[replay]\ncommand = \"PORT={port} '{}'\"\nport = {port}\nrecordings = \"recordings\"\n\
             ready = \"/health\"\n\n[replay.compare]\nignore = [\"$.total_cents\"]\n",
            replay_support::target_exe().display()
        ),
    )
    .unwrap();
    let mut replay = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    fixture.env(replay.arg("replay"), "total");
    let output = replay.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).contains(&format!("replayed against http://127.0.0.1:{port}/")),
        "{}",
        both(&output)
    );
}

#[test]
fn a_credential_redaction_replaced_is_given_back_with_header() {
    // The example checks the bearer token every order carried; the
    // recordings hold it redacted.
    let token = [("REPLAY_TARGET_TOKEN", TOKEN)];
    let fixture = Fixture::record_with(&["o-1"], &token);
    let run = |args: &[&str], vars: &[(&str, &str)]| replay_checking_token(&fixture, args, vars);

    // Sent as recorded, the redacted value is refused.
    refused_as_recorded(&fixture);

    // Given back with --header, it passes.
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let output = run(&["--header", &bearer], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));

    // Or from the configuration file, the secret in the environment.
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        "[replay.headers]
authorization = \"Bearer ${ORDERS_TOKEN}\"\n",
    )
    .unwrap();
    let output = run(&[], &[("ORDERS_TOKEN", TOKEN)]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    // A variable that is not set stops the run before it starts.
    let output = run(&[], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains(
            "replay.headers.authorization: the environment variable ORDERS_TOKEN is not set"
        ),
        "{}",
        both(&output)
    );
}

#[test]
fn a_query_credential_redaction_replaced_is_given_back_with_query() {
    // The example checks the key every order carried in its query; the
    // recordings hold it redacted.
    let token = [("REPLAY_TARGET_TOKEN", TOKEN)];
    let fixture = Fixture::record_with_query_key(&["o-1"], &token);
    for file in walk(&fixture.recordings()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains(TOKEN), "{} holds the key", file.display());
    }
    let run = |args: &[&str], vars: &[(&str, &str)]| replay_checking_token(&fixture, args, vars);

    // Sent as recorded, `api_key=REDACTED` is refused.
    refused_as_recorded(&fixture);

    // Given back with --query, it passes, and the value is never printed.
    let output = run(&["--query", &format!("api_key={TOKEN}")], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(!both(&output).contains(TOKEN), "{}", both(&output));

    // Or from the configuration file, the secret in the environment.
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        "[replay.query]\napi_key = \"${ORDERS_KEY}\"\n",
    )
    .unwrap();
    let output = run(&[], &[("ORDERS_KEY", TOKEN)]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
}

/// Replays `fixture` with the example checking that each order carries
/// [`TOKEN`] (`REPLAY_TARGET_TOKEN`), with `args`, and `vars` in the
/// environment.
fn replay_checking_token(
    fixture: &Fixture,
    args: &[&str],
    vars: &[(&str, &str)],
) -> std::process::Output {
    let mut command = fixture.replay_command(free_port(), "", args);
    command
        .env("REPLAY_TARGET_TOKEN", TOKEN)
        .envs(vars.iter().copied());
    command.output().unwrap()
}

/// The recorded order, replayed with its credential as recorded
/// (redacted), is refused by the example: a 401 and exit status 1.
fn refused_as_recorded(fixture: &Fixture) {
    let output = replay_checking_token(fixture, &["--format", "json"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["recordings"][0]["status"], 401, "{report}");
}

/// Every file under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_bad_configuration_or_no_recordings_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tracetape"))
            .arg("replay")
            .args(args)
            .current_dir(dir.path())
            .env_remove("TRACETAPE_CONFIG")
            .env_remove("TRACETAPE_RECORD_DIR")
            .output()
            .unwrap()
    };
    std::fs::write(
        dir.path().join("tracetape.toml"),
        "[replay]\ncomand = \"./svc\"\n",
    )
    .unwrap();
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains("unknown field `comand`"),
        "{}",
        both(&output)
    );

    std::fs::write(dir.path().join("tracetape.toml"), "[replay]\nport = 1\n").unwrap();
    let output = run(&["--no-start"]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    // A service tracetape does not start cannot have the preload library
    // (nor the replay clock): said first.
    let stderr = stderr(&output);
    let (note, rest) = stderr.split_once('\n').unwrap();
    let (clock, error) = rest.split_once('\n').unwrap();
    assert_eq!(
        clock,
        "clock: not controlled (--no-start: the service reads real time); timestamps, dates and \
         epochs of the same kind on both sides are forgiven whatever their values",
        "{}",
        both(&output)
    );
    assert!(
        note.starts_with(
            "note: unpatched-dependency detection is off: the service is already running \
             (--no-start)"
        ),
        "{}",
        both(&output)
    );
    assert!(
        error.starts_with("error: no recorded requests in ")
            && error.contains(": the directory does not exist"),
        "{}",
        both(&output)
    );
}

/// Regression: requests recorded one after the other against a service
/// with state were replayed concurrently, so a `GET` listing what earlier
/// `POST`s created saw another list than when recorded.
#[test]
fn requests_recorded_one_after_the_other_are_replayed_in_recorded_order() {
    let add = |name: &str| ("POST", "/items", Some(serde_json::json!({ "name": name })));
    let list = ("GET", "/items", None);
    let fixture = Fixture::record_requests(&[add("a"), add("b"), list.clone(), add("c"), list]);
    // None of them overlapped: each is sent once the one before has been
    // answered, whatever the concurrency, so the lists come out as
    // recorded every time.
    for _ in 0..3 {
        let output = fixture.replay("", &["--concurrency", "8", "--format", "json"]);
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["totals"]["passed"], 5, "{report}");
        let routes: Vec<(&str, &str)> = report["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["method"].as_str().unwrap(),
                    r["outcome"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            routes,
            [
                ("POST", "passed"),
                ("POST", "passed"),
                ("GET", "passed"),
                ("POST", "passed"),
                ("GET", "passed")
            ]
        );
    }
    // In free order they may run together (and the lists differ): it
    // runs all of them, whatever they answer.
    let output = fixture.replay(
        "",
        &["--concurrency", "8", "--order", "free", "--format", "json"],
    );
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        both(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["totals"]["recordings"], 5, "{report}");
}

/// Regression: at `--concurrency 1` requests that overlapped when
/// recorded were replayed alone, one after the other, in the order their
/// responses ended, which is not always the order they changed the
/// service's state in. Recorded here: `a` added first (count 1) but
/// answered after `b` (count 2), which started while `a` ran.
#[test]
fn overlapping_requests_keep_their_recorded_effects_at_concurrency_one() {
    let add = |name: &str| ("POST", "/items", Some(serde_json::json!({ "name": name })));
    let fixture = Fixture::record_requests(&[add("a"), add("b")]);
    let loaded = tracetape::record::RecordingStore::new(fixture.recordings())
        .load()
        .unwrap();
    let mut requests: Vec<_> = loaded
        .recordings
        .into_iter()
        .filter(|stored| !stored.recording.background)
        .collect();
    requests.sort_by_key(|stored| stored.recording.exchanges[0].start_unix_nanos);
    assert_eq!(requests.len(), 2);
    let from = requests[0].recording.exchanges[0].start_unix_nanos;
    // a: [0, 100 ms]; b: [10 ms, 90 ms], so b's response ended first.
    for (stored, (start, end)) in requests.iter_mut().zip([(0, 100), (10, 90)]) {
        let inbound = &mut stored.recording.exchanges[0];
        inbound.start_unix_nanos = from + start * 1_000_000;
        inbound.end_unix_nanos = from + end * 1_000_000;
        stored
            .recording
            .replace_line(&stored.path, stored.line)
            .unwrap();
    }
    for concurrency in ["1", "16"] {
        let output = fixture.replay("", &["--concurrency", concurrency, "--format", "json"]);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            report["totals"]["passed"], 2,
            "--concurrency {concurrency}: {report}"
        );
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    }
}

// `--url https://user:password@host` was printed as given: in the summary
// line, the reports' base URL and every error that quoted the URL.
#[test]
fn a_password_in_the_url_is_never_printed() {
    const PASSWORD: &str = "hunter2-url-secret";
    let fixture = Fixture::record(&["o-1"]);
    let recordings = fixture.recordings();
    let replay = |url: &str, args: &[&str]| {
        let service = format!("'{}'", replay_support::target_exe().display());
        let port = url.rsplit(':').next().unwrap().to_owned();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
        command
            .args(["replay", "--command", &service, "--url", url])
            .args(["--recordings", recordings.to_str().unwrap()])
            .args(args);
        fixture.env(&mut command, "").env("PORT", port);
        command.output().unwrap()
    };
    let hidden = |output: &std::process::Output, files: &[&std::path::Path]| {
        let mut everything = both(output);
        for file in files {
            everything.push_str(&std::fs::read_to_string(file).unwrap());
        }
        assert!(!everything.contains(PASSWORD), "{everything}");
        everything
    };

    let port = free_port();
    let url = format!("http://replayer:{PASSWORD}@127.0.0.1:{port}");
    let output = replay(&url, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = hidden(&output, &[]);
    assert!(
        text.contains(&format!("replayed against http://***@127.0.0.1:{port}/")),
        "{text}"
    );
    for format in ["json", "junit"] {
        let report = fixture.dir.path().join(format!("report.{format}"));
        let port = free_port();
        let url = format!("http://replayer:{PASSWORD}@127.0.0.1:{port}");
        let args = ["--format", format, "--output", report.to_str().unwrap()];
        let output = replay(&url, &args);
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        let written = hidden(&output, &[&report]);
        if format == "json" {
            assert!(written.contains("http://***@127.0.0.1"), "{written}");
        }
    }

    // Errors that quote the URL: nothing listens there, and a URL that
    // cannot be used.
    let closed = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    command
        .args(["replay", "--no-start", "--startup-timeout", "1s", "--url"])
        .arg(format!("http://replayer:{PASSWORD}@127.0.0.1:{closed}"))
        .args(["--recordings", recordings.to_str().unwrap()]);
    let output = fixture.env(&mut command, "").output().unwrap();
    assert_ne!(output.status.code(), Some(0), "{}", both(&output));
    let text = hidden(&output, &[]);
    assert!(
        text.contains(&format!("http://***@127.0.0.1:{closed}")),
        "{text}"
    );
    let output = replay(&format!("ftp://replayer:{PASSWORD}@host:1"), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let text = hidden(&output, &[]);
    assert!(text.contains("--url ftp://***@host:1"), "{text}");
}
