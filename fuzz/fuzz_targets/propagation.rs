//! The propagators on headers anyone can send: `traceparent`,
//! `tracestate` and `baggage` (several of each), B3 single and multiple.
//! Extracting must never panic, and what was extracted must survive being
//! injected and extracted again unchanged.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracetape::propagation::{B3Encoding, B3Propagator, BaggagePropagator, TraceContextPropagator};

/// The header each field of the input goes to, in turn.
const NAMES: [&str; 10] = [
    "traceparent",
    "tracestate",
    "baggage",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (n, field) in data.split(|&b| b == 0).enumerate() {
        if let Ok(value) = HeaderValue::from_bytes(field) {
            headers.append(HeaderName::from_static(NAMES[n % NAMES.len()]), value);
        }
    }

    let trace_context = TraceContextPropagator::new();
    let extracted = trace_context.extract(&HeaderExtractor(&headers));
    let again = round_trip(&trace_context, &extracted);
    let (before, after) = (
        extracted.span().span_context().clone(),
        again.span().span_context().clone(),
    );
    if before.is_valid() {
        assert_eq!(before.trace_id(), after.trace_id());
        assert_eq!(before.span_id(), after.span_id());
        assert_eq!(before.trace_flags(), after.trace_flags());
        assert_eq!(before.trace_state().header(), after.trace_state().header());
    } else {
        assert!(!after.is_valid());
    }

    let baggage = BaggagePropagator::new();
    let extracted = baggage.extract(&HeaderExtractor(&headers));
    let again = round_trip(&baggage, &extracted);
    assert_eq!(entries(&extracted), entries(&again));

    for encoding in [B3Encoding::SingleHeader, B3Encoding::MultipleHeaders] {
        let b3 = B3Propagator::new().with_encoding(encoding);
        let extracted = b3.extract(&HeaderExtractor(&headers));
        let again = round_trip(&b3, &extracted);
        let (before, after) = (
            extracted.span().span_context().clone(),
            again.span().span_context().clone(),
        );
        if before.is_valid() {
            assert_eq!(before.trace_id(), after.trace_id());
            assert_eq!(before.span_id(), after.span_id());
            assert_eq!(before.is_sampled(), after.is_sampled());
        }
    }
});

/// What `propagator` extracts from what it injected for `cx`.
fn round_trip(propagator: &dyn TextMapPropagator, cx: &Context) -> Context {
    let mut injected = HeaderMap::new();
    propagator.inject_context(cx, &mut HeaderInjector(&mut injected));
    propagator.extract(&HeaderExtractor(&injected))
}

/// The baggage of `cx`, sorted.
fn entries(cx: &Context) -> Vec<(KeyValue, String)> {
    let mut entries: Vec<(KeyValue, String)> = cx
        .baggage()
        .iter()
        .map(|(key, (value, metadata))| {
            (
                KeyValue::new(key.clone(), value.clone()),
                metadata.as_str().to_owned(),
            )
        })
        .collect();
    entries.sort_by(|a, b| a.0.key.as_str().cmp(b.0.key.as_str()));
    entries
}
