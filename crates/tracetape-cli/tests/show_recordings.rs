//! `tracetape show` against recording files built from `Recording` values,
//! and its fallback to the span store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod replay_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use common::{
    MS, T0, arg, body, exchange, header, recording, stderr, stdout, store_one_trace, tracetape,
    tracetape_in, write_recording,
};
use flate2::Compression;
use flate2::write::GzEncoder;
use tracetape::opentelemetry::trace::TraceId;
use tracetape::record::ExchangeKind::{Client, Server};
use tracetape::record::{BodyRecord, Recording};

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const JSON: &[u8] = b"application/json";

/// Writes the two recordings of one checkout: checkout's (inbound, three
/// calls) in the newer file, inventory's (the stock call it answered) in
/// the older one although it started later. Returns their paths.
fn write_checkout(dir: &Path) -> (PathBuf, PathBuf) {
    let mut inbound = exchange(Server, (0x10, 0x01), "POST", "/checkout", T0, Some(200));
    inbound.request.headers = vec![header("content-type", JSON)];
    inbound.request.body = body(br#"{"order_id":"demo-1","items":[{"sku":"tea","qty":2}]}"#);
    let response = inbound.response.as_mut().unwrap();
    response.headers = vec![header("content-type", JSON)];
    response.body = body(br#"{"total_cents":700}"#);
    // Made from a span of the handler's own, which is not recorded.
    let mut stock = exchange(
        Client,
        (0x20, 0x15),
        "GET",
        "http://inventory/stock/tea",
        T0 + MS,
        Some(200),
    );
    stock.response.as_mut().unwrap().body = body(b"12");
    // Made while the stock call was under way (say, by its retry policy).
    let mut reserve = exchange(
        Client,
        (0x30, 0x20),
        "POST",
        "http://inventory/reserve",
        T0 + 2 * MS,
        None,
    );
    reserve.error = Some("connection refused".to_owned());
    let quote = exchange(
        Client,
        (0x50, 0x15),
        "POST",
        "http://pricing/quote",
        T0 + 3 * MS,
        Some(204),
    );
    let checkout = recording(TRACE, "checkout", vec![inbound, stock, reserve, quote]);

    let mut answered = exchange(
        Server,
        (0x40, 0x20),
        "GET",
        "/stock/tea",
        T0 + MS + MS / 2,
        Some(200),
    );
    answered.response.as_mut().unwrap().headers = vec![
        header("x-note", b"a\x1b[31mb\xff"),
        header("x-note", b"again"),
    ];
    let inventory = recording(TRACE, "inventory", vec![answered]);

    let inventory_path = write_recording(dir, 1, &inventory);
    let checkout_path = write_recording(dir, 2, &checkout);
    (checkout_path, inventory_path)
}

/// A recording whose inbound response carries `response_body`.
fn with_response_body(
    trace: u128,
    headers: &[(&str, &[u8])],
    response_body: BodyRecord,
) -> Recording {
    let mut inbound = exchange(Server, (0x10, 0), "GET", "/file", T0, Some(200));
    let response = inbound.response.as_mut().unwrap();
    response.headers = headers
        .iter()
        .map(|&(name, value)| header(name, value))
        .collect();
    response.body = response_body;
    recording(trace, "files", vec![inbound])
}

/// The heading of the response's body and the lines under it, without
/// their indentation (the tree's rails are blank under a lone exchange).
fn response_body(text: &str) -> (String, Vec<String>) {
    let mut lines = text.lines().skip_while(|line| line.trim() != "response");
    let heading = lines
        .find(|line| line.trim_start().starts_with("body"))
        .unwrap_or_else(|| panic!("no response body in\n{text}"));
    let indent = heading.len() - heading.trim_start().len() + 2;
    let below: Vec<String> = lines
        .map(|line| {
            assert!(line[..indent].trim().is_empty(), "{line:?} in\n{text}");
            line[indent..].to_owned()
        })
        .collect();
    (heading.trim_start().to_owned(), below)
}

#[test]
fn show_prints_each_recording_of_the_trace_as_a_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let (checkout, inventory) = write_checkout(&dir);

    let output = tracetape(&["show", "4BF92F35", "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let expected = format!(
        "trace 4bf92f3577b34da6a3ce929d0e0e4736  2 recordings

[checkout]  2023-11-14T22:13:20Z  {checkout}
inbound  POST /checkout  200  2.0 ms
│  request
│    content-type: application/json
│    body:
│      {{
│        \"order_id\": \"demo-1\",
│        \"items\": [
│          {{
│            \"sku\": \"tea\",
│            \"qty\": 2
│          }}
│        ]
│      }}
│  response
│    content-type: application/json
│    body:
│      {{
│        \"total_cents\": 700
│      }}
├─ outbound  GET http://inventory/stock/tea  200  2.0 ms
│  │  request: no headers, empty body
│  │  response
│  │    body:
│  │      12
│  └─ outbound  POST http://inventory/reserve  error: connection refused  2.0 ms
│        request: no headers, empty body
└─ outbound  POST http://pricing/quote  204  2.0 ms
      request: no headers, empty body
      response: no headers, empty body

[inventory]  2023-11-14T22:13:20Z  {inventory}
inbound  GET /stock/tea  200  2.0 ms
   request: no headers, empty body
   response
     x-note: a\\u{{1b}}[31mb\u{fffd}
     x-note: again
",
        checkout = checkout.display(),
        inventory = inventory.display(),
    );
    assert_eq!(stdout(&output), expected);
}

#[test]
fn binary_bodies_show_their_size_and_first_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10";
    write_recording(
        &dir,
        1,
        &with_response_body(TRACE, &[("content-type", b"image/png")], body(png)),
    );
    let output = tracetape(&["show", "4bf9", "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (heading, below) = response_body(&stdout(&output));
    assert_eq!(
        heading,
        "body: <20 bytes, binary> 89 50 4e 47 0d 0a 1a 0a 00 00 00 0d 49 48 44 52 …"
    );
    assert!(below.is_empty(), "{below:?}");
}

#[test]
fn truncated_and_compressed_bodies_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let cut = BodyRecord {
        bytes: br#"{"items":[1,2"#.to_vec().into(),
        truncated: true,
        size: 5000,
    };
    write_recording(
        &dir,
        1,
        &with_response_body(1, &[("content-type", JSON)], cut),
    );
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(br#"{"tea":2}"#).unwrap();
    let wire = gzip.finish().unwrap();
    write_recording(
        &dir,
        2,
        &with_response_body(2, &[("content-encoding", b"gzip")], body(&wire)),
    );

    let show = |id: u128| {
        let output = tracetape(&["show", &format!("{id:032x}"), "--recordings", arg(&dir)]);
        assert!(output.status.success(), "{}", stderr(&output));
        response_body(&stdout(&output))
    };
    // Cut short, it is no longer JSON: shown as the text it is.
    assert_eq!(
        show(1),
        (
            "body (truncated: kept 13 of 5000 bytes):".to_owned(),
            vec![r#"{"items":[1,2"#.to_owned()]
        )
    );
    assert_eq!(
        show(2),
        (
            format!("body (gzip, {} bytes on the wire):", wire.len()),
            ["{", "  \"tea\": 2", "}"].map(str::to_owned).to_vec()
        )
    );
}

#[test]
fn long_bodies_are_cut_at_the_width_and_full_shows_them_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let long_line = "x".repeat(300);
    let text: String = std::iter::once(long_line.clone())
        .chain((2..=100).map(|n| format!("line {n}")))
        .collect::<Vec<_>>()
        .join("\n");
    write_recording(
        &dir,
        1,
        &with_response_body(
            TRACE,
            &[("content-type", b"text/plain")],
            body(text.as_bytes()),
        ),
    );
    let show = |extra: &[&str]| {
        let mut args = vec!["show", "4bf9", "--recordings", arg(&dir)];
        args.extend(extra);
        let output = tracetape(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    // Every line but the heading with the file's path fits the width.
    let widest = |text: &str| {
        text.lines()
            .filter(|line| !line.starts_with('['))
            .map(|line| line.chars().count())
            .max()
            .unwrap()
    };

    let cut = show(&[]);
    let (_, below) = response_body(&cut);
    assert_eq!(below.len(), 41, "{cut}");
    assert!(
        below[0].starts_with("xxx") && below[0].ends_with('…'),
        "{cut}"
    );
    assert_eq!(below[39], "line 40");
    assert_eq!(below[40], "… 60 more lines (--full shows them)");
    assert_eq!(widest(&cut), 120, "{cut}");

    let narrow = show(&["--width", "60"]);
    assert_eq!(widest(&narrow), 60, "{narrow}");
    assert_eq!(response_body(&narrow).1.len(), 41);

    let unlimited = show(&["--width", "0"]);
    assert_eq!(response_body(&unlimited).1[0], long_line);
    assert_eq!(response_body(&unlimited).1.len(), 41);

    let full = show(&["--full"]);
    let (_, below) = response_body(&full);
    assert_eq!(below.len(), 100, "{full}");
    assert_eq!(below[0], long_line);
    assert_eq!(below[99], "line 100");
}

#[test]
fn a_prefix_of_two_recorded_traces_is_ambiguous() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let first = 0xabcd_0000_0000_0000_0000_0000_0000_0001;
    let second = 0xabcd_0000_0000_0000_0000_0000_0000_0002;
    for (seq, trace) in [(1, first), (2, second), (3, second)] {
        write_recording(&dir, seq, &with_response_body(trace, &[], body(b"ok")));
    }
    let output = tracetape(&["show", "abcd", "--recordings", arg(&dir)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr(&output),
        format!(
            "error: trace id prefix abcd is ambiguous: the recordings in {} have 2 traces that \
             start with it: {first:032x}, {second:032x}\n",
            dir.display()
        )
    );

    // Enough digits pick one trace, with both of its files.
    let output = tracetape(&["show", &format!("{second:032x}"), "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(&format!("trace {second:032x}  2 recordings\n")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn an_id_no_recording_has_is_looked_up_in_the_trace_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let store = tmp.path().join("traces");
    let stored = store_one_trace(&store, "/users/{id}", false);
    write_checkout(&dir);

    let output = tracetape(&[
        "show",
        &stored[..8],
        "--recordings",
        arg(&dir),
        "--store",
        arg(&store),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("trace {stored}  4 spans  ")),
        "{text}"
    );
    assert!(text.contains("\nGET /users/{id}  server  "), "{text}");

    // Neither has it: the trace store's error, as before.
    let missing = "00000000000000000000000000000000";
    let output = tracetape(&[
        "show",
        missing,
        "--recordings",
        arg(&dir),
        "--store",
        arg(&store),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with(&format!("error: no trace with id {missing} in ")),
        "{}",
        stderr(&output)
    );
}

#[test]
fn traces_skips_the_recordings() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("traces");
    let stored = store_one_trace(&store, "/users/{id}", false);
    // A recording of the very same trace, in the default directory.
    let cwd = tmp.path().join("service");
    let trace = TraceId::from_hex(&stored).unwrap();
    let recorded = with_response_body(u128::from_be_bytes(trace.to_bytes()), &[], body(b"ok"));
    write_recording(&cwd.join(".tracetape/recordings"), 1, &recorded);

    let run = |extra: &[&str]| {
        let mut args = vec!["show", stored.as_str(), "--store", arg(&store)];
        args.extend(extra);
        let output = tracetape_in(&cwd, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let recording = run(&[]);
    assert!(
        recording.starts_with(&format!("trace {stored}  1 recording\n")),
        "{recording}"
    );
    let spans = run(&["--traces"]);
    assert!(
        spans.starts_with(&format!("trace {stored}  4 spans  ")),
        "{spans}"
    );

    // --traces and --recordings contradict each other.
    let output = tracetape(&["show", &stored, "--traces", "--recordings", arg(&cwd)]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unreadable_recordings_are_noted_with_the_recording_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    write_checkout(&dir);
    let broken = dir.join("99999999999999999999-1-000001.json");
    std::fs::write(&broken, b"{\"resourceSpans\": [").unwrap();

    let output = tracetape(&["show", "4bf9", "--recordings", arg(&dir)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736  2 recordings\n"));
    let notes = stderr(&output);
    assert!(
        notes.starts_with(&format!(
            "note: skipped {}: not an OTLP/JSON TracesData document: ",
            broken.display()
        )),
        "{notes}"
    );
    assert_eq!(notes.lines().count(), 1, "{notes}");
}

// Credentials in a query, in captured headers and in a dependency's URL
// must not come back through `tracetape show`, from a recording or from
// the span store, in text or JSON.
#[test]
fn secrets_stay_out_of_tracetape_show() {
    use base64::Engine as _;

    const QUERY_KEY: &str = "qk-3d91c0-show-secret";
    const VOUCHER: &str = "vc-e2a614-show-secret";
    const BEARER: &str = "br-7c05fa-show-secret";
    const API_KEY: &str = "hk-40b8d2-show-secret";
    const PASSWORD: &str = "pw-91f3e7-show-secret";
    const TRACE_ID: &str = "5c1e2d3a4b5c6d7e8f90a1b2c3d4e5f6";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dependency = replay_support::Dependency::start(&runtime);
    let fixture = replay_support::Fixture {
        runtime,
        dependency,
        dir: tempfile::tempdir().unwrap(),
        orders: Vec::new(),
    };
    let with_password = fixture
        .dependency
        .url
        .replacen("://", &format!("://svc:{PASSWORD}@"), 1);
    let mut target = fixture
        .env(
            &mut std::process::Command::new(replay_support::target_exe()),
            "",
        )
        .env("TRACETAPE_MODE", "record")
        .env("TRACETAPE_RECORD_DIR", fixture.recordings())
        .env("PORT", "0")
        .env("OTEL_TRACES_EXPORTER", "local")
        .env(
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
            "authorization,x-api-key",
        )
        .env("TRACETAPE_RECORD_REDACT_QUERY", "voucher")
        .env("DEPENDENCY_URL", &with_password)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = replay_support::listening_url(&mut target);
    let response = fixture
        .runtime
        .block_on(
            reqwest::Client::new()
                .post(format!(
                    "{url}/orders?api_key={QUERY_KEY}&voucher={VOUCHER}"
                ))
                .header("authorization", format!("Bearer {BEARER}"))
                .header("x-api-key", API_KEY)
                .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
                .json(&serde_json::json!({"id": "o-1", "sku": "tea", "qty": 2}))
                .send(),
        )
        .unwrap();
    assert_eq!(response.status(), 200);
    replay_support::stop(&mut target);

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("svc:{PASSWORD}"));
    let dir = fixture.dir.path();
    let mut shown = String::new();
    for args in [
        &["show", TRACE_ID, "--recordings", "recordings", "--full"][..],
        &[
            "show",
            TRACE_ID,
            "--recordings",
            "recordings",
            "--format",
            "json",
        ],
        &["show", TRACE_ID, "--traces", "--width", "0"],
        &["show", TRACE_ID, "--traces", "--format", "json"],
    ] {
        let output = tracetape_in(dir, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let text = format!("{}{}", stdout(&output), stderr(&output));
        for secret in [
            QUERY_KEY,
            VOUCHER,
            BEARER,
            API_KEY,
            PASSWORD,
            basic.as_str(),
        ] {
            assert!(!text.contains(secret), "{args:?} shows {secret}:\n{text}");
        }
        shown.push_str(&text);
    }
    // What was shown says what it hid.
    for redacted in ["api_key=REDACTED", "voucher=REDACTED", "[REDACTED]"] {
        assert!(shown.contains(redacted), "{redacted} not shown:\n{shown}");
    }
}
