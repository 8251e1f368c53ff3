//! A recording's OTLP/JSON document written straight into the caller's
//! buffer: the same bytes as serializing opentelemetry-proto's types
//! (`encode`, which the tests compare with), without building them first,
//! so a body is read once, by the base64 encoder writing into the buffer,
//! rather than copied into a message and then encoded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use opentelemetry::trace::SpanId;

use super::{FormatVersion, Method, SCOPE_NAME, header, key, resource, route_key};
use crate::record::{BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording};

/// Appends the document of `recording`, on one line, and its newline.
pub(super) fn document(recording: &Recording, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"resourceSpans":[{"resource":{"attributes":["#);
    string_kv(out, resource::SERVICE_NAME, &recording.service_name);
    out.push(b',');
    string_kv(out, resource::VERSION, &FormatVersion::CURRENT.to_string());
    out.extend_from_slice(
        br#"],"droppedAttributesCount":0,"entityRefs":[]},"scopeSpans":[{"scope":{"name":"#,
    );
    string(out, SCOPE_NAME);
    out.extend_from_slice(br#","version":"#);
    string(out, env!("CARGO_PKG_VERSION"));
    out.extend_from_slice(br#","attributes":[],"droppedAttributesCount":0},"spans":["#);
    for (index, exchange) in recording.exchanges.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        span(out, recording, exchange);
    }
    out.extend_from_slice(br#"],"schemaUrl":""}],"schemaUrl":""}]}"#);
    out.push(b'\n');
}

fn span(out: &mut Vec<u8>, recording: &Recording, exchange: &Exchange) {
    out.extend_from_slice(br#"{"traceId":""#);
    out.extend_from_slice(recording.trace_id.to_string().as_bytes());
    out.extend_from_slice(br#"","spanId":""#);
    out.extend_from_slice(exchange.span_id.to_string().as_bytes());
    out.extend_from_slice(br#"","traceState":"","parentSpanId":""#);
    if exchange.parent_span_id != SpanId::INVALID {
        out.extend_from_slice(exchange.parent_span_id.to_string().as_bytes());
    }
    out.extend_from_slice(br#"","flags":0,"name":"#);
    string(out, &exchange.name);
    out.extend_from_slice(match exchange.kind {
        ExchangeKind::Server => br#","kind":2,"startTimeUnixNano":""#,
        ExchangeKind::Client | ExchangeKind::Database => br#","kind":3,"startTimeUnixNano":""#,
    });
    number(out, exchange.start_unix_nanos);
    out.extend_from_slice(br#"","endTimeUnixNano":""#);
    number(out, exchange.end_unix_nanos);
    out.extend_from_slice(br#"","attributes":["#);
    attributes(out, recording, exchange);
    out.extend_from_slice(
        br#"],"droppedAttributesCount":0,"events":[],"droppedEventsCount":0,"links":[],"droppedLinksCount":0,"status":{"message":"#,
    );
    match &exchange.error {
        Some(error) => {
            string(out, error);
            out.extend_from_slice(br#","code":2}}"#);
        }
        None => out.extend_from_slice(br#""","code":0}}"#),
    }
}

/// The span's attributes, in the order `encode_exchange` adds them.
fn attributes(out: &mut Vec<u8>, recording: &Recording, exchange: &Exchange) {
    let request = &exchange.request;
    bool_kv(out, key::BACKGROUND, recording.background);
    if exchange.kind == ExchangeKind::Database {
        out.push(b',');
        string_kv(out, key::DB_SYSTEM, "postgresql");
    }
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_or(Method::Other, |method| Method::of(&method));
    out.push(b',');
    string_kv(out, key::METHOD, method.attribute());
    if method == Method::Other {
        out.push(b',');
        string_kv(out, key::METHOD_ORIGINAL, &request.method);
    }
    out.push(b',');
    if exchange.kind == ExchangeKind::Server && request.url.starts_with('/') {
        match request.url.split_once('?') {
            Some((path, query)) => {
                string_kv(out, key::URL_PATH, path);
                out.push(b',');
                string_kv(out, key::URL_QUERY, query);
            }
            None => string_kv(out, key::URL_PATH, &request.url),
        }
    } else {
        string_kv(out, key::URL_FULL, &request.url);
    }
    if let Some(route) = &exchange.route {
        out.push(b',');
        string_kv(out, route_key(exchange.kind), route);
    }
    out.push(b',');
    headers(out, key::REQUEST_HEADERS, &request.headers);
    body(
        out,
        &request.body,
        [
            key::REQUEST_BODY,
            key::REQUEST_BODY_SIZE,
            key::REQUEST_BODY_TRUNCATED,
        ],
    );
    if let Some(response) = &exchange.response {
        out.push(b',');
        int_kv(out, key::STATUS_CODE, i64::from(response.status));
        out.push(b',');
        headers(out, key::RESPONSE_HEADERS, &response.headers);
        body(
            out,
            &response.body,
            [
                key::RESPONSE_BODY,
                key::RESPONSE_BODY_SIZE,
                key::RESPONSE_BODY_TRUNCATED,
            ],
        );
        if !response.trailers.is_empty() {
            out.push(b',');
            headers(out, key::RESPONSE_TRAILERS, &response.trailers);
        }
    }
    if let Some(error) = &exchange.error {
        out.push(b',');
        string_kv(out, key::ERROR, error);
    }
}

/// `,` then the body's three attributes.
fn body(out: &mut Vec<u8>, body: &BodyRecord, keys: [&str; 3]) {
    let [bytes_key, size_key, truncated_key] = keys;
    out.push(b',');
    kv_start(out, bytes_key);
    out.extend_from_slice(br#"{"bytesValue":""#);
    base64(out, &body.bytes);
    out.extend_from_slice(br#""}}"#);
    out.push(b',');
    int_kv(out, size_key, i64::try_from(body.size).unwrap_or(i64::MAX));
    out.push(b',');
    bool_kv(out, truncated_key, body.truncated);
}

/// Headers as an array of `{name, value}` kvlists.
fn headers(out: &mut Vec<u8>, key: &str, headers: &[HeaderRecord]) {
    kv_start(out, key);
    out.extend_from_slice(br#"{"arrayValue":{"values":["#);
    for (index, entry) in headers.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"kvlistValue":{"values":["#);
        string_kv(out, header::NAME, &entry.name);
        out.push(b',');
        match std::str::from_utf8(&entry.value) {
            Ok(text) => string_kv(out, header::VALUE, text),
            Err(_) => {
                kv_start(out, header::VALUE);
                out.extend_from_slice(br#"{"bytesValue":""#);
                base64(out, &entry.value);
                out.extend_from_slice(br#""}}"#);
            }
        }
        out.extend_from_slice(b"]}}");
    }
    out.extend_from_slice(b"]}}}");
}

/// `{"key":KEY,"value":` (the value and `}` follow).
fn kv_start(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(br#"{"key":"#);
    string(out, key);
    out.extend_from_slice(br#","value":"#);
}

fn string_kv(out: &mut Vec<u8>, key: &str, value: &str) {
    kv_start(out, key);
    out.extend_from_slice(br#"{"stringValue":"#);
    string(out, value);
    out.extend_from_slice(b"}}");
}

fn int_kv(out: &mut Vec<u8>, key: &str, value: i64) {
    kv_start(out, key);
    out.extend_from_slice(br#"{"intValue":""#);
    let mut digits = itoa_buffer();
    out.extend_from_slice(format_i64(&mut digits, value));
    out.extend_from_slice(br#""}}"#);
}

fn bool_kv(out: &mut Vec<u8>, key: &str, value: bool) {
    kv_start(out, key);
    out.extend_from_slice(if value {
        br#"{"boolValue":true}}"#
    } else {
        br#"{"boolValue":false}}"#
    });
}

/// A JSON string, escaped exactly as serde_json escapes it. Most strings
/// (attribute keys, header names and values, paths) need no escape: they
/// are copied whole rather than looked at byte by byte.
fn string(out: &mut Vec<u8>, text: &str) {
    // Looks at every byte without stopping early, which the compiler
    // turns into a few wide comparisons.
    let escaped = (text.bytes()).fold(false, |escaped, byte| {
        escaped | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if !escaped {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail, nor can serializing a string.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Base64 (standard, padded) of `bytes`, appended: the one pass over a
/// body between its capture and the file.
fn base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    let len = bytes.len().div_ceil(3) * 4;
    out.resize(start + len, 0);
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

fn number(out: &mut Vec<u8>, value: u64) {
    let mut digits = itoa_buffer();
    out.extend_from_slice(format_u64(&mut digits, value));
}

/// Room for the digits of any 64-bit integer and a sign.
fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

fn format_u64(buf: &mut [u8; 20], mut value: u64) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buf[at..];
        }
    }
}

fn format_i64(buf: &mut [u8; 20], value: i64) -> &[u8] {
    if value >= 0 {
        return format_u64(buf, value.unsigned_abs());
    }
    let digits = format_u64(buf, value.unsigned_abs()).len();
    let at = buf.len() - digits - 1;
    buf[at] = b'-';
    &buf[at..]
}
