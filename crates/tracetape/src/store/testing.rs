//! Helpers for the store's tests: real spans through a real SDK pipeline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::LocalStore;

/// A store in a fresh temporary directory (`traces` below it, not yet
/// created, so the first export has to create it).
pub(crate) fn temp_store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("store").join("traces"));
    (dir, store)
}

/// A provider exporting every span as its own batch into `store`.
pub(crate) fn provider(store: &LocalStore, service: &str) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(store.exporter())
        .with_resource(
            Resource::builder_empty()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build()
}

/// Records one request: a SERVER root with a CLIENT child and an INTERNAL
/// child that fails with an exception. Returns the trace id as hex.
pub(crate) fn record_request(provider: &SdkTracerProvider, route: &str) -> String {
    let tracer = provider.tracer("tracetape-test");
    let mut root = tracer
        .span_builder(format!("GET {route}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", route.to_owned()),
            KeyValue::new("http.response.status_code", 500_i64),
        ])
        .start(&tracer);
    let trace_id = root.span_context().trace_id().to_string();
    root.set_status(Status::error("handler failed"));
    let cx = Context::current_with_span(root);

    let mut db = tracer
        .span_builder("SELECT users")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("db.system.name", "sqlite")])
        .start_with_context(&tracer, &cx);
    db.end();

    let mut render = tracer
        .span_builder("render")
        .start_with_context(&tracer, &cx);
    render.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "TemplateError"),
            KeyValue::new("exception.message", "missing field"),
        ],
    );
    render.set_status(Status::error("missing field"));
    render.end();

    cx.span().end();
    trace_id
}
