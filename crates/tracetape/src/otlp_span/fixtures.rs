//! Spans with every kind of field, for the tests of the OTLP writers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

pub(crate) const AWKWARD: &str = "quote \" backslash \\ slash / nl \n cr \r tab \t bs \u{8} ff \u{c} \
                       nul \0 us \u{1f} del \u{7f} ü € 𝄞 \u{2028}";

pub(crate) fn scope(name: &'static str, with_extras: bool) -> InstrumentationScope {
    let builder = InstrumentationScope::builder(name);
    if with_extras {
        builder
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.42.0")
            .with_attributes([
                KeyValue::new("scope.attr", true),
                KeyValue::new("scope.text", AWKWARD),
            ])
            .build()
    } else {
        builder.build()
    }
}

pub(crate) fn every_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("s", "text ü"),
        KeyValue::new("awkward", AWKWARD),
        KeyValue::new(AWKWARD, "awkward key"),
        KeyValue::new("empty", ""),
        KeyValue::new("t", true),
        KeyValue::new("f", false),
        KeyValue::new("i", -7_i64),
        KeyValue::new("zero", 0_i64),
        KeyValue::new("min", i64::MIN),
        KeyValue::new("max", i64::MAX),
        KeyValue::new("f0", 0.0_f64),
        KeyValue::new("fneg0", -0.0_f64),
        KeyValue::new("fneg", -2.5_f64),
        KeyValue::new("fone", 1.0_f64),
        KeyValue::new("fthird", 1.0_f64 / 3.0),
        KeyValue::new("fbig", 1.7e308_f64),
        KeyValue::new("fmax", f64::MAX),
        KeyValue::new("fsmall", 4.9e-324_f64),
        KeyValue::new("ftiny", 1e-7_f64),
        KeyValue::new("f1e16", 1e16_f64),
        KeyValue::new("nan", f64::NAN),
        KeyValue::new("inf", f64::INFINITY),
        KeyValue::new("neginf", f64::NEG_INFINITY),
        KeyValue::new("big", "x".repeat(300)),
        KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new(
            "ints",
            Value::Array(Array::I64(vec![1, -1, 0, i64::MIN, i64::MAX])),
        ),
        KeyValue::new(
            "floats",
            Value::Array(Array::F64(vec![1.5, -0.0, 1e300, f64::NAN, f64::INFINITY])),
        ),
        KeyValue::new(
            "strings",
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from(""),
                StringValue::from(AWKWARD),
            ])),
        ),
        KeyValue::new("no.bools", Value::Array(Array::Bool(vec![]))),
        KeyValue::new("no.ints", Value::Array(Array::I64(vec![]))),
        KeyValue::new("no.floats", Value::Array(Array::F64(vec![]))),
        KeyValue::new("no.strings", Value::Array(Array::String(vec![]))),
    ]
}

pub(crate) fn span(n: u64, scope: InstrumentationScope) -> SpanData {
    let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128 + u128::from(n));
    let state = TraceState::from_key_value([("vendor", "v1"), ("other", "x")]).unwrap();
    let mut events = SpanEvents::default();
    events.events.push(Event::new(
        "exception",
        UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
        vec![KeyValue::new("exception.message", AWKWARD)],
        2,
    ));
    events
        .events
        .push(Event::new("bare", UNIX_EPOCH, Vec::new(), 0));
    events.dropped_count = 1;
    let mut links = SpanLinks::default();
    links.links.push(Link::new(
        SpanContext::new(
            TraceId::from(7_u128),
            SpanId::from(9_u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        ),
        vec![KeyValue::new("link.attr", 1_i64)],
        3,
    ));
    links.links.push(Link::new(
        SpanContext::new(
            TraceId::from(u128::MAX),
            SpanId::from(u64::MAX),
            TraceFlags::default(),
            false,
            TraceState::default(),
        ),
        Vec::new(),
        0,
    ));
    links.dropped_count = 4;
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
        name: if n == 3 {
            Cow::Borrowed(AWKWARD)
        } else {
            Cow::Owned(format!("GET /items/{n}"))
        },
        // One span starts before the epoch: both paths write 0.
        start_time: if n == 4 {
            UNIX_EPOCH - Duration::from_secs(1)
        } else {
            UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + n)
        },
        end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_001_000_000_000 + n),
        attributes: if n == 5 { Vec::new() } else { every_value() },
        dropped_attributes_count: n as u32,
        events: if n == 0 {
            events
        } else {
            SpanEvents::default()
        },
        links: if n == 0 { links } else { SpanLinks::default() },
        status: match n % 4 {
            0 => Status::Unset,
            1 => Status::Ok,
            2 => Status::error(AWKWARD),
            _ => Status::error(""),
        },
        instrumentation_scope: scope,
    }
}

pub(crate) fn batch() -> Vec<SpanData> {
    (0..8)
        .map(|n| {
            span(
                n,
                match n % 3 {
                    0 => scope("a", true),
                    1 => scope("b", false),
                    _ => scope("a", false),
                },
            )
        })
        .collect()
}

pub(crate) fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("json-test")
        .with_attribute(KeyValue::new("deployment.environment.name", AWKWARD))
        .with_attribute(KeyValue::new("host.cpus", 8_i64))
        .with_schema_url([], "https://opentelemetry.io/schemas/1.42.0")
        .build()
}
