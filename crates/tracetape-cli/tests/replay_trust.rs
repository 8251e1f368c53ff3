//! A verdict is about the build under test, or it is not given: `tracetape
//! replay` killed with SIGKILL leaves no service behind, refuses a port
//! something already answers on, refuses a configuration or recordings
//! the service could not replay from, and a service whose replay mode
//! could not start refuses its outbound calls rather than sending them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use replay_support::{Fixture, Notices, both, free_port, listening_url, running, stderr, stop};
use serde_json::Value;

/// How long a process may take to go once it has been told to.
const GONE_WITHIN: Duration = Duration::from_secs(30);

/// Waits, at most [`GONE_WITHIN`], until `pid` no longer runs; whether it
/// went.
fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + GONE_WITHIN;
    while running(pid) {
        if Instant::now() > deadline {
            return false;
        }
        // Another process's end: /proc is all there is to watch.
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A process the test started, killed if the test fails before it
/// stops it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The pid the example told at start-up.
fn service_pid(notices: &Notices) -> u32 {
    let line = notices.next();
    line.strip_prefix("started ")
        .and_then(|pids| pids.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

/// Regression: a replay killed with SIGKILL (a CI timeout) left its
/// service running, and the next replay of a changed build was answered by
/// the old process and passed.
#[test]
fn a_replay_killed_leaves_no_service_and_a_port_that_answers_is_refused() {
    let fixture = Fixture::record(&["o-1"]);
    let notices = Notices::listen();
    let port = free_port();
    let mut replay = fixture
        .replay_command(port, "hang-on=o-1", &["--allow-unpatched"])
        .env("REPLAY_TARGET_NOTIFY", notices.addr())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let service = service_pid(&notices);
    // Ready, and in the middle of the run.
    assert_eq!(notices.next(), "hang o-1");
    replay.kill().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&replay.wait().unwrap()),
        Some(9)
    );
    if !gone(service) {
        replay_support::signal(service, "KILL");
        panic!("the service {service} outlived the replay");
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    // Something else answering there: the changed build is not replayed
    // against it.
    let stale = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let output = fixture.replay_command(port, "total", &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "error: http://127.0.0.1:{port}/ already answers before the service is started: pid {} (",
            std::process::id()
        )),
        "{message}"
    );
    assert!(message.contains("--no-start"), "{message}");
    drop(stale);
}

/// Regression: when the process started exited while another kept
/// answering on the service's port (here the service itself, moved out of
/// the process group as a daemon's double fork does), the replay went on
/// and judged that other process.
#[test]
fn a_service_that_exits_while_its_port_still_answers_stops_the_run() {
    let fixture = Fixture::record(&["o-1"]);
    let notices = Notices::listen();
    let port = free_port();
    let leave = fixture.dir.path().join("leave");
    assert!(
        Command::new("mkfifo")
            .arg(&leave)
            .status()
            .unwrap()
            .success()
    );
    // The group's leader waits until told, then exits; the service runs on
    // in a session of its own.
    let command = format!(
        "setsid '{}' & read go < '{}'",
        replay_support::target_exe().display(),
        leave.display()
    );
    let replay = fixture
        .replay_shell(&command, port, "hang-on=o-1", &["--allow-unpatched"])
        .env("REPLAY_TARGET_NOTIFY", notices.addr())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let service = service_pid(&notices);
    assert_eq!(notices.next(), "hang o-1");
    std::fs::write(&leave, "go\n").unwrap();
    let output = replay.wait_with_output().unwrap();
    // Outside the group: not the replay's to stop (nor its watchdog's).
    replay_support::signal(service, "KILL");
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "the service exited (exit status: 0) while something else keeps answering at \
             http://127.0.0.1:{port}/: pid {service} (replay_target)"
        )),
        "{message}"
    );
}

/// Regression: a `[record]` key the library refuses made the service run
/// with record and replay off, so its calls went to the network, while
/// `tracetape replay` read only `[replay]`.
#[test]
fn a_configuration_the_service_would_refuse_stops_the_replay_and_nothing_goes_out() {
    let fixture = Fixture::record(&["o-1"]);
    let recorded = fixture.dependency.hits();
    for file in [
        "[record]\nsample_rat = 1\n",
        "[recrod]\nmode = \"replay\"\n",
    ] {
        std::fs::write(fixture.dir.path().join("tracetape.toml"), file).unwrap();
        let output = fixture.replay("", &[]);
        assert_eq!(output.status.code(), Some(2), "{}", both(&output));
        let message = stderr(&output);
        assert!(
            message.contains("tracetape.toml: ")
                && message.contains("the service would not run in replay mode with this file"),
            "{message}"
        );
        assert!(output.stdout.is_empty(), "{}", both(&output));
    }
    assert_eq!(
        fixture.dependency.hits(),
        recorded,
        "a call reached the dependency"
    );
}

/// Regression: a service started in replay mode with a configuration it
/// refuses sent its outbound calls to the network.
#[test]
fn a_service_whose_replay_mode_cannot_start_refuses_its_calls() {
    let fixture = Fixture::record(&["o-1"]);
    let recorded = fixture.dependency.hits();
    let config = fixture.dir.path().join("broken.toml");
    std::fs::write(&config, "[record]\nsample_rat = 1\n").unwrap();
    let mut target = KillOnDrop(
        fixture
            .env(&mut Command::new(replay_support::target_exe()), "")
            .env("TRACETAPE_MODE", "replay")
            .env("TRACETAPE_RECORD_DIR", fixture.recordings())
            .env("TRACETAPE_CONFIG", &config)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let url = listening_url(&mut target.0);
    let response = fixture
        .runtime
        .block_on(
            reqwest::Client::new()
                .post(format!("{url}/orders"))
                .json(&serde_json::json!({"id": "o-9", "sku": "tea", "qty": 2}))
                .send(),
        )
        .unwrap();
    let status = response.status();
    let body = fixture.runtime.block_on(response.text()).unwrap();
    assert_ne!(status, 200, "{body}");
    assert_eq!(
        fixture.dependency.hits(),
        recorded,
        "a call reached the dependency"
    );
    stop(&mut target.0);
    let mut said = String::new();
    std::io::Read::read_to_string(&mut target.0.stderr.take().unwrap(), &mut said).unwrap();
    assert!(said.contains("sample_rat"), "{said}");
}

#[test]
fn an_unreadable_recording_stops_the_run_or_is_listed_when_skipped() {
    let fixture = Fixture::record(&["o-1"]);
    let cut = fixture.recordings().join("99999999999999999999-cut.json");
    std::fs::write(&cut, "{\"resourceSpans\": [").unwrap();
    let output = fixture.replay("", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains("1 recording file cannot be read")
            && stderr(&output).contains("99999999999999999999-cut.json"),
        "{}",
        both(&output)
    );

    let output = fixture.replay("", &["--skip-unreadable", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    replay_support::schema::check_report(&report);
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["unreadable"], true);
    assert!(skipped[0]["file"].as_str().unwrap().ends_with("-cut.json"));

    let output = fixture.replay("", &["--skip-unreadable", "--format", "junit"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let junit = String::from_utf8(output.stdout).unwrap();
    assert!(junit.contains(r#"skipped="1""#), "{junit}");
    assert!(
        junit.contains("-cut.json\" time=\"0.000\">\n      <skipped message=\"cannot be read: "),
        "{junit}"
    );

    let output = fixture.replay("", &["--skip-unreadable"]);
    assert!(
        replay_support::stdout(&output).contains("-cut.json: cannot be read: "),
        "{}",
        both(&output)
    );
}

#[test]
fn two_recordings_with_the_same_id_are_an_error_naming_both() {
    let fixture = Fixture::record(&["o-1"]);
    let original = tracetape::record::RecordingStore::new(fixture.recordings())
        .load()
        .unwrap()
        .recordings
        .into_iter()
        .find(|stored| !stored.recording.background)
        .unwrap()
        .path;
    let copy = fixture.recordings().join("00000000000000000000-copy.json");
    std::fs::copy(&original, &copy).unwrap();
    let output = fixture.replay("", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&original.display().to_string())
            && message.contains(&copy.display().to_string())
            && message.contains("have the same id"),
        "{message}"
    );
}
