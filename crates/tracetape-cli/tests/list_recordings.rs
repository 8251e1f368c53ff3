//! `tracetape list` against recording files built from `Recording` values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::{
    MS, T0, arg, assert_fails_with_cause, exchange, recording, stderr, stdout, tracetape,
    write_recording,
};
use tracetape::record::ExchangeKind::{Client, Server};
use tracetape::record::Recording;

const TRACE_A: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const TRACE_B: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;

/// checkout answering `POST /checkout` (route known) with two calls.
fn checkout(trace: u128, start: u64) -> Recording {
    let mut inbound = exchange(
        Server,
        (0x10, 0x01),
        "POST",
        "/checkout?dry=1",
        start,
        Some(200),
    );
    inbound.route = Some("/checkout".to_owned());
    recording(
        trace,
        "checkout",
        vec![
            inbound,
            exchange(
                Client,
                (0x20, 0x10),
                "GET",
                "http://inventory/stock/tea",
                start + MS,
                Some(200),
            ),
            exchange(
                Client,
                (0x30, 0x10),
                "POST",
                "http://pricing/quote",
                start + 2 * MS,
                Some(200),
            ),
        ],
    )
}

#[test]
fn list_shows_one_row_per_recording_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    write_recording(&dir, 1, &checkout(TRACE_A, T0));
    // Same trace, another service; no route, so the path without its query.
    write_recording(
        &dir,
        2,
        &recording(
            TRACE_A,
            "inventory",
            vec![exchange(
                Server,
                (0x40, 0x20),
                "GET",
                "/stock/tea?warehouse=2",
                T0 + 1_000 * MS,
                Some(404),
            )],
        ),
    );
    // The newest file: a request that failed before any response.
    let mut failed = exchange(
        Server,
        (0x50, 0),
        "GET",
        "/orders/7",
        T0 + 61_000 * MS,
        None,
    );
    failed.route = Some("/orders/{id}".to_owned());
    failed.error = Some("handler panicked".to_owned());
    let call = exchange(
        Client,
        (0x60, 0x50),
        "GET",
        "http://db/orders/7",
        T0 + 61_001 * MS,
        Some(200),
    );
    write_recording(&dir, 3, &recording(TRACE_B, "checkout", vec![failed, call]));

    let output = tracetape(&["list", "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert_eq!(
        stdout(&output),
        "TIME                  SERVICE    REQUEST           STATUS  CALLS  TRACE\n\
         2023-11-14T22:14:21Z  checkout   GET /orders/{id}       -      1  0af7651916cd43dd8448eb211c80319c\n\
         2023-11-14T22:13:21Z  inventory  GET /stock/tea       404      0  4bf92f3577b34da6a3ce929d0e0e4736\n\
         2023-11-14T22:13:20Z  checkout   POST /checkout       200      2  4bf92f3577b34da6a3ce929d0e0e4736\n"
    );
}

#[test]
fn limit_keeps_the_newest_recordings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    for seq in 1..=3 {
        write_recording(&dir, seq, &checkout(u128::from(seq), T0 + seq * 1_000 * MS));
    }
    let rows = |limit: &str| {
        let output = tracetape(&["list", "--recordings", arg(&dir), "--limit", limit]);
        assert!(output.status.success(), "{}", stderr(&output));
        let traces: Vec<String> = stdout(&output)
            .lines()
            .skip(1)
            .map(|line| line.rsplit(' ').next().unwrap().to_owned())
            .collect();
        (traces, stderr(&output))
    };
    let id = |n: u128| format!("{n:032x}");

    let (two, note) = rows("2");
    assert_eq!(two, [id(3), id(2)]);
    assert_eq!(
        note,
        "note: showing the newest 2 of 3 recordings; use --limit to see more\n"
    );
    let (all, note) = rows("0");
    assert_eq!(all, [id(3), id(2), id(1)]);
    assert_eq!(note, "");

    // Files past the limit are counted, never read: a corrupt oldest one
    // is not noted while it is not shown.
    let oldest = write_recording(&dir, 0, &checkout(9, T0));
    fs::write(&oldest, b"{ not a recording").unwrap();
    let (two, note) = rows("2");
    assert_eq!(two, [id(3), id(2)]);
    assert_eq!(
        note,
        "note: showing the newest 2 of 4 recordings; use --limit to see more\n"
    );
    let (_, note) = rows("0");
    assert!(note.starts_with("note: skipped "), "{note}");
}

#[test]
fn a_background_recording_names_its_first_call() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let background = recording(
        TRACE_A,
        "checkout",
        vec![
            exchange(
                Client,
                (0x20, 0),
                "GET",
                "https://REDACTED:REDACTED@config:8443/settings?v=2",
                T0,
                Some(503),
            ),
            exchange(
                Client,
                (0x21, 0),
                "GET",
                "http://config/other",
                T0 + MS,
                Some(200),
            ),
        ],
    );
    assert!(background.background);
    write_recording(&dir, 1, &background);

    let output = tracetape(&["list", "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let row: Vec<&str> = text
        .lines()
        .nth(1)
        .unwrap()
        .split("  ")
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        row.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        [
            "2023-11-14T22:13:20Z",
            "checkout",
            "(background) GET config:8443/settings",
            "503",
            "2",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ],
        "{text}"
    );
}

#[test]
fn a_corrupt_file_is_noted_and_the_others_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    write_recording(&dir, 1, &checkout(1, T0));
    let cut = write_recording(&dir, 2, &checkout(2, T0));
    let json = fs::read(&cut).unwrap();
    fs::write(&cut, &json[..json.len() / 2]).unwrap();
    write_recording(&dir, 3, &checkout(3, T0));

    let output = tracetape(&["list", "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1 + 2, "{text}");
    assert!(text.contains(&format!("{:032x}", 3)) && text.contains(&format!("{:032x}", 1)));
    assert!(!text.contains(&format!("{:032x}", 2)), "{text}");
    let notes = stderr(&output);
    assert_eq!(notes.lines().count(), 1, "{notes}");
    assert!(
        notes.starts_with(&format!(
            "note: skipped {}: not an OTLP/JSON TracesData document: EOF while parsing",
            cut.display()
        )),
        "{notes}"
    );

    // With nothing readable left, listing fails.
    for seq in [1, 3] {
        let path = dir.join(format!("{:020}-4242-{seq:06}-{:032x}.json", T0 + seq, seq));
        fs::remove_file(path).unwrap();
    }
    let output = tracetape(&["list", "--recordings", arg(&dir)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).ends_with(&format!(
            "error: none of the 1 recording file(s) in {} could be read\n",
            dir.display()
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_empty_or_missing_directory_says_how_to_record() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("never-written");
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    // A write in progress is not a recording.
    fs::write(empty.join(".1-4242-000001.json.tmp"), b"{").unwrap();
    for dir in [missing, empty] {
        let output = tracetape(&["list", "--recordings", arg(&dir)]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{}", stdout(&output));
        assert_eq!(
            stderr(&output),
            format!(
                "no recordings in {}; run your service with TRACETAPE_MODE=record to record its \
                 requests there (`tracetape list --traces` lists the traces)\n",
                dir.display()
            )
        );
    }
}

#[test]
fn a_directory_that_cannot_be_listed_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    fs::write(&file, b"").unwrap();
    let output = tracetape(&["list", "--recordings", arg(&file)]);
    assert_fails_with_cause(
        &output,
        &format!("failed to list recordings in {}", file.display()),
    );
}

/// A segment as the recorder writes it: its header, then one recording per
/// line; `torn` adds a last line cut short, as a crash leaves it.
fn write_segment(dir: &std::path::Path, seq: u64, recordings: &[Recording], torn: bool) {
    fs::create_dir_all(dir).unwrap();
    let mut text = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"tracetape.segment.version","value":{"stringValue":"1.0"}}]},"scopeSpans":[]}]}"#.to_vec();
    text.push(b'\n');
    for recording in recordings {
        text.extend(recording.to_otlp_json().unwrap());
    }
    if torn {
        let next = checkout(TRACE_B, T0 + 9 * MS).to_otlp_json().unwrap();
        text.extend(&next[..next.len() / 2]);
    }
    fs::write(
        dir.join(format!("{:020}-4242-{seq:06}.jsonl", T0 + seq)),
        text,
    )
    .unwrap();
}

/// Recordings in a segment (its torn tail skipped) and in a file of the
/// earlier one-file-per-recording layout, listed and shown together.
#[test]
fn list_and_show_read_segments_and_the_earlier_layout_together() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let old = write_recording(&dir, 1, &checkout(TRACE_A, T0));
    write_segment(
        &dir,
        2,
        &[checkout(3, T0 + MS), checkout(TRACE_B, T0 + 2 * MS)],
        true,
    );

    let output = tracetape(&["list", "--recordings", arg(&dir), "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list["total"], 3);
    let found: Vec<(String, String, u64)> = list["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let file = r["file"].as_str().unwrap();
            let name = std::path::Path::new(file).file_name().unwrap();
            (
                r["trace_id"].as_str().unwrap().to_owned(),
                name.to_str().unwrap().to_owned(),
                r["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let segment = format!("{:020}-4242-{:06}.jsonl", T0 + 2, 2);
    assert_eq!(
        found,
        [
            (format!("{TRACE_B:032x}"), segment.clone(), 3),
            (format!("{:032x}", 3), segment, 2),
            (
                format!("{TRACE_A:032x}"),
                old.file_name().unwrap().to_str().unwrap().to_owned(),
                1
            ),
        ]
    );
    // --limit reads the newest and counts the rest.
    let output = tracetape(&["list", "--recordings", arg(&dir), "--limit", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("showing the newest 1 of 3 recordings"),
        "{}",
        stderr(&output)
    );

    // A recording in a segment is shown with its line.
    let output = tracetape(&[
        "show",
        &format!("{TRACE_B:032x}"),
        "--recordings",
        arg(&dir),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!("{:020}-4242-{:06}.jsonl:3", T0 + 2, 2)),
        "{}",
        stdout(&output)
    );
}
