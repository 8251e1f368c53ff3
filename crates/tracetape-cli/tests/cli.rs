//! Runs the built `tracetape` binary against span stores written by the
//! library: `list --traces` and `show` of a trace that was not recorded
//! (`demo` has `tests/demo.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::{
    assert_fails_with_cause, provider, record_request, stderr, stdout, store_one_trace, tracetape,
};

#[test]
fn list_shows_traces_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("traces");
    let provider = provider(&store, "checkout");
    let older = record_request(&provider, "/users/{id}", true);
    let newer = record_request(&provider, "/health", false);
    provider.shutdown().unwrap();

    let output = tracetape(&["list", "--traces", "--store", store.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header: Vec<&str> = lines[0].split("  ").filter(|c| !c.is_empty()).collect();
    assert_eq!(
        header.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        [
            "TIME",
            "TRACE ID",
            "ROOT SPAN",
            "SERVICE",
            "SPANS",
            "DURATION"
        ]
    );

    let newest: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(newest[1], newer);
    assert_eq!(&newest[2..6], ["GET", "/health", "checkout", "4"]);
    assert_eq!(newest[7], "ms");
    assert!(!lines[1].contains("ERROR"));
    assert!(
        newest[0].ends_with('Z') && newest[0].len() == 20,
        "{}",
        newest[0]
    );

    let oldest: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(oldest[1], older);
    assert_eq!(&oldest[2..4], ["GET", "/users/{id}"]);
    assert_eq!(oldest.last(), Some(&"ERROR"));

    let limited = tracetape(&[
        "list",
        "--traces",
        "--store",
        store.to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert_eq!(stdout(&limited).lines().count(), 2);
    assert!(stderr(&limited).contains("showing the newest 1 of 2 traces"));

    // Without --traces, `list` lists recordings: a trace store makes no
    // sense there.
    let recordings = tracetape(&["list", "--store", store.to_str().unwrap()]);
    assert_eq!(recordings.status.code(), Some(2), "{}", stderr(&recordings));
    assert!(
        stderr(&recordings).contains("--traces"),
        "{}",
        stderr(&recordings)
    );
}

#[test]
fn show_prints_the_span_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("traces");
    let trace_id = store_one_trace(&store, "/users/{id}", true);

    // A prefix is enough.
    let output = tracetape(&["show", &trace_id[..8], "--store", store.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("trace {trace_id}  4 spans  ")),
        "{text}"
    );

    let tree: Vec<String> = lines[1..]
        .iter()
        .map(|line| {
            // Keep the drawing and the span name, drop the columns after it.
            let text = line
                .find(|c: char| c.is_alphanumeric() || c == '!')
                .unwrap();
            let cut = line[text..].find("  ").map_or(line.len(), |end| text + end);
            line[..cut].to_owned()
        })
        .collect();
    assert_eq!(
        tree,
        [
            "GET /users/{id}",
            "├─ SELECT users",
            "│  └─ decode rows",
            "└─ render",
            "      ! exception TemplateError: missing field",
        ],
        "{text}"
    );

    assert!(
        lines[1].starts_with("GET /users/{id}  server  "),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(
            "  [checkout]  ERROR: handler failed  http.request.method=GET http.route=/users/{id} \
             http.response.status_code=500 custom.note=\"hello world\""
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("├─ SELECT users  client  "),
        "{}",
        lines[2]
    );
    assert!(
        lines[2].ends_with(" ms  server.address=db.local"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("│  └─ decode rows  internal  "),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].ends_with(" ms  ERROR: missing field"),
        "{}",
        lines[4]
    );
}

#[test]
fn show_of_a_missing_id_fails_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("traces");
    store_one_trace(&store, "/", false);

    let missing = "00000000000000000000000000000000";
    let output = tracetape(&["show", missing, "--store", store.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!("error: no trace with id {missing} in ")),
        "{message}"
    );

    let output = tracetape(&["show", "not-hex", "--store", store.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("\"not-hex\" is not a trace id"));
}

#[test]
fn empty_store_suggests_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("never-written");
    let output = tracetape(&["list", "--traces", "--store", store.to_str().unwrap()]);
    assert!(output.status.success());
    assert!(
        stdout(&output).contains("run `tracetape demo` to record some"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn unreadable_files_are_skipped_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("traces");
    store_one_trace(&store, "/", false);
    fs::write(store.join("broken.json"), b"{\"resourceSpans\": [").unwrap();

    let output = tracetape(&["list", "--traces", "--store", store.to_str().unwrap()]);
    assert!(output.status.success());
    assert_eq!(stdout(&output).lines().count(), 2);
    assert!(stderr(&output).contains("note: skipped 1 unreadable file(s)"));
}

#[test]
fn a_store_that_cannot_be_read_reports_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    fs::write(&file, b"").unwrap();
    let output = tracetape(&["list", "--traces", "--store", file.to_str().unwrap()]);
    assert_fails_with_cause(
        &output,
        &format!("failed to read trace store {}", file.display()),
    );
}
