//! `tracetape replay` and the replay clock: the `replay_target` example's
//! `GET /invoices/{id}` dates an invoice from `SystemTime::now()` (issued
//! today, due in 30 days) in its handler, in a task spawned with
//! `tracetape::context::spawn` and on the blocking pool through
//! `tracetape::context::spawn_blocking`. Two invoices are recorded, and
//! their recordings moved to fixed days in the past (the inbound request's
//! start, and the recorded body dated as the service would have dated it
//! then). Replayed two at a time, both in flight at once, each reads its
//! own recorded day; a build that changes the due date's arithmetic
//! computes a different date from the same recorded day; without the
//! preload library the service reads today.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::collections::HashMap;
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use replay_support::{Fixture, Notices, free_port, stderr, stop};
use serde_json::{Value, json};

/// One recorded invoice, moved to a day of its own.
struct Invoice {
    id: &'static str,
    /// The recorded request's start, moved to: seconds since the epoch.
    recorded_at: i64,
    issued: &'static str,
    /// Due 30 days after.
    due: &'static str,
    /// What a build due in 14 days computes.
    due_in_14: &'static str,
}

const INVOICES: [Invoice; 2] = [
    Invoice {
        id: "a",
        recorded_at: 1_614_852_000, // 2021-03-04T10:00:00Z
        issued: "2021-03-04",
        due: "2021-04-03",
        due_in_14: "2021-03-18",
    },
    Invoice {
        id: "b",
        recorded_at: 1_561_969_800, // 2019-07-01T08:30:00Z
        issued: "2019-07-01",
        due: "2019-07-31",
        due_in_14: "2019-07-15",
    },
];

fn unix_seconds() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Records the two invoices with the example, then moves each recording
/// to its invoice's day.
fn record_invoices() -> Fixture {
    let (fixture, mut target, url) = Fixture::start_recording(&[], &[]);
    let client = reqwest::Client::new();
    for invoice in &INVOICES {
        let response = fixture
            .runtime
            .block_on(client.get(format!("{url}/invoices/{}", invoice.id)).send())
            .unwrap();
        assert!(response.status().is_success());
    }
    stop(&mut target);
    let mut moved = 0;
    for entry in std::fs::read_dir(fixture.recordings()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if name.ends_with(".jsonl") && !name.starts_with('.') {
            // A segment: its header, then one recording per line.
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            for line in &mut lines[1..] {
                *line = move_to_its_day(line);
                moved += 1;
            }
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
    }
    assert_eq!(moved, INVOICES.len(), "one recording per invoice");
    fixture
}

/// Moves the recording `line` to its invoice's day: the inbound
/// request's start, and the response body as it was dated then.
fn move_to_its_day(line: &str) -> String {
    let mut document: Value = serde_json::from_str(line).unwrap();
    let spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap();
    let inbound = spans.iter_mut().find(|span| span["kind"] == 2).unwrap();
    let invoice = INVOICES
        .iter()
        .find(|invoice| {
            let url = format!("/invoices/{}", invoice.id);
            inbound["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|attribute| attribute["value"]["stringValue"].as_str() == Some(url.as_str()))
        })
        .expect("the recording of an invoice");
    let start = invoice.recorded_at * 1_000_000_000;
    inbound["startTimeUnixNano"] = json!(start.to_string());
    inbound["endTimeUnixNano"] = json!((start + 1_000_000).to_string());
    let body = json!({
        "id": invoice.id,
        "issued": invoice.issued,
        "due": invoice.due,
        "issued_in_task": invoice.issued,
        "issued_blocking": invoice.issued,
    });
    let body = serde_json::to_vec(&body).unwrap();
    for attribute in inbound["attributes"].as_array_mut().unwrap() {
        match attribute["key"].as_str().unwrap() {
            "tracetape.http.response.body" => {
                attribute["value"] = json!({"bytesValue": base64(&body)});
            }
            "http.response.body.size" => {
                attribute["value"] = json!({"intValue": body.len().to_string()});
            }
            _ => {}
        }
    }
    serde_json::to_string(&document).unwrap()
}

/// Standard base64 with padding, as OTLP/JSON writes bytes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What the service told of each invoice it answered, by id.
struct Told {
    output: Output,
    invoices: HashMap<String, HashMap<String, String>>,
    /// When the replay ran: seconds since the epoch.
    window: (i64, i64),
}

impl Told {
    fn of(&self, id: &str, what: &str) -> &str {
        &self.invoices[id][what]
    }

    fn epoch(&self, id: &str) -> i64 {
        self.of(id, "epoch").parse().unwrap()
    }
}

/// Replays the invoices two at a time (each waiting in the service until
/// both are in flight) with `change` and `args`.
fn replay_invoices(fixture: &Fixture, change: &str, args: &[&str]) -> Told {
    replay_invoices_with(fixture, change, args, true)
}

/// Replays the invoices with `change` and `args`: two at a time, each
/// waiting in the service until both are in flight, when `together`;
/// else one after the other, in recorded order.
fn replay_invoices_with(fixture: &Fixture, change: &str, args: &[&str], together: bool) -> Told {
    let notices = Notices::listen();
    // Telling the test is not one of the service's dependencies.
    let notify = notices.addr();
    // Recorded years apart, so only in any order can both be in flight
    // at once.
    let mut all = if together {
        vec!["--order", "free", "--concurrency", "2"]
    } else {
        vec!["--concurrency", "1"]
    };
    all.extend(["--format", "json", "--allow-connect", &notify]);
    all.extend(args);
    let mut command = fixture.replay_command(free_port(), change, &all);
    command.env("REPLAY_TARGET_NOTIFY", notices.addr());
    if together {
        command.env("REPLAY_TARGET_INVOICES_TOGETHER", "2");
    }
    let from = unix_seconds();
    let output = command.output().unwrap();
    let to = unix_seconds();
    let mut invoices = HashMap::new();
    while invoices.len() < INVOICES.len() {
        let line = notices.next();
        let mut words = line.split(' ');
        // (`started …` when the service starts.)
        if words.next() != Some("invoice") {
            continue;
        }
        let id = words.next().unwrap().to_owned();
        let values = words
            .map(|word| word.split_once('=').unwrap())
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        invoices.insert(id, values);
    }
    Told {
        output,
        invoices,
        window: (from, to),
    }
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", stderr(output)))
}

#[test]
fn concurrent_replays_each_read_their_own_recorded_day() {
    let fixture = record_invoices();
    let told = replay_invoices(&fixture, "", &[]);
    let notes = stderr(&told.output);
    assert!(
        notes.contains("clock: each request sees its recorded time\n"),
        "{notes}"
    );
    let (from, to) = told.window;
    for invoice in &INVOICES {
        let id = invoice.id;
        // In the handler, before and after waiting for the other request,
        // in a spawned task and on the blocking pool.
        assert_eq!(told.of(id, "issued"), invoice.issued, "{id}");
        assert_eq!(told.of(id, "due"), invoice.due, "{id}");
        assert_eq!(told.of(id, "task"), invoice.issued, "{id}");
        assert_eq!(told.of(id, "blocking"), invoice.issued, "{id}");
        // The recorded time plus the time since its replay began.
        let epoch = told.epoch(id);
        let elapsed = to - from;
        assert!(
            invoice.recorded_at <= epoch && epoch <= invoice.recorded_at + elapsed + 1,
            "{id}: {epoch} read, recorded at {}",
            invoice.recorded_at
        );
    }
    // The responses are the recorded ones, dates and all.
    assert_eq!(told.output.status.code(), Some(0), "{notes}");
    let report = report(&told.output);
    assert_eq!(report["totals"]["passed"], 2, "{report}");
}

#[test]
fn a_changed_due_date_is_computed_from_the_recorded_day() {
    let fixture = record_invoices();
    let told = replay_invoices(&fixture, "due-days=14", &[]);
    for invoice in &INVOICES {
        assert_eq!(told.of(invoice.id, "issued"), invoice.issued);
        // Not the recorded due date: the comparison sees the change itself,
        // not today's date against a recorded one.
        assert_eq!(told.of(invoice.id, "due"), invoice.due_in_14);
        assert_ne!(told.of(invoice.id, "due"), invoice.due);
    }
    // With the clock controlled, dates must be equal: the change deviates
    // at the due date, and at nothing else.
    assert_eq!(told.output.status.code(), Some(1));
    let report = report(&told.output);
    for recording in report["recordings"].as_array().unwrap() {
        let paths: Vec<&str> = recording["deviations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|deviation| deviation["path"].as_str())
            .collect();
        assert_eq!(paths, ["$.due"], "{recording}");
    }
}

// A task spawned without the request's context (as a streamed body's
// producer often is) read today's time while its request read the
// recorded one.
#[test]
fn a_task_without_the_request_s_context_reads_the_time_of_the_request_begun_last() {
    let fixture = record_invoices();
    let told = replay_invoices_with(&fixture, "", &[], false);
    for invoice in &INVOICES {
        assert_eq!(
            told.of(invoice.id, "plain"),
            invoice.issued,
            "{}",
            invoice.id
        );
    }
    assert_eq!(
        told.output.status.code(),
        Some(0),
        "{}",
        stderr(&told.output)
    );
}

#[test]
fn without_the_preload_library_the_service_reads_today() {
    let fixture = record_invoices();
    let missing = fixture.dir.path().join("no-such-libtracetape_preload.so");
    let told = replay_invoices(&fixture, "", &["--preload", missing.to_str().unwrap()]);
    let notes = stderr(&told.output);
    assert!(
        notes.contains("clock: not controlled (no preload library"),
        "{notes}"
    );
    let (from, to) = told.window;
    for invoice in &INVOICES {
        assert_ne!(told.of(invoice.id, "issued"), invoice.issued);
        let epoch = told.epoch(invoice.id);
        assert!(from <= epoch && epoch <= to, "{epoch} not in {from}..={to}");
    }
}
