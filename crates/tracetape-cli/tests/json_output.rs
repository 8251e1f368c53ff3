//! `list` and `show` with `--format json`: the documents parsed back, their
//! field names and values as docs/list-show-json.md describes them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    MS, T0, arg, body, exchange, header, provider, record_request, recording, stderr, stdout,
    tracetape, write_recording,
};
use serde_json::{Value, json};
use tracetape::record::ExchangeKind::{Client, Server};

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Runs `tracetape args...`, which must succeed, and parses its output.
fn json_of(args: &[&str]) -> Value {
    let output = tracetape(args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|err| panic!("{err}: {}", stdout(&output)))
}

/// checkout answering `POST /checkout` with one call, and a background
/// call of pricing's in a newer file.
fn write_recordings(dir: &std::path::Path) {
    let mut inbound = exchange(Server, (0x10, 0x01), "POST", "/checkout", T0, Some(201));
    inbound.route = Some("/checkout".to_owned());
    inbound.request.headers = vec![header("content-type", b"application/json")];
    inbound.request.body = body(br#"{"sku":"tea"}"#);
    inbound.response.as_mut().unwrap().body = body(&[0x1f, 0x8b, 0xff]);
    let call = exchange(
        Client,
        (0x20, 0x10),
        "GET",
        "http://inventory/stock/tea",
        T0 + MS,
        Some(200),
    );
    write_recording(dir, 1, &recording(TRACE, "checkout", vec![inbound, call]));
    let refresh = exchange(
        Client,
        (0x30, 0),
        "GET",
        "http://config/settings",
        T0 + 10 * MS,
        Some(200),
    );
    write_recording(dir, 2, &recording(7, "pricing", vec![refresh]));
}

#[test]
fn list_format_json_has_one_object_per_recording_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    write_recordings(&dir);
    let list = json_of(&["list", "--recordings", arg(&dir), "--format", "json"]);
    assert_eq!(list["version"], 1);
    assert_eq!(list["total"], 2);
    assert_eq!(list["skipped"], json!([]));
    let recordings = list["recordings"].as_array().unwrap();
    assert_eq!(recordings.len(), 2);
    let background = &recordings[0];
    assert_eq!(background["service"], "pricing");
    assert_eq!(background["background"], true);
    assert_eq!(background["id"], Value::Null);
    assert_eq!(background["url"], "http://config/settings");
    let checkout = &recordings[1];
    assert_eq!(
        checkout["id"],
        format!("{TRACE_ID}-0000000000000010").as_str()
    );
    assert_eq!(checkout["trace_id"], TRACE_ID);
    assert_eq!(checkout["start"], "2023-11-14T22:13:20Z");
    assert_eq!(checkout["start_unix_nanos"], T0);
    assert_eq!(checkout["method"], "POST");
    assert_eq!(checkout["route"], "/checkout");
    assert_eq!(checkout["status"], 201);
    assert_eq!(checkout["calls"], 1);
    assert!(checkout["file"].as_str().unwrap().ends_with(".json"));

    // --limit cuts the list, not the total.
    let list = json_of(&[
        "list",
        "--recordings",
        arg(&dir),
        "--format",
        "json",
        "--limit",
        "1",
    ]);
    assert_eq!(list["total"], 2);
    assert_eq!(list["recordings"].as_array().unwrap().len(), 1);
}

#[test]
fn show_format_json_has_every_exchange_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    write_recordings(&dir);
    let shown = json_of(&[
        "show",
        "4bf9",
        "--recordings",
        arg(&dir),
        "--format",
        "json",
    ]);
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["source"], "recordings");
    assert_eq!(shown["trace_id"], TRACE_ID);
    let recordings = shown["recordings"].as_array().unwrap();
    assert_eq!(recordings.len(), 1);
    assert_eq!(recordings[0]["service"], "checkout");
    let exchanges = recordings[0]["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2);
    let inbound = &exchanges[0];
    assert_eq!(inbound["kind"], "inbound");
    assert_eq!(inbound["span_id"], "0000000000000010");
    assert_eq!(inbound["duration_ms"], 2.0);
    assert_eq!(
        inbound["request"]["headers"],
        json!([{"name": "content-type", "value": "application/json"}])
    );
    assert_eq!(
        inbound["request"]["body"],
        json!({"size": 13, "truncated": false, "text": r#"{"sku":"tea"}"#, "base64": null})
    );
    assert_eq!(inbound["response"]["status"], 201);
    assert_eq!(inbound["response"]["body"]["text"], Value::Null);
    assert_eq!(inbound["response"]["body"]["base64"], "H4v/");
    assert_eq!(exchanges[1]["kind"], "outbound");
    assert_eq!(exchanges[1]["parent_span_id"], "0000000000000010");
    assert_eq!(exchanges[1]["error"], Value::Null);
}

#[test]
fn traces_in_json_list_and_show_the_span_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("traces");
    let provider = provider(&store, "checkout");
    let trace_id = record_request(&provider, "/users/{id}", true);
    provider.shutdown().unwrap();

    let list = json_of(&[
        "list",
        "--traces",
        "--store",
        arg(&store),
        "--format",
        "json",
    ]);
    assert_eq!(list["version"], 1);
    assert_eq!(list["total"], 1);
    let trace = &list["traces"][0];
    assert_eq!(trace["trace_id"], trace_id.as_str());
    assert_eq!(trace["root_span"], "GET /users/{id}");
    assert_eq!(trace["service"], "checkout");
    assert_eq!(trace["spans"], 4);
    assert_eq!(trace["error"], true);

    let shown = json_of(&[
        "show",
        &trace_id,
        "--traces",
        "--store",
        arg(&store),
        "--format",
        "json",
    ]);
    assert_eq!(shown["source"], "traces");
    let spans = shown["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4);
    let root = &spans[0];
    assert_eq!(root["name"], "GET /users/{id}");
    assert_eq!(root["kind"], "server");
    assert_eq!(root["parent_span_id"], Value::Null);
    assert_eq!(root["status"], "error");
    assert_eq!(root["status_message"], "handler failed");
    assert_eq!(root["attributes"]["http.route"], "/users/{id}");
    let render = spans.iter().find(|span| span["name"] == "render").unwrap();
    assert_eq!(render["parent_span_id"], root["span_id"]);
    assert_eq!(render["events"][0]["name"], "exception");
    assert_eq!(
        render["events"][0]["attributes"]["exception.type"],
        "TemplateError"
    );
}
