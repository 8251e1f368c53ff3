//! Which recorded call answers a live one, with whatever method, URL and
//! body the service sends (percent escapes, odd ports, query pairs, JSON
//! or not): matching must never panic, and a call made exactly as it was
//! recorded is always answered by that recorded call at the exact level.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use opentelemetry::trace::{SpanId, TraceId};
use tracetape::record::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RedactionKey, RequestRecord,
    ResponseRecord,
};
use tracetape::replay::matching::{Level, LiveCall, Matcher};

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0);
    let method = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let url = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let body = fields.next().unwrap_or_default();
    let other_url = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let other_body = fields.next().unwrap_or_default();

    let Ok(key) = RedactionKey::ephemeral() else {
        return;
    };
    let matcher = Matcher::new(Vec::new(), key);
    let recording = recording(&method, &url, body);
    let session = matcher.session(&recording);

    // Anything else the service may send: answered or not, never a panic.
    let _ =
        session.answer(&LiveCall::new(method.clone(), other_url).with_body(other_body.to_vec()));

    // The recorded call itself. The recording holds the URL as it was
    // sent, not as the recorder would have written it (user name,
    // password and signed query values redacted, as the live call is), so
    // the exact level is only promised for URLs without a query or an `@`.
    let again =
        session.answer(&LiveCall::new(method.clone(), url.clone()).with_body(body.to_vec()));
    if !url.contains('?') && !url.contains('@') {
        let answer = again.expect("a call made as recorded is answered");
        assert_eq!(answer.matched.level, Level::Exact);
        assert_eq!(answer.matched.index, 0);
    }
});

/// A recording of one inbound request that made one outbound call.
fn recording(method: &str, url: &str, body: &[u8]) -> Recording {
    let exchange = |kind, span, parent, method: &str, url: &str, body: &[u8]| Exchange {
        kind,
        span_id: SpanId::from(span),
        parent_span_id: SpanId::from(parent),
        name: method.to_owned(),
        route: None,
        start_unix_nanos: 10,
        end_unix_nanos: 20,
        request: RequestRecord {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: vec![HeaderRecord {
                name: "content-type".to_owned(),
                value: Bytes::from_static(b"application/json"),
            }],
            body: BodyRecord {
                bytes: Bytes::copy_from_slice(body),
                truncated: false,
                size: body.len() as u64,
            },
        },
        response: Some(ResponseRecord {
            status: 200,
            headers: Vec::new(),
            body: BodyRecord::default(),
            trailers: Vec::new(),
        }),
        error: None,
    };
    Recording {
        trace_id: TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        service_name: "fuzzed".to_owned(),
        background: false,
        exchanges: vec![
            exchange(ExchangeKind::Server, 1, 0, "POST", "/checkout", b"{}"),
            exchange(ExchangeKind::Client, 2, 1, method, url, body),
        ],
    }
}
