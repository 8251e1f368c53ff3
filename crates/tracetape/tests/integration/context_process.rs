//! Row: a child process. The parent writes its context into the child's
//! environment (`TRACEPARENT`, `TRACESTATE`, `BAGGAGE`); the child reads it
//! at start-up. The child is this test binary run again for one ignored
//! test, told its role by an environment variable; it prints the ids of the
//! span it made, and the parent checks them against its own span.

use std::collections::HashMap;
use std::process::Output;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracetape::context::{self, CommandExt as _, FutureExt as _};

use super::{Spans, w3c};

/// Tells the child test which start-up helper to use: `attach` (a
/// synchronous `main`) or `with-context` (an async one).
const ROLE: &str = "TRACETAPE_TEST_CONTEXT_CHILD";
/// The child test, by its name inside this test binary.
const CHILD_TEST: &str = "context::process::child_reports_the_span_it_made";
/// Starts the line the child prints its span on.
const MARKER: &str = "tracetape-context-child:";

// The child side: does nothing unless run by the tests below.
#[test]
#[ignore = "the child process of the tests below, which run it"]
fn child_reports_the_span_it_made() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    // A process of its own: the global propagator is this test's to set.
    opentelemetry::global::set_text_map_propagator(w3c());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("child");
    let work = || {
        tracer.in_span("child work", |cx| {
            cx.baggage()
                .get("build.id")
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
    };
    let build_id = match role.as_str() {
        "attach" => {
            let _parent = context::attach_from_env();
            work()
        }
        "with-context" => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { work() }.with_context(context::from_env())),
        other => panic!("unknown role {other}"),
    };
    let spans = exporter.get_finished_spans().unwrap();
    let [span] = spans.as_slice() else {
        panic!("one span expected: {spans:#?}")
    };
    println!(
        "{MARKER} trace_id={} span_id={} parent_span_id={} build.id={build_id}",
        span.span_context.trace_id(),
        span.span_context.span_id(),
        span.parent_span_id,
    );
}

/// What the child reported about its span.
#[derive(Debug)]
struct ChildSpan {
    trace_id: String,
    parent_span_id: String,
    build_id: String,
}

fn child_command() -> (std::path::PathBuf, [&'static str; 5]) {
    let exe = std::env::current_exe().unwrap();
    let args = [
        CHILD_TEST,
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    (exe, args)
}

fn child_span(output: &Output) -> ChildSpan {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.split_once(MARKER).map(|(_, fields)| fields))
        .unwrap_or_else(|| panic!("the child ran no test {CHILD_TEST}:\n{stdout}"));
    let fields: HashMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|field| field.split_once('='))
        .collect();
    ChildSpan {
        trace_id: fields["trace_id"].to_owned(),
        parent_span_id: fields["parent_span_id"].to_owned(),
        build_id: fields["build.id"].to_owned(),
    }
}

/// The parent's span, with baggage, to start children under.
fn parent_context(spans: &Spans) -> Context {
    Context::new()
        .with_baggage([KeyValue::new("build.id", "42")])
        .with_span(
            spans
                .tracer()
                .start_with_context("run migrations", &Context::new()),
        )
}

#[track_caller]
fn assert_child_of(child: &ChildSpan, parent: &SpanData) {
    assert_eq!(child.trace_id, parent.span_context.trace_id().to_string());
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id().to_string()
    );
    assert_eq!(child.build_id, "42");
}

#[track_caller]
fn assert_new_root(child: &ChildSpan, parent: &SpanData) {
    assert_ne!(child.trace_id, parent.span_context.trace_id().to_string());
    assert_ne!(
        child.parent_span_id,
        parent.span_context.span_id().to_string()
    );
    assert_ne!(child.build_id, "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_process_starts_a_new_trace_unless_given_the_context() {
    let mut spans = Spans::new();
    let cx = parent_context(&spans);
    let (exe, args) = child_command();

    let without = {
        let exe = exe.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .args(args)
                .env(ROLE, "attach")
                .output()
                .unwrap()
        })
    };
    let with = {
        let cx = cx.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .args(args)
                .env(ROLE, "attach")
                .with_trace_context_from(&cx, &w3c())
                .output()
                .unwrap()
        })
    };
    let (without, with) = (without.await.unwrap(), with.await.unwrap());
    cx.span().end();
    let parent = spans.next(1).await.remove(0);
    assert_new_root(&child_span(&without), &parent);
    assert_child_of(&child_span(&with), &parent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_child_process_continues_the_trace() {
    let mut spans = Spans::new();
    let cx = parent_context(&spans);
    let (exe, args) = child_command();

    let output = tokio::process::Command::new(exe)
        .args(args)
        .env(ROLE, "with-context")
        .with_trace_context_from(&cx, &w3c())
        .output()
        .await
        .unwrap();
    cx.span().end();
    let parent = spans.next(1).await.remove(0);
    let child = child_span(&output);
    assert_child_of(&child, &parent);
    assert_ne!(child.parent_span_id, SpanId::INVALID.to_string());
}
