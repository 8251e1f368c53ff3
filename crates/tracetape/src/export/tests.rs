//! The direct encoding decodes to exactly what the SDK's own conversion
//! produces, for spans with every kind of field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;

use super::encode::{EncodedResource, encode};

fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version("1.2.3")
        .with_schema_url("https://opentelemetry.io/schemas/1.42.0")
        .with_attributes([KeyValue::new("scope.attr", true)])
        .build()
}

fn every_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("s", "text ü"),
        KeyValue::new("empty", ""),
        KeyValue::new("b", false),
        KeyValue::new("i", -7_i64),
        KeyValue::new("zero", 0_i64),
        KeyValue::new("f", 0.0_f64),
        KeyValue::new("big", "x".repeat(300)),
        KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("ints", Value::Array(Array::I64(vec![1, i64::MIN]))),
        KeyValue::new("floats", Value::Array(Array::F64(vec![1.5, -0.0]))),
        KeyValue::new(
            "strings",
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from(""),
            ])),
        ),
        KeyValue::new("no.values", Value::Array(Array::String(vec![]))),
    ]
}

fn span(n: u64, scope: InstrumentationScope) -> SpanData {
    let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128 + u128::from(n));
    let state = TraceState::from_key_value([("vendor", "v1"), ("other", "x")]).unwrap();
    let mut events = SpanEvents::default();
    events.events.push(Event::new(
        "exception",
        UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
        vec![KeyValue::new("exception.message", "boom")],
        2,
    ));
    events.dropped_count = 1;
    let mut links = SpanLinks::default();
    links.links.push(Link::new(
        SpanContext::new(
            TraceId::from(7_u128),
            SpanId::from(9_u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ),
        vec![KeyValue::new("link.attr", 1_i64)],
        0,
    ));
    SpanData {
        span_context: SpanContext::new(
            trace_id,
            SpanId::from(0x00f0_67aa_0ba9_02b7 + n),
            if n.is_multiple_of(2) {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            false,
            if n == 0 { state } else { TraceState::default() },
        ),
        parent_span_id: if n == 1 {
            SpanId::INVALID
        } else {
            SpanId::from(0xabc + n)
        },
        parent_span_is_remote: n == 2,
        span_kind: [
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Internal,
            SpanKind::Producer,
            SpanKind::Consumer,
        ][n as usize % 5]
            .clone(),
        name: Cow::Owned(format!("GET /items/{n}")),
        start_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + n),
        end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_001_000_000_000 + n),
        attributes: every_value(),
        dropped_attributes_count: n as u32,
        events: if n == 0 {
            events
        } else {
            SpanEvents::default()
        },
        links: if n == 0 { links } else { SpanLinks::default() },
        status: match n % 3 {
            0 => Status::Unset,
            1 => Status::Ok,
            _ => Status::error("it failed"),
        },
        instrumentation_scope: scope,
    }
}

fn batch() -> Vec<SpanData> {
    (0..6)
        .map(|n| {
            span(
                n,
                if n.is_multiple_of(2) {
                    scope("a")
                } else {
                    scope("b")
                },
            )
        })
        .collect()
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("encode-test")
        .with_attribute(KeyValue::new("deployment.environment.name", "test"))
        .with_schema_url([], "https://opentelemetry.io/schemas/1.42.0")
        .build()
}

#[test]
fn direct_encoding_matches_the_sdk_conversion() {
    let resource = resource();
    let mut bytes = Vec::new();
    encode(&batch(), &EncodedResource::new(&resource), &mut bytes);
    let ours = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let expected = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            batch(),
            &ResourceAttributesWithSchema::from(&resource),
        ),
    };
    assert_eq!(ours, expected);
    // Byte for byte too: the same fields in the same order.
    assert_eq!(bytes, expected.encode_to_vec());
}

#[test]
fn an_empty_resource_and_a_single_span_still_decode() {
    let mut bytes = Vec::new();
    encode(&batch()[..1], &EncodedResource::default(), &mut bytes);
    let ours = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let expected = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            batch().into_iter().take(1).collect(),
            &ResourceAttributesWithSchema::default(),
        ),
    };
    assert_eq!(ours, expected);
}
