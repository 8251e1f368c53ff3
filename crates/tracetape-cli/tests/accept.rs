//! `tracetape accept` and `tracetape replay --accept` end to end: the
//! `replay_target` example recorded, replayed with a change made on
//! purpose, the change accepted, and replayed again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use replay_support::{Fixture, both, stderr, stdout};
use serde_json::Value;

/// Every file of recordings (segments, and files of the earlier layout),
/// by name, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|e| e == "json" || e == "jsonl")
        })
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// The lines of a file, each with its newline.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// The recording of order `order` in the JSON report of a replay with
/// `change`: its id, its file and its line there.
fn recording_of(fixture: &Fixture, change: &str, order: &str) -> (String, PathBuf, usize) {
    let output = fixture.replay(change, &["--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let recordings = report["recordings"].as_array().unwrap();
    let index = fixture.orders.iter().position(|id| id == order).unwrap();
    // Replayed in recorded order, which is the order of the orders.
    let found = &recordings[index];
    (
        found["id"].as_str().unwrap().to_owned(),
        PathBuf::from(found["file"].as_str().unwrap()),
        usize::try_from(found["line"].as_u64().unwrap()).unwrap(),
    )
}

#[test]
fn accepting_one_recording_makes_the_next_replay_pass_and_keeps_its_original() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    let before = files(&fixture.recordings());
    let (id, file, line) = recording_of(&fixture, "total-on=o-1", "o-1");
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.ends_with(".jsonl"), "recorded into a segment: {name}");

    let output = fixture.run("accept", "total-on=o-1", &[&id]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let notes = stderr(&output);
    assert!(
        notes.contains(&format!(
            "accepted: POST /orders ({}:{line})",
            file.display()
        )),
        "{notes}"
    );
    assert!(
        notes.contains("1 recording(s) accepted, 0 already passed, 0 not accepted"),
        "{notes}"
    );

    // The segment was written again with that one line replaced, every
    // other line (the header, the other order) byte for byte as it was.
    let after = files(&fixture.recordings());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    let (old_lines, new_lines) = (lines(&before[&name]), lines(&after[&name]));
    assert_eq!(old_lines.len(), new_lines.len());
    for (number, (old, new)) in (1..).zip(old_lines.iter().zip(&new_lines)) {
        if number == line {
            assert_ne!(old, new, "the accepted recording was rewritten");
        } else {
            assert_eq!(old, new, "line {number} was touched");
        }
    }
    for (other, bytes) in &before {
        if *other != name {
            assert_eq!(&after[other], bytes, "{other} was touched");
        }
    }
    // The original, kept where the store does not read it.
    let kept = fixture.recordings().join(".accepted").join(&name);
    assert_eq!(std::fs::read(&kept).unwrap(), before[&name]);
    let listed = fixture.run("replay", "total-on=o-1", &["--format", "json"]);
    let report: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(report["totals"]["recordings"], 2, "{}", both(&listed));

    // The changed build now passes.
    assert_eq!(report["totals"]["passed"], 2, "{}", both(&listed));
    assert_eq!(listed.status.code(), Some(0));
    // And the build as it was deviates on that order alone.
    let output = fixture.replay("", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(
        stdout(&output).contains("body $.total_cents: expected 501, actual 500"),
        "{}",
        both(&output)
    );
}

#[test]
fn a_recording_with_a_missing_mock_cannot_be_accepted() {
    let fixture = Fixture::record(&["o-1"]);
    let before = files(&fixture.recordings());
    let output = fixture.run("accept", "new-call,total", &["--all"]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let notes = stderr(&output);
    assert!(
        notes.contains(
            "not accepted: POST /orders (") && notes.contains(
            "): a call had no recorded call to answer it, so the recording has no answer to give \
             the new build; record this request again; left as it was"
        ),
        "{notes}"
    );
    assert!(notes.contains("0 recording(s) accepted, 0 already passed, 1 not accepted"));
    assert_eq!(files(&fixture.recordings()), before);
    assert!(!fixture.recordings().join(".accepted").exists());
}

#[test]
fn a_route_or_all_accepts_every_recording_it_names() {
    let fixture = Fixture::record(&["o-1", "o-2"]);
    // `replay --accept` with a route: both orders.
    let before = files(&fixture.recordings());
    let output = fixture.run("replay", "total", &["--accept", "POST /orders"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stderr(&output).contains("2 recording(s) accepted"),
        "{}",
        both(&output)
    );
    // Both live in one segment: it is kept once, as it was before the
    // accept changed either.
    let [(name, original)] = before.into_iter().collect::<Vec<_>>().try_into().unwrap();
    let kept = fixture.recordings().join(".accepted").join(&name);
    assert_eq!(std::fs::read(&kept).unwrap(), original);
    assert_ne!(
        std::fs::read(fixture.recordings().join(&name)).unwrap(),
        original
    );
    let output = fixture.replay("total", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));

    // A call no longer made: accepted with --all, its recorded call goes.
    let output = fixture.replay("total,drop-call", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let output = fixture.run("accept", "total,drop-call", &["--all"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert_eq!(
        stderr(&output)
            .matches("; 1 unused call(s) removed")
            .count(),
        2,
        "{}",
        both(&output)
    );
    let output = fixture.replay("total,drop-call", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));

    // A selector that names nothing is an error before anything runs.
    let output = fixture.run("accept", "total", &["GET /nothing"]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(
        stderr(&output).contains("GET /nothing: no recording to replay is named so"),
        "{}",
        both(&output)
    );
}

#[test]
fn a_call_sent_with_a_new_body_is_accepted_with_it() {
    let fixture = Fixture::record(&["o-1"]);
    // The price is asked for one more than ordered: a deviation of the call.
    let output = fixture.replay("price-qty", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let output = fixture.run("accept", "price-qty", &["--all"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(
        stderr(&output).contains("; 1 call(s) now expected as the new build makes them"),
        "{}",
        both(&output)
    );
    let output = fixture.replay("price-qty", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    // The build as it was now sends another body than the recording has.
    let output = fixture.replay("", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
}
