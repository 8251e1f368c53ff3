//! The commands around the replay: `tracetape init` writing a
//! configuration file, `tracetape record -- COMMAND` running the
//! `replay_target` example in record mode, and `tracetape replay`
//! choosing recordings by route and method.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::process::{Command, Stdio};

use replay_support::{
    Dependency, Fixture, both, listening_url, signal, stderr, stdout, target_exe,
};
use serde_json::{Value, json};
use tracetape::record::RecordingStore;

fn tracetape() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    command.env_remove("TRACETAPE_CONFIG");
    command
}

#[test]
fn init_writes_a_commented_file_and_leaves_an_existing_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracetape.toml");
    let output = tracetape()
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).starts_with("wrote tracetape.toml"),
        "{}",
        both(&output)
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("\n[record]\n") && written.contains("\n[replay]\n"));
    assert!(written.contains(".redaction-key"), "says what to ignore");

    // The replay reads it (and only lacks where the service is).
    let output = tracetape()
        .args(["replay", "--no-start", "--port", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("no recorded requests in"),
        "{}",
        both(&output)
    );

    // A second run refuses to replace it; --force does.
    std::fs::write(&path, "# mine\n").unwrap();
    let output = tracetape()
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert_eq!(
        stderr(&output),
        "error: tracetape.toml already exists; --force replaces it\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    let other = dir.path().join("other.toml");
    let output = tracetape()
        .args(["init", "--force", "--config", other.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let output = tracetape()
        .args(["init", "--force"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

#[test]
fn record_runs_the_service_in_record_mode_and_says_where_recordings_went() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fixture = Fixture {
        dependency: Dependency::start(&runtime),
        runtime,
        dir: tempfile::tempdir().unwrap(),
        orders: Vec::new(),
    };
    let mut command = tracetape();
    fixture
        .env(&mut command, "")
        .arg("record")
        .arg("--")
        .arg(target_exe())
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // The example's own first line comes through tracetape's output.
    let url = listening_url(&mut child);
    let response = fixture.runtime.block_on(
        reqwest::Client::new()
            .post(format!("{url}/orders"))
            .json(&json!({"id": "r-1", "sku": "tea", "qty": 2}))
            .send(),
    );
    assert_eq!(response.unwrap().status(), 200);
    // SIGTERM to `tracetape record` reaches the service, which writes
    // its recordings and exits.
    signal(child.id(), "TERM");
    let output = child.wait_with_output().unwrap();
    let dir = fixture.dir.path().join(".tracetape/recordings");
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.starts_with(&format!(
            "tracetape record: recording into {} (TRACETAPE_MODE=record)",
            dir.display()
        )),
        "{said}"
    );
    assert!(
        said.contains("the service exited with 0; 1 new recording(s) in "),
        "{said}"
    );
    let loaded = RecordingStore::new(&dir).load().unwrap();
    let [stored] = loaded.recordings.as_slice() else {
        panic!("{:?}", loaded.recordings);
    };
    let inbound = stored.recording.inbound().unwrap();
    assert_eq!(
        (
            inbound.request.method.as_str(),
            inbound.request.url.as_str()
        ),
        ("POST", "/orders")
    );
}

#[test]
fn record_exits_with_the_service_s_status() {
    let dir = tempfile::tempdir().unwrap();
    let output = tracetape()
        .args([
            "record",
            "--",
            "sh",
            "-c",
            "test \"$TRACETAPE_MODE\" = record && exit 3",
        ])
        .current_dir(dir.path())
        .env_remove("TRACETAPE_RECORD_DIR")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", both(&output));
    assert!(
        stderr(&output).contains("the service exited with 3; 0 new recording(s)"),
        "{}",
        both(&output)
    );
    // Without `--` too: everything from the command on is its own.
    let output = tracetape()
        .args(["record", "sh", "-c", "exit 4", "--color", "never"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", both(&output));
    // A command that cannot start is an error of its own.
    let output = tracetape()
        .args(["record", "--", "/no/such/service"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(
        stderr(&output).contains("error: failed to start /no/such/service"),
        "{}",
        both(&output)
    );
}

#[test]
fn replay_chooses_recordings_by_route_and_method() {
    let add = ("POST", "/items", Some(json!({ "name": "a" })));
    let health = ("GET", "/health", None);
    let invoice = ("GET", "/invoices/7", None);
    let fixture = Fixture::record_requests(&[add, health, invoice]);
    let replayed = |flags: &[&str]| {
        let mut args = vec!["--format", "json"];
        args.extend(flags);
        let output = fixture.replay("", &args);
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut requests: Vec<String> = report["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["route"].as_str().unwrap()
                )
            })
            .collect();
        requests.sort();
        requests
    };
    assert_eq!(replayed(&[]).len(), 3);
    assert_eq!(
        replayed(&["--route", "/invoices/*"]),
        ["GET /invoices/{id}"]
    );
    assert_eq!(
        replayed(&["--method", "get"]),
        ["GET /health", "GET /invoices/{id}"]
    );
    assert_eq!(
        replayed(&["--route", "/items", "--method", "POST"]),
        ["POST /items"]
    );
    // In the configuration file too.
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        "[replay]\nmethods = [\"POST\"]\n",
    )
    .unwrap();
    assert_eq!(replayed(&[]), ["POST /items"]);
    // A filter that chooses nothing cannot run.
    let output = fixture.replay("", &["--route", "/carts"]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains("--route / replay.routes /carts: no recorded request"),
        "{}",
        both(&output)
    );
}

#[test]
fn the_overview_has_one_line_per_command_and_each_help_the_details() {
    let output = tracetape().arg("--help").output().unwrap();
    let help = stdout(&output);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    let names: Vec<&str> = commands
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "init",
            "record",
            "list",
            "show",
            "view",
            "replay",
            "accept",
            "demo",
            "completions",
            "help"
        ]
    );
    // Each about fits on its line, without the details.
    for line in &commands {
        assert!(line.len() <= 80, "{line:?}");
        assert!(!line.contains("Exit status"), "{line:?}");
    }
    let output = tracetape().args(["replay", "--help"]).output().unwrap();
    let help = stdout(&output);
    assert!(
        help.starts_with("Replay the recordings against the service and report what changed.\n\n"),
        "{help}"
    );
    assert!(
        help.contains("Exit status: 0 when every recording passed"),
        "{help}"
    );
}

#[test]
fn completions_are_written_for_the_shell_named() {
    let output = tracetape().args(["completions", "bash"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let script = stdout(&output);
    assert!(script.contains("complete -F _tracetape"), "{script}");
    for word in ["replay", "--route", "--format", "completions"] {
        assert!(script.contains(word), "{word} in\n{script}");
    }
    let output = tracetape().args(["completions", "fish"]).output().unwrap();
    assert!(
        stdout(&output).contains("complete -c tracetape"),
        "{}",
        both(&output)
    );
    let output = tracetape().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
}

/// The `run:` line of the step named `name` in docs/ci/replay.yml.
fn workflow_step(name: &str) -> String {
    let workflow = include_str!("../../../docs/ci/replay.yml");
    let mut lines = workflow
        .lines()
        .skip_while(|line| line.trim() != format!("- name: {name}"));
    assert!(lines.next().is_some(), "no step {name:?} in\n{workflow}");
    lines
        .map(str::trim)
        .take_while(|line| !line.starts_with("- "))
        .find_map(|line| line.strip_prefix("run: "))
        .unwrap_or_else(|| panic!("step {name:?} runs nothing"))
        .to_owned()
}

/// The `path:` the step named `name` publishes.
fn published(name: &str) -> String {
    let workflow = include_str!("../../../docs/ci/replay.yml");
    workflow
        .lines()
        .skip_while(|line| line.trim() != format!("- name: {name}"))
        .skip(1)
        .map(str::trim)
        .take_while(|line| !line.starts_with("- "))
        .find_map(|line| line.strip_prefix("path: "))
        .unwrap_or_else(|| panic!("step {name:?} publishes nothing"))
        .to_owned()
}

#[test]
fn ci_recipe_replays_and_leaves_the_junit_report() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let port = replay_support::free_port();
    // What the repository holds: its tracetape.toml, its recordings.
    std::fs::write(
        fixture.dir.path().join("tracetape.toml"),
        format!(
            "[replay]\ncommand = \"PORT={port} '{}'\"\nport = {port}\nrecordings = \"recordings\"\n",
            target_exe().display()
        ),
    )
    .unwrap();
    let step = workflow_step("Replay the recordings");
    let report = fixture.dir.path().join(published("Publish the report"));
    // `tracetape` on the PATH, as the build step puts it there.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_tracetape"))
        .parent()
        .unwrap()
        .to_owned();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let run = |change: &str| {
        let mut shell = Command::new("sh");
        fixture
            .env(shell.args(["-c", &step]), change)
            .env("PATH", &path)
            .output()
            .unwrap()
    };

    let output = run("");
    assert_eq!(output.status.code(), Some(0), "{step}\n{}", both(&output));
    let suites = junit_parser::from_reader(std::fs::read(&report).unwrap().as_slice()).unwrap();
    assert_eq!((suites.tests, suites.failures, suites.errors), (2, 0, 0));

    // A change fails the step, and the report says where.
    let output = run("total");
    assert_eq!(output.status.code(), Some(1), "{step}\n{}", both(&output));
    let suites = junit_parser::from_reader(std::fs::read(&report).unwrap().as_slice()).unwrap();
    assert_eq!((suites.tests, suites.failures, suites.errors), (2, 2, 0));
}
