#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};

use super::*;
use crate::setup::ShutdownError;

/// A builder that reads `vars` instead of the process environment.
fn builder(vars: &[(&str, &str)]) -> TelemetryBuilder {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Telemetry::builder().with_env_lookup(move |name| env.get(name).cloned())
}

fn record_span(telemetry: &TelemetryGuard, name: &'static str) {
    let mut span = telemetry.tracer_provider().tracer("test").start(name);
    span.set_attribute(KeyValue::new("answer", 42));
    span.end();
}

#[test]
fn spans_reach_an_added_processor_with_the_resource() {
    let spans = InMemorySpanExporter::default();
    let telemetry = builder(&[
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=core"),
    ])
    .with_service_name("from-code")
    .with_traces_exporter(TracesExporter::None)
    .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
    .build();
    record_span(&telemetry, "work");

    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].name, "work");
    assert!(
        finished[0]
            .attributes
            .contains(&KeyValue::new("answer", 42))
    );
    telemetry.shutdown().unwrap();
}

#[test]
fn with_span_exporter_replaces_the_configured_exporter() {
    let spans = InMemorySpanExporter::default();
    let telemetry = builder(&[("OTEL_TRACES_EXPORTER", "console")])
        .with_span_exporter(spans.clone())
        .build();
    record_span(&telemetry, "batched");
    telemetry.force_flush().unwrap();
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].name, "batched");
}

#[test]
fn the_env_sampler_applies() {
    let spans = InMemorySpanExporter::default();
    let telemetry = builder(&[("OTEL_TRACES_SAMPLER", "always_off")])
        .with_traces_exporter(TracesExporter::None)
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build();
    record_span(&telemetry, "dropped");
    assert!(spans.get_finished_spans().unwrap().is_empty());
}

#[test]
fn the_code_sampler_wins_over_the_env_sampler() {
    let spans = InMemorySpanExporter::default();
    let telemetry = builder(&[("OTEL_TRACES_SAMPLER", "always_off")])
        .with_sampler(Sampler::AlwaysOn)
        .with_traces_exporter(TracesExporter::None)
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build();
    record_span(&telemetry, "kept");
    assert_eq!(spans.get_finished_spans().unwrap().len(), 1);
}

#[test]
fn sdk_disabled_records_nothing_but_returns_a_guard() {
    let spans = InMemorySpanExporter::default();
    let telemetry = builder(&[("OTEL_SDK_DISABLED", "true")])
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build();
    assert!(telemetry.is_disabled());
    record_span(&telemetry, "ignored");
    assert!(spans.get_finished_spans().unwrap().is_empty());
    telemetry.force_flush().unwrap();
    telemetry.shutdown().unwrap();
}

#[test]
fn code_can_enable_what_the_env_disables() {
    let telemetry = builder(&[("OTEL_SDK_DISABLED", "true")])
        .disabled(false)
        .with_traces_exporter(TracesExporter::None)
        .build();
    assert!(!telemetry.is_disabled());
}

#[test]
fn the_local_store_is_the_default_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    let telemetry = builder(&[]).with_local_store(store.clone()).build();
    record_span(&telemetry, "stored");
    telemetry.shutdown().unwrap();
    assert_eq!(store.files().unwrap().len(), 1, "one batch file written");
}

#[test]
fn console_and_none_exporters_build() {
    for exporter in [TracesExporter::Console, TracesExporter::None] {
        let telemetry = builder(&[("OTEL_METRICS_EXPORTER", "console")])
            .with_traces_exporter(exporter)
            .build();
        telemetry.shutdown().unwrap();
    }
}

#[test]
fn otlp_over_http_builds_outside_a_runtime() {
    let telemetry = builder(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=env"),
    ])
    .with_otlp_headers([("x-api-key", "code")])
    .with_otlp_timeout(Duration::from_millis(200))
    .with_metrics_exporter(MetricsExporter::None)
    .with_traces_exporter(TracesExporter::Otlp)
    .build();
    assert!(!telemetry.is_disabled());
    // Nothing was recorded, so shutting down exports nothing.
    telemetry.shutdown().unwrap();
}

#[test]
fn shutting_down_twice_is_an_error_and_drop_does_not_repeat_it() {
    let telemetry = builder(&[])
        .with_traces_exporter(TracesExporter::None)
        .build();
    telemetry.shutdown().unwrap();
    assert!(matches!(
        telemetry.shutdown(),
        Err(ShutdownError::AlreadyShutDown)
    ));
    drop(telemetry);
}

#[test]
fn the_propagator_follows_otel_propagators() {
    use opentelemetry::propagation::TextMapPropagator as _;
    let telemetry = builder(&[("OTEL_PROPAGATORS", "baggage")])
        .with_traces_exporter(TracesExporter::None)
        .build();
    let fields: Vec<_> = telemetry.propagator().fields().map(str::to_owned).collect();
    assert_eq!(fields, ["baggage"]);
}
