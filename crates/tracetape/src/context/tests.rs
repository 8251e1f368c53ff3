//! Each helper carries the whole context (span, baggage, values of the
//! user's own) and leaves nothing attached behind it. Request-level flows
//! are in `tests/integration/context.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SpanData};

use super::*;
use crate::propagation::{BaggagePropagator, TraceContextPropagator};
use crate::test_support::{GLOBAL_PROVIDERS, Harness, attr_str};

/// A value of the user's own, stored in the context.
#[derive(Debug, Clone, PartialEq)]
struct Tenant(&'static str);

/// What a piece of work saw as its current context.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    span_id: SpanId,
    tenant: Option<Tenant>,
    region: Option<String>,
}

fn seen() -> Seen {
    let cx = Context::current();
    Seen {
        span_id: cx.span().span_context().span_id(),
        tenant: cx.get::<Tenant>().cloned(),
        region: cx.baggage().get("region").map(|v| v.to_string()),
    }
}

/// A context with a span, a baggage entry and a value of the user's own.
fn request_context(tracer: &SdkTracer) -> (Context, Seen) {
    let cx = Context::new()
        .with_baggage([KeyValue::new("region", "eu")])
        .with_value(Tenant("t-1"))
        .with_span(tracer.start_with_context("request", &Context::new()));
    let expected = Seen {
        span_id: cx.span().span_context().span_id(),
        tenant: Some(Tenant("t-1")),
        region: Some("eu".to_owned()),
    };
    (cx, expected)
}

fn empty() -> Seen {
    Seen {
        span_id: SpanId::INVALID,
        tenant: None,
        region: None,
    }
}

fn tracer(h: &Harness) -> SdkTracer {
    h.tracer_provider.tracer("context-tests")
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawn_runs_the_task_in_the_callers_context() {
    let h = Harness::new();
    let (cx, expected) = request_context(&tracer(&h));
    let task = {
        let _attached = cx.clone().attach();
        spawn(async {
            tokio::task::yield_now().await;
            seen()
        })
    };
    assert_eq!(task.await.unwrap(), expected);
    // Without it, a task starts with nothing.
    let _attached = cx.attach();
    assert_eq!(tokio::spawn(async { seen() }).await.unwrap(), empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawn_blocking_runs_the_closure_in_the_callers_context() {
    let h = Harness::new();
    let (cx, expected) = request_context(&tracer(&h));
    let (with, without) = {
        let _attached = cx.attach();
        (spawn_blocking(seen), tokio::task::spawn_blocking(seen))
    };
    assert_eq!(with.await.unwrap(), expected);
    assert_eq!(without.await.unwrap(), empty());
}

#[test]
fn threads_run_in_the_context_they_were_spawned_in() {
    let h = Harness::new();
    let (cx, expected) = request_context(&tracer(&h));
    let _attached = cx.attach();

    assert_eq!(thread::spawn(seen).join().unwrap(), expected);
    let named = thread::Builder::new()
        .name("worker-7".to_owned())
        .stack_size(256 * 1024)
        .spawn(|| (std::thread::current().name().map(str::to_owned), seen()))
        .unwrap();
    assert_eq!(
        named.join().unwrap(),
        (Some("worker-7".to_owned()), expected.clone())
    );
    let from_std = thread::Builder::from(std::thread::Builder::new().name("std".to_owned()));
    assert_eq!(from_std.spawn(seen).unwrap().join().unwrap(), expected);
    std::thread::scope(|scope| {
        let scoped = thread::Builder::new().spawn_scoped(scope, seen).unwrap();
        assert_eq!(scoped.join().unwrap(), expected);
        assert_eq!(scope.spawn(bind(seen)).join().unwrap(), expected);
        assert_eq!(scope.spawn(seen).join().unwrap(), empty());
    });
    assert_eq!(std::thread::spawn(seen).join().unwrap(), empty());
}

#[test]
fn bound_closures_run_in_the_context_they_were_made_in_and_leave_nothing_attached() {
    let h = Harness::new();
    let (cx, expected) = request_context(&tracer(&h));
    let (once, each, mut each_mut) = {
        let _attached = cx.clone().attach();
        let mut calls = 0;
        (
            bind(seen),
            bind_fn(|n: u32| (n, seen())),
            bind_fn_mut(move |()| {
                calls += 1;
                (calls, seen())
            }),
        )
    };
    // Called here, where nothing is attached, and on another thread.
    assert_eq!(once(), expected);
    assert_eq!(each(1), (1, expected.clone()));
    assert_eq!(each_mut(()), (1, expected.clone()));
    assert_eq!(each_mut(()), (2, expected.clone()));
    std::thread::scope(|scope| {
        assert_eq!(
            scope.spawn(|| each(2)).join().unwrap(),
            (2, expected.clone())
        );
    });
    assert_eq!(run_in(&cx, seen), expected);
    assert_eq!(seen(), empty());
    // Detached when the closure panics, too.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_in(&cx, || panic!("boom"))
    }));
    assert!(panicked.is_err());
    assert_eq!(seen(), empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_span_runs_the_future_in_a_child_span_that_ends_with_it() {
    let h = Harness::new();
    let tracer = tracer(&h);
    let (cx, parent) = request_context(&tracer);
    let inside = {
        let _attached = cx.clone().attach();
        async {
            tokio::task::yield_now().await;
            seen()
        }
        .in_span(&tracer, "work")
    };
    let inside = spawn(inside).await.unwrap();
    let spans = h.spans();
    let work = by_name(&spans, "work");
    assert_eq!(work.parent_span_id, parent.span_id);
    assert_eq!(
        work.span_context.trace_id(),
        cx.span().span_context().trace_id()
    );
    // The parent's baggage and values come along; the span is the new one.
    assert_eq!(inside.span_id, work.span_context.span_id());
    assert_eq!(inside.tenant, parent.tenant);
    assert_eq!(inside.region, parent.region);
    assert_eq!(seen(), empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_span_ends_the_span_when_the_future_is_dropped_unfinished() {
    let h = Harness::new();
    let tracer = tracer(&h);
    let (cx, parent) = request_context(&tracer);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let task = spawn(
        async move {
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
        }
        .in_span_with_context(&tracer, "abandoned", &cx),
    );
    started_rx.await.unwrap();
    assert!(h.spans().is_empty(), "the span ended before the drop");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let spans = h.spans();
    assert_eq!(by_name(&spans, "abandoned").parent_span_id, parent.span_id);
}

#[tokio::test]
async fn in_span_with_builder_keeps_the_kind_and_attributes() {
    let h = Harness::new();
    let tracer = tracer(&h);
    let (cx, parent) = request_context(&tracer);
    let builder = SpanBuilder::from_name("consume")
        .with_kind(SpanKind::Consumer)
        .with_attributes([KeyValue::new("messaging.system", "kafka")]);
    let future = {
        let _attached = cx.attach();
        async {}.in_span_with_builder(&tracer, builder)
    };
    assert!(future.context().is_some());
    future.await;
    let spans = h.spans();
    let consume = by_name(&spans, "consume");
    assert_eq!(consume.span_kind, SpanKind::Consumer);
    assert_eq!(consume.parent_span_id, parent.span_id);
    assert_eq!(
        attr_str(consume, "messaging.system").as_deref(),
        Some("kafka")
    );
}

fn w3c() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

fn remote_context() -> Context {
    let span_context = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "v1")]).unwrap(),
    );
    Context::new()
        .with_baggage([KeyValue::new("region", "eu")])
        .with_remote_span_context(span_context)
}

fn env_of(command: &std::process::Command, name: &str) -> Option<Option<String>> {
    command
        .get_envs()
        .find(|(k, _)| *k == OsStr::new(name))
        .map(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
}

#[test]
fn commands_get_the_context_in_their_environment() {
    let cx = remote_context();
    let mut std_command = std::process::Command::new("child");
    std_command.with_trace_context_from(&cx, &w3c());
    let mut tokio_command = tokio::process::Command::new("child");
    tokio_command.with_trace_context_from(&cx, &w3c());
    for command in [&std_command, tokio_command.as_std()] {
        assert_eq!(
            env_of(command, "TRACEPARENT"),
            Some(Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
            ))
        );
        assert_eq!(
            env_of(command, "TRACESTATE"),
            Some(Some("vendor=v1".to_owned()))
        );
        assert_eq!(
            env_of(command, "BAGGAGE"),
            Some(Some("region=eu".to_owned()))
        );
        assert_eq!(command.get_envs().count(), 3);
    }
}

// Guards against a child inheriting the TRACEPARENT this process was started
// with when there is no span here: it would join a trace it is not part of.
#[test]
fn fields_the_context_does_not_fill_are_removed_from_the_child() {
    let mut command = std::process::Command::new("child");
    command
        .env("TRACEPARENT", "00-inherited")
        .env("BAGGAGE", "stale=1")
        .env("KEEP", "me")
        .with_trace_context_from(&Context::new(), &w3c());
    assert_eq!(env_of(&command, "TRACEPARENT"), Some(None));
    assert_eq!(env_of(&command, "TRACESTATE"), Some(None));
    assert_eq!(env_of(&command, "BAGGAGE"), Some(None));
    assert_eq!(env_of(&command, "KEEP"), Some(Some("me".to_owned())));
}

#[test]
fn b3_fields_become_environment_variable_names() {
    let propagator = crate::propagation::B3Propagator::new()
        .with_encoding(crate::propagation::B3Encoding::MultipleHeaders);
    let mut command = std::process::Command::new("child");
    command.with_trace_context_from(&remote_context(), &propagator);
    assert_eq!(
        env_of(&command, "X_B3_TRACEID"),
        Some(Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()))
    );
    assert_eq!(
        env_of(&command, "X_B3_SPANID"),
        Some(Some("00f067aa0ba902b7".to_owned()))
    );
    // The carrier written is what a child reads back.
    let carrier: EnvCarrier = command
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
        .collect();
    let extracted = propagator.extract(&carrier);
    assert_eq!(
        extracted.span().span_context().span_id(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
}

#[tokio::test]
async fn with_trace_context_uses_the_global_propagator_and_the_current_context() {
    let _global = GLOBAL_PROVIDERS.lock().await;
    opentelemetry::global::set_text_map_propagator(w3c());
    let mut command = std::process::Command::new("child");
    {
        let _attached = remote_context().attach();
        command.with_trace_context();
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry::trace::noop::NoopTextMapPropagator::new(),
    );
    assert_eq!(
        env_of(&command, "TRACEPARENT"),
        Some(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
        ))
    );
    assert_eq!(
        env_of(&command, "BAGGAGE"),
        Some(Some("region=eu".to_owned()))
    );
}

#[test]
fn from_env_with_reads_this_process_environment() {
    // The test runner's environment carries no trace context (a child
    // process test in tests/integration/context_process.rs covers the rest):
    // extraction leaves the current context as it is.
    let before = Context::current().span().span_context().clone();
    let cx = from_env_with(&w3c());
    assert_eq!(cx.span().span_context(), &before);
}
