//! What the propagator tests share, and the tests that need the server
//! layer: the `random-trace-id` flag set on new traces and kept on
//! continued ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use tower::ServiceExt;

use super::{B3Encoding, B3Propagator, BaggagePropagator, TraceContextPropagator};
use crate::server::TraceLayer;

/// Request headers in the order they came, names compared without case,
/// as an HTTP header map reads them.
#[derive(Debug, Default)]
pub(super) struct Headers(Vec<(String, String)>);

impl Headers {
    pub(super) fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Headers(
            pairs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        )
    }
}

impl Extractor for Headers {
    fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key)?.into_iter().next()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// What `propagator` injects for `cx`.
pub(super) fn injected(
    propagator: &dyn TextMapPropagator,
    cx: &Context,
) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    propagator.inject_context(cx, &mut headers);
    headers
}

/// An SDK tracer provider recording to memory.
#[derive(Debug)]
struct Traced {
    spans: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

impl Traced {
    fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .with_simple_exporter(spans.clone())
            .build();
        Traced { spans, provider }
    }

    fn finished(&self) -> Vec<opentelemetry_sdk::trace::SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// A service behind the server layer that answers with the headers
    /// the propagators write for an outgoing call made in its handler.
    fn app(&self, propagator: TextMapCompositePropagator) -> Router {
        Router::new()
            .route(
                "/",
                get(|| async {
                    let mut outgoing = HashMap::new();
                    TextMapCompositePropagator::new(vec![
                        Box::new(TraceContextPropagator::new()),
                        Box::new(B3Propagator::new()),
                    ])
                    .inject_context(&Context::current(), &mut outgoing);
                    let mut lines: Vec<String> = outgoing
                        .into_iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    lines.sort();
                    lines.join("\n")
                }),
            )
            .layer(
                TraceLayer::new()
                    .with_tracer_provider(self.provider.clone())
                    .with_propagator(propagator)
                    .with_excluded_urls([]),
            )
    }
}

/// The outgoing headers of the handler for a request with `headers`.
async fn call(app: Router, headers: &[(&str, &str)]) -> HashMap<String, String> {
    let mut request = Request::get("/");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn w3c() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The flags field of a traceparent.
fn flags(traceparent: &str) -> &str {
    traceparent.rsplit('-').next().unwrap()
}

#[tokio::test]
async fn a_new_trace_is_sent_with_the_random_flag() {
    let traced = Traced::new();
    let outgoing = call(traced.app(w3c()), &[]).await;
    let traceparent = &outgoing["traceparent"];
    // Sampled by the root sampler, and random: the SDK's generator made the id.
    assert_eq!(flags(traceparent), "03", "{traceparent}");
    let server = traced.finished().remove(0);
    assert!(traceparent.contains(&server.span_context.trace_id().to_string()));
    assert!(traceparent.contains(&server.span_context.span_id().to_string()));
    // B3 has no such flag.
    assert!(outgoing["b3"].ends_with("-1"), "{outgoing:?}");
}

#[tokio::test]
async fn an_invalid_parent_restarts_the_trace_with_the_random_flag() {
    let traced = Traced::new();
    let sent = [(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.",
    )];
    let traceparent = &call(traced.app(w3c()), &sent).await["traceparent"];
    assert!(!traceparent.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(flags(traceparent), "03", "{traceparent}");
}

#[tokio::test]
async fn a_continued_trace_keeps_the_callers_random_flag() {
    // (incoming flags, outgoing flags, recorded server span flags)
    for (incoming, outgoing, recorded) in [
        ("01", "01", 0x01),
        ("03", "03", 0x03),
        // Not sampled by the caller: the parent-based sampler drops the
        // span, and the flag still goes on.
        ("02", "02", 0x02),
        ("00", "00", 0x00),
        // Reserved flags are not passed on.
        ("ff", "03", 0x03),
    ] {
        let traced = Traced::new();
        let sent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{incoming}");
        let headers = call(traced.app(w3c()), &[("traceparent", &sent)]).await;
        let traceparent = &headers["traceparent"];
        assert!(
            traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{traceparent}"
        );
        assert_eq!(flags(traceparent), outgoing, "{incoming}");
        let finished = traced.finished();
        if recorded & 0x01 == 0 {
            assert!(finished.is_empty(), "{incoming}");
        } else {
            let server = &finished[0];
            assert_eq!(
                server.span_context.trace_flags().to_u8(),
                recorded,
                "{incoming}"
            );
            assert!(server.parent_span_is_remote);
        }
    }
}

#[tokio::test]
async fn a_b3_parent_is_continued_without_the_random_flag() {
    let traced = Traced::new();
    let propagator = TextMapCompositePropagator::new(vec![Box::new(
        B3Propagator::new().with_encoding(B3Encoding::MultipleHeaders),
    )]);
    let sent = [
        ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("X-B3-SpanId", "e457b5a2e4d86bd1"),
        ("X-B3-Sampled", "1"),
    ];
    let outgoing = call(traced.app(propagator), &sent).await;
    let traceparent = &outgoing["traceparent"];
    assert!(traceparent.starts_with("00-80f198ee56343ba864fe8b2a57d3eff7-"));
    // Not our trace id: nothing says it is random.
    assert_eq!(flags(traceparent), "01", "{traceparent}");
    assert!(outgoing["b3"].starts_with("80f198ee56343ba864fe8b2a57d3eff7-"));
    let server = traced.finished().remove(0);
    assert_eq!(
        server.parent_span_id.to_string(),
        "e457b5a2e4d86bd1",
        "the server span is a child of the B3 span"
    );
}

#[tokio::test]
async fn b3_deny_without_ids_drops_the_new_trace_and_passes_the_denial_on() {
    let traced = Traced::new();
    let propagator = TextMapCompositePropagator::new(vec![Box::new(B3Propagator::new())]);
    let outgoing = call(traced.app(propagator), &[("b3", "0")]).await;
    assert!(traced.finished().is_empty());
    // A new trace id, not sampled; random all the same.
    let traceparent = &outgoing["traceparent"];
    assert_eq!(flags(traceparent), "02", "{traceparent}");
    assert!(!traceparent.contains(&TraceId::INVALID.to_string()));
    assert!(outgoing["b3"].ends_with("-0"), "{outgoing:?}");
}

#[tokio::test]
async fn b3_debug_without_ids_samples_the_new_trace_and_passes_debug_on() {
    let traced = Traced::new();
    let propagator = TextMapCompositePropagator::new(vec![Box::new(B3Propagator::new())]);
    let outgoing = call(traced.app(propagator), &[("b3", "d")]).await;
    assert_eq!(traced.finished().len(), 1);
    assert!(outgoing["b3"].ends_with("-d"), "{outgoing:?}");
}

#[test]
fn the_mark_is_for_one_trace() {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    let span = |trace: u128| {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(7),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        )
    };
    let propagator = TraceContextPropagator::new();
    let marked =
        super::trace_context::mark_random_root(Context::new().with_remote_span_context(span(1)));
    assert!(injected(&propagator, &marked)["traceparent"].ends_with("-03"));
    // Another trace started under the marked context is not marked.
    let other = marked.with_remote_span_context(span(2));
    assert!(injected(&propagator, &other)["traceparent"].ends_with("-01"));
    // Nothing to mark without a span.
    let empty = super::trace_context::mark_random_root(Context::new());
    assert!(injected(&propagator, &empty).is_empty());
}

#[test]
fn spans_under_a_new_root_keep_the_random_flag_sampled_or_dropped() {
    use opentelemetry::trace::{Tracer, TracerProvider};

    let propagator = TraceContextPropagator::new();
    for (sampler, expected) in [(Sampler::AlwaysOn, "03"), (Sampler::AlwaysOff, "02")] {
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(sampler)))
            .build();
        let tracer = provider.tracer("test");
        let root = super::with_span(&Context::new(), tracer.start("root"));
        assert_eq!(
            flags(&injected(&propagator, &root)["traceparent"]),
            expected
        );
        // A span the handler starts itself, with the SDK, under the root.
        let child = root.with_span(tracer.start_with_context("child", &root));
        let traceparent = &injected(&propagator, &child)["traceparent"];
        assert_eq!(flags(traceparent), expected, "{traceparent}");
        assert_eq!(
            child.span().span_context().trace_id(),
            root.span().span_context().trace_id()
        );
    }
}
