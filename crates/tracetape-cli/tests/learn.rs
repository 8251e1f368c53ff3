//! `tracetape replay --learn` end to end: the `replay_target` example
//! recorded answering with values drawn at random per process, replayed
//! twice, and the ignore rules it proposes written to tracetape.toml.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use replay_support::{Fixture, both, stderr, stdout};

#[test]
fn learn_proposes_what_differs_between_runs_and_write_makes_the_replay_pass() {
    let fixture = Fixture::record_with(&["o-1", "o-2"], &[("REPLAY_TARGET_CHANGE", "noise")]);
    // The random words deviate on every replay.
    let output = fixture.replay("noise", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));

    // The total deviates from the recording too, alike in both runs: a
    // real deviation, never proposed.
    let output = fixture.replay("noise,total", &["--learn"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with(
            "2 recording(s) of orders replayed twice: 2 value path(s) differ between the runs\n"
        ),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|line| line.starts_with("$.")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].starts_with("$.parts[*].tag           2  \"w-"),
        "{text}"
    );
    assert!(
        rows[1].starts_with("$.session                2  \"w-"),
        "{text}"
    );
    assert!(!text.contains("total_cents"), "{text}");
    assert!(!text.contains("created_epoch"), "{text}");
    assert!(text.contains("run again with --write"), "{text}");
    assert!(stderr(&output).contains("note: run 2 of 2: 0 passed, 2 deviated"));

    // --write adds them, keeping what the file had.
    let config = fixture.dir.path().join("tracetape.toml");
    std::fs::write(
        &config,
        "# how we replay\n[replay]\nconcurrency = 1 # in order\n",
    )
    .unwrap();
    let output = fixture.replay("noise", &["--learn", "--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stdout(&output).contains(&format!(
            "2 ignore rule(s) added to `ignore` under [replay.compare] of {}",
            config.display()
        )),
        "{}",
        both(&output)
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "# how we replay\n[replay]\nconcurrency = 1 # in order\n\n[replay.compare]\nignore = [\n    \
         \"$.parts[*].tag\",\n    \"$.session\",\n]\n"
    );
    let output = fixture.replay("noise", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
}

#[test]
fn learn_on_a_build_without_noise_proposes_nothing() {
    let fixture = Fixture::record(&["o-1"]);
    let output = fixture.replay("", &["--learn", "--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(
        stdout(&output),
        "1 recording(s) of orders replayed twice: 0 value path(s) differ between the runs\n"
    );
    assert!(!fixture.dir.path().join("tracetape.toml").exists());
}
