//! What the tests of the `tracetape` binary share: running it, a span
//! store written by the library, and recording files built from
//! `Recording` values.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

pub fn provider(store: &Path, service: &'static str) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(LocalStore::new(store).exporter())
        .with_resource(Resource::builder_empty().with_service_name(service).build())
        .build()
}

/// Records a request: SERVER root with a CLIENT child (which has a child of
/// its own) and a failing INTERNAL child. Returns the trace id.
pub fn record_request(provider: &SdkTracerProvider, route: &str, fail: bool) -> String {
    let tracer = provider.tracer("cli-test");
    let mut root = tracer
        .span_builder(format!("GET {route}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("custom.note", "hello world"),
            KeyValue::new("http.route", route.to_owned()),
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new(
                "http.response.status_code",
                if fail { 500_i64 } else { 200 },
            ),
        ])
        .start(&tracer);
    let trace_id = root.span_context().trace_id().to_string();
    if fail {
        root.set_status(Status::error("handler failed"));
    }
    let root_cx = Context::current_with_span(root);

    let db = tracer
        .span_builder("SELECT users")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("server.address", "db.local")])
        .start_with_context(&tracer, &root_cx);
    let db_cx = root_cx.with_span(db);
    tracer
        .span_builder("decode rows")
        .start_with_context(&tracer, &db_cx)
        .end();
    db_cx.span().end();

    let mut render = tracer
        .span_builder("render")
        .start_with_context(&tracer, &root_cx);
    if fail {
        render.add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", "TemplateError"),
                KeyValue::new("exception.message", "missing field"),
            ],
        );
        render.set_status(Status::error("missing field"));
    }
    render.end();
    root_cx.span().end();
    trace_id
}

/// Runs `tracetape` with `args` in an empty working directory, so that
/// the default `.tracetape/...` directories hold nothing.
pub fn tracetape(args: &[&str]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    tracetape_in(cwd.path(), args)
}

/// Runs `tracetape` with `args` in the working directory `cwd`.
pub fn tracetape_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracetape"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Writes one request's trace (see [`record_request`]) of `checkout` into
/// the span store `store`. Returns its trace id.
pub fn store_one_trace(store: &Path, route: &str, fail: bool) -> String {
    let provider = provider(store, "checkout");
    let trace_id = record_request(&provider, route, fail);
    provider.shutdown().unwrap();
    trace_id
}

/// Asserts that the command failed (exit 1) with `error` and at least one
/// cause under it.
pub fn assert_fails_with_cause(output: &Output, error: &str) {
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(output);
    let mut lines = message.lines();
    assert_eq!(lines.next(), Some(format!("error: {error}").as_str()));
    assert!(
        lines.next().is_some_and(|l| l.starts_with("  caused by: ")),
        "{message}"
    );
}

/// 2023-11-14T22:13:20Z, in nanoseconds since the Unix epoch.
pub const T0: u64 = 1_700_000_000_000_000_000;
/// A millisecond, in nanoseconds.
pub const MS: u64 = 1_000_000;

pub fn header(name: &str, value: &[u8]) -> HeaderRecord {
    HeaderRecord {
        name: name.to_owned(),
        value: value.to_vec().into(),
    }
}

/// A body kept whole.
pub fn body(bytes: &[u8]) -> BodyRecord {
    BodyRecord {
        bytes: bytes.to_vec().into(),
        truncated: false,
        size: bytes.len() as u64,
    }
}

/// An exchange without headers or bodies that lasted 2 ms and, with a
/// `status`, got a response.
pub fn exchange(
    kind: ExchangeKind,
    (span, parent): (u64, u64),
    method: &str,
    url: &str,
    start_unix_nanos: u64,
    status: Option<u16>,
) -> Exchange {
    Exchange {
        kind,
        span_id: SpanId::from(span),
        parent_span_id: SpanId::from(parent),
        name: method.to_owned(),
        route: None,
        start_unix_nanos,
        end_unix_nanos: start_unix_nanos + 2 * MS,
        request: RequestRecord {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: BodyRecord::default(),
        },
        response: status.map(|status| ResponseRecord {
            status,
            headers: Vec::new(),
            body: BodyRecord::default(),
            trailers: Vec::new(),
        }),
        error: None,
    }
}

/// A recording of `service`; one without an inbound exchange is a
/// background recording.
pub fn recording(trace_id: u128, service: &str, exchanges: Vec<Exchange>) -> Recording {
    Recording {
        trace_id: TraceId::from(trace_id),
        service_name: service.to_owned(),
        background: !exchanges.iter().any(|e| e.kind == ExchangeKind::Server),
        exchanges,
    }
}

/// Writes `recording` into `dir` as the recorder names its files; a
/// higher `seq` is a newer file.
pub fn write_recording(dir: &Path, seq: u64, recording: &Recording) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let name = format!("{:020}-4242-{seq:06}-{}.json", T0 + seq, recording.trace_id);
    let path = dir.join(name);
    fs::write(&path, recording.to_otlp_json().unwrap()).unwrap();
    path
}

/// A path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}
