//! The CI recipe (`docs/ci/replay.sh`, run by the workflow
//! `docs/ci/replay.yml`): the same script the workflow runs, run here
//! against recordings of the `replay_target` example, passes an unchanged
//! build and fails a changed one, writing the JUnit report the workflow
//! publishes.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use replay_support::{Fixture, both, free_port, target_exe};

/// The recipe's files, in the repository.
fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/ci")
        .join(name)
}

/// Runs the recipe's script for `fixture`'s recordings with the build
/// `change`; its output and the JUnit report it wrote.
fn replay(fixture: &Fixture, change: &str) -> (Output, junit_parser::TestSuites) {
    let port = free_port().to_string();
    let mut command = Command::new("bash");
    command.arg(recipe("replay.sh"));
    fixture
        .env(&mut command, change)
        .env("PORT", &port)
        .env("SERVICE_PORT", &port)
        .env("SERVICE_COMMAND", format!("'{}'", target_exe().display()))
        .env("RECORDINGS", fixture.recordings())
        .env("TRACETAPE", env!("CARGO_BIN_EXE_tracetape"))
        .env_remove("REPORT");
    let output = command.output().unwrap();
    // The script's default report path, under the directory it ran in.
    let report = fixture.dir.path().join("target/tracetape/junit.xml");
    let xml = std::fs::read(&report)
        .unwrap_or_else(|err| panic!("no report at {}: {err}\n{}", report.display(), both(&output)));
    (output, junit_parser::from_reader(xml.as_slice()).unwrap())
}

#[test]
fn the_ci_script_passes_an_unchanged_build_and_fails_a_changed_one() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let (output, suites) = replay(&fixture, "");
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!((suites.tests, suites.failures, suites.errors), (2, 0, 0));

    let (output, suites) = replay(&fixture, "total-on=o-2");
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert_eq!((suites.tests, suites.failures, suites.errors), (2, 1, 0));
}

#[test]
fn the_workflow_runs_the_script_and_publishes_the_report_it_writes() {
    let workflow = std::fs::read_to_string(recipe("replay.yml")).unwrap();
    let script = std::fs::read_to_string(recipe("replay.sh")).unwrap();
    assert!(workflow.contains("run: ci/replay.sh"), "{workflow}");
    assert!(
        script.contains(r#"REPORT="${REPORT:-target/tracetape/junit.xml}""#),
        "{script}"
    );
    assert!(workflow.contains("REPORT: target/tracetape/junit.xml"));
    assert!(workflow.contains("report_paths: target/tracetape/junit.xml"));
    // What the script needs, the workflow sets.
    for var in ["SERVICE_COMMAND", "SERVICE_PORT"] {
        assert!(script.contains(&format!("${{{var}:?")), "{var}");
        assert!(workflow.contains(&format!("{var}: ")), "{var}");
    }
}
