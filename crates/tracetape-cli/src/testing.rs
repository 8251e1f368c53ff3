//! What the unit tests share: recordings built from values,
//! `tracetape replay`'s arguments parsed from flags, and span stores
//! filled through a real SDK pipeline.

use clap::Parser;

use tracetape::opentelemetry::trace::{
    Span as _, SpanId, SpanKind, Status, TraceContextExt as _, TraceId, Tracer as _,
    TracerProvider as _,
};
use tracetape::opentelemetry::{Context, KeyValue};
use tracetape::opentelemetry_sdk::Resource;
use tracetape::opentelemetry_sdk::trace::SdkTracerProvider;
use tracetape::record::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RequestRecord, ResponseRecord,
};

use tracetape::store::LocalStore;

use crate::replay::ReplayArgs;

/// `tracetape replay`'s arguments alone, to parse them without the rest of
/// the command line.
#[derive(Debug, Parser)]
struct Replay {
    #[command(flatten)]
    args: ReplayArgs,
}

/// The arguments of `tracetape replay FLAGS...`.
///
/// # Panics
///
/// When the flags do not parse.
#[allow(clippy::unwrap_used)]
pub(crate) fn replay_args<'a>(flags: impl IntoIterator<Item = &'a str>) -> ReplayArgs {
    let argv = std::iter::once("tracetape replay").chain(flags);
    Replay::try_parse_from(argv).unwrap().args
}

/// `GET /` without headers, body or response, lasting a nanosecond from
/// `start`, by the span `span` under `parent`.
pub(crate) fn exchange(kind: ExchangeKind, span: u64, parent: u64, start: u64) -> Exchange {
    Exchange {
        kind,
        span_id: SpanId::from(span),
        parent_span_id: SpanId::from(parent),
        name: "GET".to_owned(),
        route: None,
        start_unix_nanos: start,
        end_unix_nanos: start + 1,
        request: RequestRecord {
            method: "GET".to_owned(),
            url: "/".to_owned(),
            headers: Vec::new(),
            body: BodyRecord::default(),
        },
        response: None,
        error: None,
    }
}

/// A response with `status`, `content-type: application/json` and `body`.
pub(crate) fn json_response(status: u16, body: &str) -> ResponseRecord {
    ResponseRecord {
        status,
        headers: vec![HeaderRecord {
            name: "content-type".to_owned(),
            value: b"application/json".to_vec().into(),
        }],
        body: BodyRecord {
            bytes: body.as_bytes().to_vec().into(),
            truncated: false,
            size: body.len() as u64,
        },
        trailers: Vec::new(),
    }
}

/// A recording of `service` in the trace `trace`, background when it has
/// no inbound exchange.
pub(crate) fn recording(trace: u128, service: &str, exchanges: Vec<Exchange>) -> Recording {
    Recording {
        trace_id: TraceId::from(trace),
        service_name: service.to_owned(),
        background: !exchanges.iter().any(|e| e.kind == ExchangeKind::Server),
        exchanges,
    }
}

/// A span store in a fresh temporary directory (`traces` below it, not
/// yet created, so the first export has to create it).
///
/// # Panics
///
/// When no temporary directory can be made.
#[allow(clippy::unwrap_used)]
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
