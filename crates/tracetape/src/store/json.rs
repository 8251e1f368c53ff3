//! Finished spans to an OTLP/JSON `TracesData` document, written directly
//! from the SDK's `SpanData`.
//!
//! The output is the same JSON, field for field and in the same order, as
//! converting with `group_spans_by_resource_and_scope` and serialising the
//! generated structs with `serde_json`: camel-case names, hex trace and span
//! ids, 64-bit integers and timestamps as decimal strings, enums as numbers,
//! every field present (proto3 defaults included), and non-finite doubles
//! as `null`. Skipping the intermediate structs saves copying every string
//! and most of the serialisation work.

use opentelemetry::trace::{SpanContext, SpanId, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use crate::otlp_span::{by_scope, flags, kind, nanos};

/// The resource part of every document, prepared once per resource.
#[derive(Debug, Default, Clone)]
pub(crate) struct JsonResource {
    /// The members of the resource's `attributes` array, comma-separated.
    attributes: Vec<u8>,
    schema_url: String,
}

impl JsonResource {
    /// Prepares `resource` for [`encode`].
    pub(crate) fn new(resource: &Resource) -> Self {
        let mut attributes = Vec::new();
        for (i, (key, value)) in resource.iter().enumerate() {
            if i > 0 {
                attributes.push(b',');
            }
            key_value(&mut attributes, key.as_str(), value);
        }
        Self {
            attributes,
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        }
    }
}

/// Appends the `TracesData` document for `spans` to `out`.
pub(crate) fn encode(spans: &[SpanData], resource: &JsonResource, out: &mut Vec<u8>) {
    let scopes = by_scope(spans);
    // A typical server span takes about a kilobyte; growing the buffer in
    // steps costs little, so this is only a first guess.
    out.reserve(resource.attributes.len() + spans.len() * 1024);
    out.extend_from_slice(br#"{"resourceSpans":[{"resource":{"attributes":["#);
    out.extend_from_slice(&resource.attributes);
    out.extend_from_slice(br#"],"droppedAttributesCount":0,"entityRefs":[]},"scopeSpans":["#);
    for (i, (scope, members)) in scopes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        scope_spans(out, scope, members);
    }
    out.extend_from_slice(br#"],"schemaUrl":"#);
    string(out, &resource.schema_url);
    out.extend_from_slice(b"}]}");
}

fn scope_spans(out: &mut Vec<u8>, scope: &InstrumentationScope, spans: &[&SpanData]) {
    out.extend_from_slice(br#"{"scope":{"name":"#);
    string(out, scope.name());
    out.extend_from_slice(br#","version":"#);
    string(out, scope.version().unwrap_or_default());
    out.extend_from_slice(br#","attributes":"#);
    attributes(out, scope.attributes());
    out.extend_from_slice(br#","droppedAttributesCount":0},"spans":["#);
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        span_object(out, span);
    }
    out.extend_from_slice(br#"],"schemaUrl":"#);
    string(out, scope.schema_url().unwrap_or_default());
    out.push(b'}');
}

fn span_object(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    ids(out, cx);
    out.extend_from_slice(br#","parentSpanId":""#);
    if span.parent_span_id != SpanId::INVALID {
        hex(out, &span.parent_span_id.to_bytes());
    }
    out.extend_from_slice(br#"","flags":"#);
    uint(
        out,
        u64::from(flags(span.parent_span_is_remote, cx.trace_flags().to_u8())),
    );
    out.extend_from_slice(br#","name":"#);
    string(out, &span.name);
    out.extend_from_slice(br#","kind":"#);
    uint(out, kind(&span.span_kind));
    out.extend_from_slice(br#","startTimeUnixNano":""#);
    uint(out, nanos(span.start_time));
    out.extend_from_slice(br#"","endTimeUnixNano":""#);
    uint(out, nanos(span.end_time));
    out.extend_from_slice(br#"","attributes":"#);
    attributes(out, span.attributes.iter());
    out.extend_from_slice(br#","droppedAttributesCount":"#);
    uint(out, u64::from(span.dropped_attributes_count));
    out.extend_from_slice(br#","events":["#);
    for (i, event) in span.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"timeUnixNano":""#);
        uint(out, nanos(event.timestamp));
        out.extend_from_slice(br#"","name":"#);
        string(out, &event.name);
        out.extend_from_slice(br#","attributes":"#);
        attributes(out, event.attributes.iter());
        out.extend_from_slice(br#","droppedAttributesCount":"#);
        uint(out, u64::from(event.dropped_attributes_count));
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"droppedEventsCount":"#);
    uint(out, u64::from(span.events.dropped_count));
    out.extend_from_slice(br#","links":["#);
    for (i, link) in span.links.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let lcx = &link.span_context;
        ids(out, lcx);
        out.extend_from_slice(br#","attributes":"#);
        attributes(out, link.attributes.iter());
        out.extend_from_slice(br#","droppedAttributesCount":"#);
        uint(out, u64::from(link.dropped_attributes_count));
        out.extend_from_slice(br#","flags":"#);
        uint(
            out,
            u64::from(flags(lcx.is_remote(), lcx.trace_flags().to_u8())),
        );
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"droppedLinksCount":"#);
    uint(out, u64::from(span.links.dropped_count));
    out.extend_from_slice(br#","status":{"message":"#);
    let (message, code): (&str, &[u8]) = match &span.status {
        Status::Unset => ("", b"0"),
        Status::Ok => ("", b"1"),
        Status::Error { description } => (description, b"2"),
    };
    string(out, message);
    out.extend_from_slice(br#","code":"#);
    out.extend_from_slice(code);
    out.extend_from_slice(b"}}");
}

/// Opens a span or link object with its trace id, span id and trace state.
fn ids(out: &mut Vec<u8>, cx: &SpanContext) {
    out.extend_from_slice(br#"{"traceId":""#);
    hex(out, &cx.trace_id().to_bytes());
    out.extend_from_slice(br#"","spanId":""#);
    hex(out, &cx.span_id().to_bytes());
    out.extend_from_slice(br#"","traceState":"#);
    string(out, &cx.trace_state().header());
}

/// A JSON array of `KeyValue` objects.
fn attributes<'a>(out: &mut Vec<u8>, attributes: impl Iterator<Item = &'a KeyValue>) {
    out.push(b'[');
    for (i, kv) in attributes.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key_value(out, kv.key.as_str(), &kv.value);
    }
    out.push(b']');
}

fn key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    out.extend_from_slice(br#"{"key":"#);
    string(out, key);
    out.extend_from_slice(br#","value":"#);
    any_value(out, value);
    out.push(b'}');
}

/// An `AnyValue` object: one member named after the kind of value.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => {
            out.extend_from_slice(br#"{"stringValue":"#);
            string(out, s.as_str());
        }
        Value::Bool(b) => {
            out.extend_from_slice(br#"{"boolValue":"#);
            boolean(out, *b);
        }
        Value::I64(i) => {
            out.extend_from_slice(br#"{"intValue":"#);
            int_string(out, *i);
        }
        Value::F64(f) => {
            out.extend_from_slice(br#"{"doubleValue":"#);
            double(out, *f);
        }
        Value::Array(array) => {
            out.extend_from_slice(br#"{"arrayValue":{"values":["#);
            match array {
                Array::Bool(values) => array_of(out, values, |out, v| {
                    out.extend_from_slice(br#"{"boolValue":"#);
                    boolean(out, *v);
                }),
                Array::I64(values) => array_of(out, values, |out, v| {
                    out.extend_from_slice(br#"{"intValue":"#);
                    int_string(out, *v);
                }),
                Array::F64(values) => array_of(out, values, |out, v| {
                    out.extend_from_slice(br#"{"doubleValue":"#);
                    double(out, *v);
                }),
                Array::String(values) => array_of(out, values, |out, v| {
                    out.extend_from_slice(br#"{"stringValue":"#);
                    string(out, v.as_str());
                }),
                // A kind of array this build does not know: an empty array.
                // (The SDK's conversion panics here.)
                _ => {}
            }
            out.extend_from_slice(b"]}");
        }
        // A kind of value this build does not know: an empty `AnyValue`, as
        // an unset oneof serialises. (The SDK's conversion panics here.)
        _ => out.push(b'{'),
    }
    out.push(b'}');
}

/// The members of an `ArrayValue`'s `values`; `open` writes each value's
/// object up to, not including, its closing brace.
fn array_of<T>(out: &mut Vec<u8>, values: &[T], open: impl Fn(&mut Vec<u8>, &T)) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        open(out, v);
        out.push(b'}');
    }
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// An `int64` as OTLP/JSON writes it: a quoted decimal string.
fn int_string(out: &mut Vec<u8>, i: i64) {
    out.push(b'"');
    if i < 0 {
        out.push(b'-');
    }
    uint(out, i.unsigned_abs());
    out.push(b'"');
}

/// A double as `serde_json` writes it (shortest round-trip form); NaN and
/// the infinities, which JSON cannot express, become `null` as there.
fn double(out: &mut Vec<u8>, f: f64) {
    match serde_json::Number::from_f64(f) {
        Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// An unsigned integer in decimal.
fn uint(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Lower-case hex digits of `bytes`, without quotes.
fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

/// How each byte is written inside a JSON string: 0 as it is, `u` as
/// `\u00XX`, anything else after a backslash.
const ESCAPE: [u8; 256] = {
    let mut table = [0_u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// A quoted JSON string, escaped as `serde_json` escapes: `"` and `\`,
/// the short forms `\b \f \n \r \t`, `\u00XX` for other control characters,
/// and everything else (non-ASCII included) as it is.
fn string(out: &mut Vec<u8>, s: &str) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Skip whole words of bytes that need no escape first.
    let mut start = 0;
    while let Some(word) = bytes.get(start..start + 8) {
        let mut lanes = [0_u8; 8];
        lanes.copy_from_slice(word);
        if needs_escape(u64::from_le_bytes(lanes)) {
            break;
        }
        start += 8;
    }
    out.extend_from_slice(&bytes[..start]);
    let skipped = start;
    for (i, &b) in bytes.iter().enumerate().skip(skipped) {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(DIGITS[usize::from(b >> 4)]);
            out.push(DIGITS[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes in `word` is a control character, `"`
/// or `\`.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below `n` (n <= 0x80) leaves its high bit set in `x - n`
    // while clear in `x`; a zero byte after `xor c` marks a byte equal to c.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (below(word, 0x20) | below(quote, 1) | below(backslash, 1)) != 0
}

#[cfg(test)]
mod tests;
