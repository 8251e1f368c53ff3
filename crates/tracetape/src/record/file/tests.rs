//! A recording survives the trip to OTLP/JSON and back, the document is
//! OTLP/JSON that other tools read, and no input makes decoding panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, TracesData};
use serde_json::json;

use super::*;
use crate::record::testing::{TRACE_ID, background_recording, header, rich_recording};

fn encoded(recording: &Recording) -> Vec<u8> {
    recording.to_otlp_json().unwrap()
}

/// The written document, as opentelemetry-proto's serde reads it.
fn document(recording: &Recording) -> TracesData {
    serde_json::from_slice(&encoded(recording)).unwrap()
}

fn spans(document: &mut TracesData) -> &mut Vec<Span> {
    &mut document.resource_spans[0].scope_spans[0].spans
}

fn set_version(document: &mut TracesData, version: &str) {
    let resource = document.resource_spans[0].resource.as_mut().unwrap();
    for kv in &mut resource.attributes {
        if kv.key == "tracetape.recording.version" {
            kv.value = Some(AnyValue {
                value: Some(Value::StringValue(version.to_owned())),
            });
        }
    }
}

fn decode_document(document: &TracesData) -> Result<Recording, DecodeError> {
    Recording::from_otlp_json(&serde_json::to_vec(document).unwrap())
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    Attributes(&span.attributes).get(key)
}

fn set_attribute(span: &mut Span, key: &str, value: Value) {
    span.attributes.retain(|kv| kv.key != key);
    span.attributes.push(kv(key, value));
}

fn exchange_error(result: Result<Recording, DecodeError>) -> ExchangeError {
    match result {
        Err(DecodeError::Exchange { source, .. }) => source,
        other => panic!("expected an exchange error, got {other:?}"),
    }
}

#[test]
fn round_trip_keeps_every_field() {
    let recording = rich_recording();
    let back = Recording::from_otlp_json(&encoded(&recording)).unwrap();

    assert_eq!(back.trace_id.to_string(), TRACE_ID);
    assert_eq!(back.service_name, "checkout");
    assert!(!back.background);
    assert_eq!(back.exchanges.len(), recording.exchanges.len());
    for (got, want) in back.exchanges.iter().zip(&recording.exchanges) {
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.span_id, want.span_id);
        assert_eq!(got.parent_span_id, want.parent_span_id);
        assert_eq!(got.name, want.name);
        assert_eq!(got.start_unix_nanos, want.start_unix_nanos);
        assert_eq!(got.end_unix_nanos, want.end_unix_nanos);
        assert_eq!(got.request.method, want.request.method);
        assert_eq!(got.request.url, want.request.url);
        assert_eq!(got.request.headers, want.request.headers);
        assert_eq!(got.request.body, want.request.body);
        assert_eq!(got.response, want.response);
        assert_eq!(got.error, want.error);
    }
    // The awkward cases, spelled out.
    let server = &back.exchanges[0];
    assert_eq!(
        server.request.body.bytes.as_ref(),
        (0..=255).collect::<Vec<u8>>()
    );
    let raw = &server.request.headers[2];
    assert_eq!(
        (raw.name.as_str(), raw.value.as_ref()),
        ("x-raw", &b"\xff\xfe caf\xc3"[..])
    );
    let tags: Vec<_> = server
        .request
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_ref()))
        .collect();
    assert_eq!(tags[1], ("x-tag", &b"first"[..]));
    assert_eq!(tags[3], ("x-tag", &b"second"[..]));
    let truncated = &back.exchanges[1].response.as_ref().unwrap().body;
    assert!(truncated.truncated);
    assert_eq!(truncated.size, 5 * 1024 * 1024);
    assert_eq!(back.exchanges[2].response, None);
    assert_eq!(
        back.exchanges[2].error.as_deref(),
        Some("connection refused")
    );
    assert_eq!(back.exchanges[3].request.method, "PURGE");
    // And the whole value, in case a field is added to the model.
    assert_eq!(back, recording);
}

#[test]
fn background_recording_round_trips() {
    let recording = background_recording(7);
    let back = Recording::from_otlp_json(&encoded(&recording)).unwrap();
    assert!(back.background);
    assert_eq!(back.exchanges[0].parent_span_id, SpanId::INVALID);
    assert_eq!(back.exchanges[0].request.method, "get");
    assert_eq!(back, recording);
}

#[test]
fn document_is_otlp_json_traces_data() {
    let recording = rich_recording();
    let bytes = encoded(&recording);
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
    assert!(bytes.ends_with(b"}\n"));

    // opentelemetry-proto's serde reads it as TracesData.
    let document: TracesData = serde_json::from_slice(&bytes).unwrap();
    let [resource_spans] = document.resource_spans.as_slice() else {
        panic!("expected one resource");
    };
    let resource = Attributes(&resource_spans.resource.as_ref().unwrap().attributes);
    assert_eq!(
        resource.get("service.name"),
        Some(&Value::StringValue("checkout".into()))
    );
    assert_eq!(
        resource.get("tracetape.recording.version"),
        Some(&Value::StringValue("1.2".into()))
    );
    let [scope_spans] = resource_spans.scope_spans.as_slice() else {
        panic!("expected one scope");
    };
    assert_eq!(scope_spans.scope.as_ref().unwrap().name, "tracetape.record");
    let spans = &scope_spans.spans;
    assert_eq!(spans.len(), 4);
    let server = &spans[0];
    assert_eq!(server.trace_id, recording.trace_id.to_bytes());
    assert_eq!(server.span_id, 0x0102_0304_0506_0708_u64.to_be_bytes());
    assert_eq!(
        server.parent_span_id,
        0x00f0_67aa_0ba9_02b7_u64.to_be_bytes()
    );
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(spans[1].kind, SpanKind::Client as i32);
    assert_eq!(server.name, "POST /upload/{id}");
    assert_eq!(server.start_time_unix_nano, 1_700_000_000_123_456_789);
    let text = |key| attribute(server, key).cloned();
    assert_eq!(
        text("http.request.method"),
        Some(Value::StringValue("POST".into()))
    );
    assert_eq!(
        text("url.path"),
        Some(Value::StringValue("/upload/7".into()))
    );
    assert_eq!(
        text("url.query"),
        Some(Value::StringValue("dry_run&tag=a%20b".into()))
    );
    assert_eq!(text("url.full"), None);
    assert_eq!(
        text("http.response.status_code"),
        Some(Value::IntValue(201))
    );
    assert_eq!(
        text("tracetape.http.request.body"),
        Some(Value::BytesValue((0..=255).collect()))
    );
    assert_eq!(text("http.request.body.size"), Some(Value::IntValue(256)));
    assert_eq!(
        text("tracetape.recording.background"),
        Some(Value::BoolValue(false))
    );
    assert_eq!(
        attribute(&spans[1], "url.full"),
        Some(&Value::StringValue(
            "http://inventory:8080/items?id=3".into()
        ))
    );
    let failed = &spans[2];
    let status = failed.status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "connection refused");
    assert_eq!(attribute(failed, "http.response.status_code"), None);

    // And it is OTLP/JSON as the specification spells it, checked on the
    // raw JSON rather than through the same library.
    let raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let span = &raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], json!(TRACE_ID));
    assert_eq!(span["spanId"], json!("0102030405060708"));
    assert_eq!(span["parentSpanId"], json!("00f067aa0ba902b7"));
    assert_eq!(span["kind"], json!(2));
    assert_eq!(span["startTimeUnixNano"], json!("1700000000123456789"));
    assert_eq!(span["endTimeUnixNano"], json!("1700000000223456789"));
    let attributes = span["attributes"].as_array().unwrap();
    let find = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv["key"] == json!(key))
            .map(|kv| kv["value"].clone())
    };
    assert_eq!(
        find("http.response.status_code"),
        Some(json!({"intValue": "201"}))
    );
    // Standard base64 with padding, as protobuf's JSON mapping writes bytes.
    let expected_body = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";
    assert_eq!(
        find("tracetape.http.request.body"),
        Some(json!({"bytesValue": expected_body}))
    );
    let headers = find("tracetape.http.request.headers").unwrap();
    assert_eq!(
        headers["arrayValue"]["values"][0],
        json!({"kvlistValue": {"values": [
            {"key": "name", "value": {"stringValue": "accept"}},
            {"key": "value", "value": {"stringValue": "*/*"}},
        ]}})
    );
    // A value that is not UTF-8 is bytes.
    assert_eq!(
        headers["arrayValue"]["values"][2]["kvlistValue"]["values"][1]["value"],
        json!({"bytesValue": "//4gY2Fmww=="})
    );
}

#[test]
fn methods_follow_the_semantic_conventions() {
    let mut recording = background_recording(1);
    let method = |recording: &Recording| {
        let document = document(recording);
        let span = &document.resource_spans[0].scope_spans[0].spans[0];
        (
            attribute(span, "http.request.method").cloned(),
            attribute(span, "http.request.method_original").cloned(),
        )
    };
    // Methods are case-sensitive: `get` is not a standard method.
    assert_eq!(
        method(&recording),
        (
            Some(Value::StringValue("_OTHER".into())),
            Some(Value::StringValue("get".into()))
        )
    );
    recording.exchanges[0].request.method = "DELETE".into();
    assert_eq!(
        method(&recording),
        (Some(Value::StringValue("DELETE".into())), None)
    );
    // Not even a valid token: still recorded as it was.
    recording.exchanges[0].request.method = "BAD METHOD".into();
    let back = Recording::from_otlp_json(&encoded(&recording)).unwrap();
    assert_eq!(back.exchanges[0].request.method, "BAD METHOD");
}

#[test]
fn every_url_form_round_trips() {
    let mut recording = rich_recording();
    for (kind, url, attributes) in [
        (ExchangeKind::Server, "/plain", vec!["url.path"]),
        (
            ExchangeKind::Server,
            "/empty?",
            vec!["url.path", "url.query"],
        ),
        (
            ExchangeKind::Server,
            "/a?b?c=d#frag",
            vec!["url.path", "url.query"],
        ),
        (ExchangeKind::Server, "*", vec!["url.full"]),
        (
            ExchangeKind::Server,
            "http://proxy.example/x",
            vec!["url.full"],
        ),
        (ExchangeKind::Server, "", vec!["url.full"]),
        (ExchangeKind::Client, "/relative?q", vec!["url.full"]),
    ] {
        recording.exchanges[0].kind = kind;
        recording.exchanges[0].request.url = url.to_owned();
        let document = document(&recording);
        let span = &document.resource_spans[0].scope_spans[0].spans[0];
        let present: Vec<_> = ["url.full", "url.path", "url.query"]
            .into_iter()
            .filter(|key| attribute(span, key).is_some())
            .collect();
        assert_eq!(present, attributes, "{url:?}");
        let back = Recording::from_otlp_json(&encoded(&recording)).unwrap();
        assert_eq!(back.exchanges[0].request.url, url);
    }
}

#[test]
fn newer_major_version_asks_for_an_upgrade() {
    let mut document = document(&rich_recording());
    set_version(&mut document, "2.0");
    let err = decode_document(&document).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TooNew {
                found: FormatVersion { major: 2, minor: 0 },
                supported: FormatVersion::CURRENT,
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the recording is in format 2.0, newer than this build of tracetape reads \
         (format 1.2); upgrade tracetape to read it"
    );
}

#[test]
fn newer_minor_version_is_read_and_unknown_parts_ignored() {
    let recording = rich_recording();
    let mut document = document(&recording);
    set_version(&mut document, "1.7");
    // What a later 1.x might add: attributes, a span of another kind, a
    // kvlist key in a header entry, and a scope of another instrumentation.
    let mut extra = spans(&mut document)[0].clone();
    extra.kind = SpanKind::Internal as i32;
    extra.attributes.clear();
    for span in spans(&mut document).iter_mut() {
        set_attribute(
            span,
            "tracetape.http.request.sensitive",
            Value::BoolValue(true),
        );
    }
    spans(&mut document).insert(1, extra);
    let mut other_scope = document.resource_spans[0].scope_spans[0].clone();
    other_scope.scope.as_mut().unwrap().name = "something.else".into();
    other_scope.spans[0].attributes.clear();
    document.resource_spans[0].scope_spans.push(other_scope);
    let mut json = serde_json::to_value(&document).unwrap();
    // Unknown JSON fields too.
    json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["futureField"] = json!({"x": 1});
    json["resourceSpans"][0]["futureField"] = json!([1, 2]);
    let headers = json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|kv| kv["key"] == json!("tracetape.http.request.headers"))
        .unwrap();
    headers["value"]["arrayValue"]["values"][0]["kvlistValue"]["values"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "redacted", "value": {"boolValue": false}}));

    let back = Recording::from_otlp_json(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert_eq!(back, recording);
}

#[test]
fn older_major_and_invalid_versions_are_errors() {
    let mut document = document(&rich_recording());
    set_version(&mut document, "0.9");
    assert!(matches!(
        decode_document(&document),
        Err(DecodeError::TooOld { .. })
    ));
    for bad in ["1", "v1.0", "1.0.0", ""] {
        set_version(&mut document, bad);
        match decode_document(&document) {
            Err(DecodeError::InvalidVersion { found }) => assert_eq!(found, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let resource = document.resource_spans[0].resource.as_mut().unwrap();
    resource.attributes[1].value = Some(AnyValue {
        value: Some(Value::IntValue(1)),
    });
    assert!(matches!(
        decode_document(&document),
        Err(DecodeError::InvalidVersion { .. })
    ));
}

#[test]
fn other_otlp_documents_are_not_recordings() {
    let mut document = document(&rich_recording());
    document.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .retain(|kv| kv.key != "tracetape.recording.version");
    let err = decode_document(&document).unwrap_err();
    assert!(matches!(err, DecodeError::NotARecording), "{err:?}");
    assert!(
        err.to_string().contains("not a tracetape recording"),
        "{err}"
    );

    for not_traces in [
        &b"{}"[..],
        b"[]",
        b"null",
        b"",
        b"\xff\xfe",
        br#"{"resourceSpans":7}"#,
    ] {
        assert!(
            matches!(
                Recording::from_otlp_json(not_traces),
                Err(DecodeError::Json { .. })
            ),
            "{not_traces:?}"
        );
    }
}

#[test]
fn exchanges_of_two_traces_are_refused() {
    let mut document = document(&rich_recording());
    spans(&mut document)[2].trace_id = vec![0xab; 16];
    let err = decode_document(&document).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the exchanges belong to more than one trace ({TRACE_ID} and abababababababababababababababab)"
        )
    );
}

#[test]
fn invalid_spans_are_typed_errors() {
    let base = document(&rich_recording());
    let check = |edit: &dyn Fn(&mut Span), expected: ExchangeError| {
        let mut document = base.clone();
        edit(&mut spans(&mut document)[1]);
        let result = decode_document(&document);
        if let Err(DecodeError::Exchange { index, name, .. }) = &result {
            assert_eq!((*index, name.as_str()), (1, "GET"));
        }
        assert_eq!(exchange_error(result), expected);
    };
    check(
        &|span| span.trace_id.truncate(3),
        ExchangeError::InvalidId {
            field: "traceId",
            len: 3,
            expected: 16,
        },
    );
    check(
        &|span| span.span_id.clear(),
        ExchangeError::InvalidId {
            field: "spanId",
            len: 0,
            expected: 8,
        },
    );
    check(
        &|span| span.parent_span_id.push(1),
        ExchangeError::InvalidId {
            field: "parentSpanId",
            len: 9,
            expected: 8,
        },
    );
    check(
        &|span| span.attributes.retain(|kv| kv.key != "http.request.method"),
        ExchangeError::Missing {
            key: "http.request.method",
        },
    );
    check(
        &|span| span.attributes.retain(|kv| kv.key != "url.full"),
        ExchangeError::Missing { key: "url.full" },
    );
    check(
        &|span| set_attribute(span, "http.response.status_code", Value::IntValue(70_000)),
        ExchangeError::OutOfRange {
            key: "http.response.status_code",
            value: 70_000,
        },
    );
    check(
        &|span| set_attribute(span, "http.request.body.size", Value::IntValue(-1)),
        ExchangeError::OutOfRange {
            key: "http.request.body.size",
            value: -1,
        },
    );
    check(
        &|span| {
            set_attribute(
                span,
                "http.response.status_code",
                Value::StringValue("200".into()),
            )
        },
        ExchangeError::WrongType {
            key: "http.response.status_code",
            expected: "an integer",
        },
    );
    check(
        &|span| set_attribute(span, "tracetape.http.response.body", Value::BoolValue(true)),
        ExchangeError::WrongType {
            key: "tracetape.http.response.body",
            expected: "bytes or a string",
        },
    );
    check(
        &|span| {
            set_attribute(
                span,
                "tracetape.http.request.headers",
                Value::StringValue("accept: */*".into()),
            )
        },
        ExchangeError::WrongType {
            key: "tracetape.http.request.headers",
            expected: "an array",
        },
    );
    check(
        &|span| {
            let mut list = headers("k", &[header("a", b"1"), header("b", b"2")]);
            if let Some(AnyValue {
                value: Some(Value::ArrayValue(array)),
            }) = &mut list.value
            {
                array.values[1] = AnyValue {
                    value: Some(Value::StringValue("b: 2".into())),
                };
            }
            set_attribute(
                span,
                "tracetape.http.request.headers",
                list.value.unwrap().value.unwrap(),
            )
        },
        ExchangeError::InvalidHeader {
            key: "tracetape.http.request.headers",
            index: 1,
        },
    );
}

#[test]
fn lenient_where_the_format_allows() {
    // A string body (e.g. rewritten by a collector processor) is its UTF-8
    // bytes; a missing size is the length kept; missing headers are none.
    let mut document = document(&rich_recording());
    let span = &mut spans(&mut document)[0];
    set_attribute(
        span,
        "tracetape.http.request.body",
        Value::StringValue("hé".into()),
    );
    span.attributes.retain(|kv| {
        kv.key != "http.request.body.size" && kv.key != "tracetape.http.response.headers"
    });
    // An empty AnyValue counts as absent.
    span.attributes.push(KeyValue {
        key: "tracetape.error".into(),
        value: Some(AnyValue { value: None }),
        ..Default::default()
    });
    let back = decode_document(&document).unwrap();
    let server = &back.exchanges[0];
    assert_eq!(server.request.body.bytes.as_ref(), "hé".as_bytes());
    assert_eq!(server.request.body.size, 3);
    assert!(server.response.as_ref().unwrap().headers.is_empty());
    assert_eq!(server.error, None);
}

#[test]
fn empty_recording_round_trips_without_a_trace_id() {
    let mut recording = rich_recording();
    recording.exchanges.clear();
    recording.trace_id = TraceId::INVALID;
    let back = Recording::from_otlp_json(&encoded(&recording)).unwrap();
    assert_eq!(back, recording);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    // A file cut short anywhere (a crash, a full disk, a partial copy) is
    // reported, never half-read.
    let bytes = encoded(&rich_recording());
    let end = bytes.len() - 1; // without the final newline
    for len in 0..end {
        assert!(
            Recording::from_otlp_json(&bytes[..len]).is_err(),
            "a prefix of {len} bytes decoded"
        );
    }
    assert!(Recording::from_otlp_json(&bytes[..end]).is_ok());
}

#[test]
fn corrupted_bytes_never_panic() {
    let bytes = encoded(&rich_recording());
    // xorshift: deterministic, no extra dependency.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const INTERESTING: &[u8] = b"{}[]\":,0123456789-.eE\\ntfu\x00\xff";
    for _ in 0..3_000 {
        let mut mutated = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % mutated.len() as u64) as usize;
            match next() % 3 {
                0 => mutated[at] = INTERESTING[(next() % INTERESTING.len() as u64) as usize],
                1 => {
                    mutated.remove(at);
                }
                _ => mutated.insert(
                    at,
                    INTERESTING[(next() % INTERESTING.len() as u64) as usize],
                ),
            }
        }
        let _ = Recording::from_otlp_json(&mutated);
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let mut nested = Vec::new();
    nested.extend_from_slice(br#"{"resourceSpans":"#);
    nested.extend(std::iter::repeat_n(b'[', 100_000));
    assert!(matches!(
        Recording::from_otlp_json(&nested),
        Err(DecodeError::Json { .. })
    ));
}

/// The document written straight into the buffer is, byte for byte, what
/// serializing opentelemetry-proto's messages gives: for the usual
/// recordings and for every kind of value that JSON escapes or base64 pads.
#[test]
fn the_direct_writer_writes_what_the_messages_serialize_to() {
    let mut odd = rich_recording();
    odd.service_name = "quote \" back \\ nl \n tab \t nul \u{0} del \u{7f} \u{1f600} é".to_owned();
    for (index, exchange) in odd.exchanges.iter_mut().enumerate() {
        exchange.name = format!("{}\u{1}\u{1f}</script>", exchange.name);
        exchange.request.url = match index {
            0 => "/p\"a?q=\\&r=\u{2028}".to_owned(),
            1 => "*".to_owned(),
            _ => format!("http://h/{index}?x=\"y\""),
        };
        exchange
            .request
            .headers
            .push(header("x-odd\"", "v\r\n\u{8}"));
        exchange
            .request
            .headers
            .push(header("x-bin", [0xff_u8, 0xfe, 0]));
        exchange.request.body = crate::record::testing::whole(vec![7_u8; index]);
        exchange.start_unix_nanos = u64::MAX - index as u64;
        exchange.end_unix_nanos = 0;
        exchange.error = (index == 1).then(|| "bad \"thing\"\n".to_owned());
        if let Some(response) = &mut exchange.response {
            response.status = [0, u16::MAX, 200, 404][index % 4];
            response.body.size = u64::MAX;
            response.body.bytes = (0..=255_u8).cycle().take(100_003 + index).collect();
        }
    }
    odd.exchanges[0].parent_span_id = SpanId::INVALID;
    let mut empty = background_recording(9);
    empty.exchanges.clear();
    empty.trace_id = TraceId::INVALID;
    let mut methods = background_recording(3);
    for method in ["GET", "PATCH", "M-SEARCH", "get", ""] {
        let mut exchange = methods.exchanges[0].clone();
        exchange.request.method = method.to_owned();
        exchange.kind = ExchangeKind::Server;
        exchange.route = None;
        methods.exchanges.push(exchange);
    }
    for recording in [
        rich_recording(),
        background_recording(5),
        odd,
        empty,
        methods,
    ] {
        let mut expected = serde_json::to_vec(&encode(&recording)).unwrap();
        expected.push(b'\n');
        let written = recording.to_otlp_json().unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(expected.clone()).unwrap()
        );
        // Appended after what the buffer holds, not in place of it.
        let mut buffer = b"before\n".to_vec();
        recording.write_otlp_json(&mut buffer).unwrap();
        assert_eq!(&buffer[..7], b"before\n");
        assert_eq!(&buffer[7..], expected);
    }
}
