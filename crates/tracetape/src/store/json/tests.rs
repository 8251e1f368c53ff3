//! The direct JSON is the same document the SDK's conversion plus
//! `serde_json` produces, for spans with every kind of field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry::{Array, Value};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;

use super::{JsonResource, encode, string};
use crate::otlp_span::fixtures::*;

/// The document the SDK's conversion produces.
fn expected(spans: Vec<SpanData>, resource: &ResourceAttributesWithSchema) -> TracesData {
    TracesData {
        resource_spans: group_spans_by_resource_and_scope(spans, resource),
    }
}

fn direct(spans: &[SpanData], resource: &JsonResource) -> Vec<u8> {
    let mut out = Vec::new();
    encode(spans, resource, &mut out);
    out
}

#[test]
fn direct_json_matches_the_sdk_conversion() {
    let resource = resource();
    let ours = direct(&batch(), &JsonResource::new(&resource));
    let expected = expected(batch(), &ResourceAttributesWithSchema::from(&resource));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&ours).unwrap(),
        serde_json::to_value(&expected).unwrap(),
    );
    // Byte for byte too: the same members in the same order, the same
    // number formatting and the same escapes.
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
}

#[test]
fn an_empty_resource_and_a_single_bare_span_match_too() {
    for spans in [&batch()[..1], &batch()[5..6]] {
        let ours = direct(spans, &JsonResource::default());
        let expected = expected(spans.to_vec(), &ResourceAttributesWithSchema::default());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&ours).unwrap(),
            serde_json::to_value(&expected).unwrap(),
        );
        assert_eq!(ours, serde_json::to_vec(&expected).unwrap());
    }
}

#[test]
fn the_output_reads_back_as_the_generated_structs() {
    let resource = resource();
    // Non-finite doubles are written as `null`, as the serde path writes
    // them, which need not read back; compare without them.
    let finite = |mut spans: Vec<SpanData>| {
        for span in &mut spans {
            span.attributes.retain(|kv| match &kv.value {
                Value::F64(f) => f.is_finite(),
                Value::Array(Array::F64(values)) => values.iter().all(|f| f.is_finite()),
                _ => true,
            });
        }
        spans
    };
    let ours = direct(&finite(batch()), &JsonResource::new(&resource));
    let read_back: TracesData = serde_json::from_slice(&ours).unwrap();
    assert_eq!(
        read_back,
        expected(
            finite(batch()),
            &ResourceAttributesWithSchema::from(&resource)
        )
    );
}

#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let mut all: Vec<String> = (0_u32..0x80)
        .filter_map(char::from_u32)
        .map(String::from)
        .collect();
    all.extend(["", "ü€𝄞", "\u{2028}\u{2029}", "\u{feff}", AWKWARD].map(String::from));
    all.push((0_u32..0x800).filter_map(char::from_u32).collect());
    for s in &all {
        let mut ours = Vec::new();
        string(&mut ours, s);
        assert_eq!(ours, serde_json::to_vec(s).unwrap(), "{s:?}");
    }
}

#[test]
fn escapes_are_found_at_every_offset_of_a_word() {
    for special in (0_u8..0x20).chain([b'"', b'\\', 0x7f, b'a']) {
        for at in 0..20 {
            let mut s = "x".repeat(at);
            s.push(char::from(special));
            s.push_str(&"ü".repeat(at));
            let mut ours = Vec::new();
            string(&mut ours, &s);
            assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }
}
