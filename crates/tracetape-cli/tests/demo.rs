//! Runs `tracetape demo` and checks the story it tells: the three
//! services recorded (their traces, one as a tree, and their recordings),
//! checkout replayed alone and passing, then replayed with a discount and
//! deviating at `$.total_cents`; everything written under the demo's
//! directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{arg, stderr, stdout, tracetape, tracetape_in};

/// The part of `text` from the line that starts with `from` to the line
/// before the one that starts with `to` (to the end without `to`).
fn section<'a>(text: &'a str, from: &str, to: Option<&str>) -> &'a str {
    let start = text
        .find(&format!("\n{from}"))
        .unwrap_or_else(|| panic!("no {from:?} in\n{text}"));
    let rest = &text[start + 1..];
    match to {
        Some(to) => {
            let end = rest
                .find(&format!("\n{to}"))
                .unwrap_or_else(|| panic!("no {to:?} after {from:?} in\n{text}"));
            &rest[..end + 1]
        }
        None => rest,
    }
}

/// The port of `http://127.0.0.1:PORT` in the line `Serving {service} on
/// ...` of `text`.
fn served_port(text: &str, service: &str) -> u16 {
    let prefix = format!("Serving {service:<9} on http://127.0.0.1:");
    let line = text
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{service} is not served in\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

/// The total, in cents, the order `id` got, from its line in `text`:
/// `  POST /checkout demo-1  -> 200  total 47.00  ...`.
fn total_cents(text: &str, id: &str) -> u64 {
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("  POST /checkout {id}  -> 200 ")))
        .unwrap_or_else(|| panic!("no total for {id} in\n{text}"));
    let total = line.split_whitespace().nth(6).unwrap();
    total.replace('.', "").parse().unwrap()
}

/// The rows of the table that follows the line starting with `title`
/// (after one blank line), up to the next blank line, header included.
fn table_after<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    section(text, title, None)
        .lines()
        .skip(2)
        .take_while(|line| !line.is_empty())
        .collect()
}

#[test]
fn demo_records_three_services_then_replays_checkout_without_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("cwd");
    fs::create_dir(&cwd).unwrap();
    let dir = tmp.path().join("demo");
    let store = tmp.path().join("traces");
    let output = tracetape_in(&cwd, &["demo", "--dir", arg(&dir), "--store", arg(&store)]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}\n{out}", stderr(&output));
    assert_eq!(stderr(&output), "", "{out}");
    // Everything it wrote is in its directory and its store.
    assert_eq!(fs::read_dir(&cwd).unwrap().count(), 0);
    assert!(
        out.starts_with(&format!(
            "tracetape demo: three services recorded, then one of them replayed without the \
             other two.\nEverything it writes is in {}\n",
            dir.display()
        )),
        "{out}"
    );
    assert!(dir.join("tracetape.toml").is_file());

    // With PostgreSQL installed (as `.ci/run` installs it), checkout keeps
    // its orders in a server the demo starts: one query per order with a
    // total, in its trace and its recording, answered in the replays.
    let database = out.contains("Checkout keeps its orders in PostgreSQL: a server started");
    assert!(
        database || out.contains("PostgreSQL is not installed"),
        "the demo says whether it has a database: {out}"
    );
    let record = section(&out, "1. Record", Some("2. Replay"));
    let replay = section(&out, "2. Replay", Some("3. Replay a changed checkout"));
    let changed = section(&out, "3. Replay a changed checkout", Some("What next"));
    let next = section(&out, "What next", None);
    assert_recorded(record, &dir, &store, database);
    let inventory = served_port(record, "inventory");
    let pricing = served_port(record, "pricing");
    let upstreams = format!(
        "Serving checkout in replay mode; it calls inventory at http://127.0.0.1:{inventory}/ \
         and pricing at http://127.0.0.1:{pricing}/, as when recorded"
    );

    // Checkout alone, unchanged: every recording passes.
    assert!(replay.contains(&upstreams), "{replay}");
    assert!(
        replay.contains("$ tracetape replay --no-start --url http://127.0.0.1:"),
        "{replay}"
    );
    assert!(
        replay.contains("3 of 3 recordings of checkout replayed against http://127.0.0.1:")
            && replay.contains(": 3 passed, 0 deviated, 0 mock missing, 0 errored\n"),
        "{replay}"
    );
    // Two stock checks, two quotes and two reservation attempts for the
    // first order, one less of the first two for the second, a stock check
    // and a quote for the refused one.
    let exact = if database { 14 } else { 12 };
    assert!(
        replay.contains(&format!(
            "outbound calls answered from the recordings: 0 dynamic, {exact} exact, 0 redacted, \
             0 similar\n"
        )),
        "{replay}"
    );
    assert!(!replay.contains("deviated  "), "{replay}");
    assert!(
        replay.contains("\nAll 3 passed: ") && replay.contains("no connection reached their ports"),
        "{replay}"
    );

    // Checkout with a discount: the two orders with a total deviate there.
    assert!(changed.contains(&upstreams), "{changed}");
    assert!(
        changed.contains(": 1 passed, 2 deviated, 0 mock missing, 0 errored\n"),
        "{changed}"
    );
    let lines: Vec<&str> = changed.lines().collect();
    let deviations: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("  body "))
        .collect();
    assert_eq!(deviations.len(), 2, "{changed}");
    let mut expected: Vec<u64> = Vec::new();
    for i in deviations {
        let (before, after) = lines[i]
            .strip_prefix("  body $.total_cents: expected ")
            .and_then(|rest| rest.split_once(", actual "))
            .unwrap_or_else(|| panic!("not at $.total_cents: {}", lines[i]));
        let (before, after): (u64, u64) = (before.parse().unwrap(), after.parse().unwrap());
        assert_eq!(after, before - before / 10, "{changed}");
        assert_eq!(lines[i + 1], format!("    expected: {before}"));
        assert_eq!(lines[i + 2], format!("    actual:   {after}"));
        // With the database, the order's INSERT deviates first (at its
        // total), and the suggestion says to look at it.
        let suggestion = if database {
            "a call of this request was answered by a recorded call that is not the same call"
        } else {
            "record this request again"
        };
        assert!(
            lines[i + 3].starts_with("    suggestion: ") && lines[i + 3].contains(suggestion),
            "{changed}"
        );
        if database {
            assert_eq!(
                lines[i - 1],
                format!("    body $.parameters[1]: expected {before}, actual {after}"),
                "{changed}"
            );
        }
        expected.push(before);
    }
    expected.sort_unstable();
    let mut recorded = vec![total_cents(record, "demo-1"), total_cents(record, "demo-2")];
    recorded.sort_unstable();
    assert_eq!(expected, recorded, "{changed}");
    assert!(
        changed.contains(
            "\n2 of 3 deviated at $.total_cents: this deviation is expected: the demo changed \
             checkout's discount."
        ),
        "{changed}"
    );

    for step in [
        "  TRACETAPE_MODE=record <start it> ",
        "  tracetape list ",
        "  tracetape show <id> ",
        "  tracetape replay --command '<start it>' --port <port> ",
    ] {
        assert!(next.contains(step), "{step:?} in {next}");
    }
}

/// The record half: the services, the orders, their traces in `store`
/// (the list, and one as a tree across the three services) and their
/// recordings in `dir`.
fn assert_recorded(record: &str, dir: &Path, store: &Path, database: bool) {
    for service in ["checkout", "inventory", "pricing"] {
        served_port(record, service);
    }
    assert!(record.contains("POST /checkout demo-1  -> 200"), "{record}");
    assert!(record.contains("POST /checkout demo-2  -> 200"), "{record}");
    assert!(record.contains("POST /checkout demo-3  -> 409"), "{record}");

    // Three orders, three traces, each rooted in checkout, in --store;
    // with the database, one more: checkout's start-up, making its table.
    let listed = tracetape(&["list", "--traces", "--store", arg(store)]);
    let traces = stdout(&listed);
    assert_eq!(
        traces.lines().count(),
        1 + 3 + usize::from(database),
        "{traces}"
    );
    let orders = traces
        .lines()
        .skip(1)
        .filter(|l| l.contains("POST /checkout  checkout"));
    assert_eq!(orders.count(), 3, "{traces}");
    if database {
        assert!(
            traces.contains("  CREATE          checkout      1 "),
            "{traces}"
        );
    }
    assert_eq!(
        table_after(record, "Traces stored in ").join("\n"),
        traces.trim_end(),
        "{record}"
    );

    // The tree is one trace: a header, then one root whose descendants
    // come from all three services.
    let (_, tree) = record
        .split_once("One of them as a tree")
        .unwrap_or_else(|| panic!("no tree in\n{record}"));
    let lines: Vec<&str> = tree
        .lines()
        .skip_while(|l| !l.starts_with("trace "))
        .take_while(|l| !l.is_empty())
        .collect();
    let spans_in_tree = if database { 15 } else { 14 };
    assert!(
        lines[0].contains(&format!("  {spans_in_tree} spans  ")),
        "{tree}"
    );
    let trace_id = lines[0].split_whitespace().nth(1).unwrap();
    assert!(traces.contains(trace_id), "{traces}");
    let spans = &lines[1..];
    assert_eq!(spans.len(), spans_in_tree, "{tree}");
    assert!(
        spans[0].starts_with("POST /checkout  server  ") && spans[0].contains("[checkout]"),
        "{tree}"
    );
    // Only the root is unindented: everything else hangs below it.
    assert!(
        spans[1..]
            .iter()
            .all(|l| l.starts_with(['├', '└', '│', ' ']))
    );
    // With the database, the order's INSERT comes after it, last.
    let branch = if database { "├─" } else { "└─" };
    assert!(
        spans[1].starts_with(&format!("{branch} reserve-and-price  internal")),
        "{tree}"
    );
    let count = |needle: &str| spans.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("GET /stock/{sku}  client"), 2, "{tree}");
    assert_eq!(count("GET /stock/{sku}  server"), 2, "{tree}");
    assert_eq!(count("POST /quote  client"), 2, "{tree}");
    assert_eq!(count("POST /quote  server"), 2, "{tree}");
    assert_eq!(count("POST /reserve  client"), 2, "{tree}");
    assert_eq!(count("POST /reserve  server"), 2, "{tree}");
    assert_eq!(count("[inventory]"), 4, "{tree}");
    assert_eq!(count("[pricing]"), 2, "{tree}");
    assert_eq!(count("http.request.resend_count=1"), 1, "{tree}");
    // The order kept: a child of checkout's SERVER span.
    assert_eq!(
        count("INSERT orders  client"),
        usize::from(database),
        "{tree}"
    );
    // The baggage reached every service.
    assert_eq!(count("app.tenant=acme"), 7, "{tree}");

    // The recordings: the demo's list is `tracetape list` of its
    // directory, a row per request each service served.
    let recordings = dir.join("recordings");
    let listed = tracetape(&["list", "--recordings", arg(&recordings), "--limit", "0"]);
    let table = stdout(&listed);
    let shown = table_after(record, &format!("Recorded in {}", recordings.display()));
    assert_eq!(shown.join("\n"), table.trim_end(), "{record}");
    let rows = |service: &str, request: &str| {
        shown
            .iter()
            .skip(1)
            .filter(|row| {
                let columns: Vec<&str> = row.split_whitespace().collect();
                columns[1] == service && columns[2..4].join(" ") == request
            })
            .count()
    };
    // Checkout: the three orders; inventory: a stock check per item of
    // each order (four), and two reservation attempts for each of the two
    // orders in stock; pricing: a quote per item (four).
    assert_eq!(rows("checkout", "POST /checkout"), 3, "{record}");
    assert_eq!(rows("inventory", "GET /stock/{sku}"), 4, "{record}");
    assert_eq!(rows("inventory", "POST /reserve"), 4, "{record}");
    assert_eq!(rows("pricing", "POST /quote"), 4, "{record}");
    // With the database, checkout's start-up is a background recording.
    assert_eq!(shown.len(), 1 + 15 + usize::from(database), "{record}");
}

#[test]
fn demo_without_a_directory_writes_into_a_new_temporary_one() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tracetape"))
        .arg("demo")
        .current_dir(tmp.path())
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}\n{out}", stderr(&output));
    let first = out.lines().nth(1).unwrap();
    let dir = first
        .strip_prefix("Everything it writes is in ")
        .unwrap_or_else(|| panic!("{out}"));
    let dir = Path::new(dir);
    assert_eq!(dir.parent(), Some(tmp.path()), "{out}");
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("tracetape-demo-")
    );
    // Kept, for the commands it suggests.
    assert!(dir.join("recordings").is_dir(), "{out}");
    assert!(dir.join("traces").is_dir(), "{out}");
    assert!(out.contains(": 3 passed, 0 deviated, 0 mock missing, 0 errored\n"));
    assert!(out.contains(": 1 passed, 2 deviated, 0 mock missing, 0 errored\n"));
    // Nothing else was written beside it.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn demo_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let output = tracetape(&["demo", "--dir", arg(&dir)]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {} is not empty: the demo replays every recording in its directory, so \
             give --dir a new or empty one (or leave --dir out for a temporary one)\n",
            dir.display()
        )
    );
    assert_eq!(stdout(&output), "");
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["notes.txt"]);
}
