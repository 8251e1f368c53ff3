//! The test service against a stand-in for the W3C harness: a second axum
//! server on 127.0.0.1 that records the calls it receives, as the real
//! harness's callback endpoint does.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::{Value, json};
use tracetape::client::TracingMiddleware;
use tracetape::propagation::TraceContextPropagator;

/// A call the stand-in harness received.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    headers: HeaderMap,
    body: Value,
}

type Log = Arc<Mutex<Vec<Received>>>;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Serves `POST /callback/{id}`, recording each call; returns its address
/// and the record.
async fn start_harness() -> (SocketAddr, Log) {
    async fn callback(
        State(log): State<Log>,
        Path(id): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        log.lock().unwrap().push(Received { id, headers, body });
        "null"
    }
    let log = Log::default();
    let app = Router::new()
        .route("/callback/{id}", post(callback))
        .with_state(log.clone());
    (serve(app).await, log)
}

/// Serves the test service with its spans going to an in-memory exporter
/// (the simple processor exports each span as it ends) and tracetape's W3C
/// trace-context propagator, the one `tracetape::init` installs, on both
/// sides.
async fn start_service() -> (SocketAddr, InMemorySpanExporter) {
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let client = w3c_test_service::client(TracingMiddleware::from(
        tracetape::client::TraceLayer::new()
            .with_tracer_provider(provider.clone())
            .with_propagator(TraceContextPropagator::new()),
    ));
    let layer = tracetape::server::TraceLayer::new()
        .with_tracer_provider(provider)
        .with_propagator(TraceContextPropagator::new());
    let app = w3c_test_service::app_with_layer(client, layer);
    (serve(app).await, spans)
}

/// The single value of header `name`.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    assert!(values.next().is_none(), "more than one {name} header");
    Some(value.to_str().unwrap())
}

/// A traceparent split into its four fields, checked for shape.
fn fields(traceparent: &str) -> [&str; 4] {
    let parts: Vec<&str> = traceparent.split('-').collect();
    let [version, trace_id, parent_id, flags] = parts[..] else {
        panic!("malformed traceparent {traceparent:?}");
    };
    for (field, len) in [(trace_id, 32), (parent_id, 16), (flags, 2)] {
        assert_eq!(field.len(), len, "{traceparent}");
        assert!(
            field
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{traceparent}"
        );
    }
    assert_ne!(trace_id, "0".repeat(32), "{traceparent}");
    assert_ne!(parent_id, "0".repeat(16), "{traceparent}");
    [version, trace_id, parent_id, flags]
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_continue_the_callers_trace_in_order_with_new_parent_ids() {
    let (harness, log) = start_harness().await;
    let (service, spans) = start_service().await;
    let nested = json!([{ "url": "http://127.0.0.1:9/not-called", "arguments": [] }]);
    let response = reqwest::Client::new()
        .post(format!("http://{service}/test"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("tracestate", "foo=1,bar=2")
        .header("content-type", "application/json")
        .body(
            json!([
                { "url": format!("http://{harness}/callback/s.0"), "arguments": nested },
                { "url": format!("http://{harness}/callback/s.1"), "arguments": [] },
            ])
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    // The handler awaited both calls before answering: both are recorded.
    let received = log.lock().unwrap().clone();
    let ids: Vec<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["s.0", "s.1"]);
    // The arguments went out as they came, nesting included.
    assert_eq!(received[0].body, nested);
    assert_eq!(received[1].body, json!([]));

    let mut parent_ids = Vec::new();
    for call in &received {
        let traceparent = header(&call.headers, "traceparent").unwrap();
        let [version, trace_id, parent_id, flags] = fields(traceparent);
        assert_eq!(version, "00");
        assert_eq!(trace_id, TRACE_ID);
        assert_ne!(parent_id, PARENT_ID, "the incoming parent id was reused");
        assert_eq!(flags, "01");
        assert_eq!(header(&call.headers, "tracestate"), Some("foo=1,bar=2"));
        parent_ids.push(parent_id.to_owned());
    }
    assert_ne!(parent_ids[0], parent_ids[1]);

    // Each outgoing parent id is a CLIENT span, child of the SERVER span,
    // which is the child of what the caller sent.
    let spans = spans.get_finished_spans().unwrap();
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.name, "POST /test");
    assert_eq!(server.parent_span_id, SpanId::from_hex(PARENT_ID).unwrap());
    for parent_id in &parent_ids {
        let client = spans
            .iter()
            .find(|s| s.span_context.span_id() == SpanId::from_hex(parent_id).unwrap())
            .unwrap();
        assert_eq!(client.span_kind, SpanKind::Client);
        assert_eq!(client.name, "POST");
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        assert_eq!(
            client.span_context.trace_id(),
            TraceId::from_hex(TRACE_ID).unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_traceparent_starts_a_new_trace_and_drops_the_tracestate() {
    let (harness, log) = start_harness().await;
    let (service, _spans) = start_service().await;
    // Upper-case hex is not a valid traceparent.
    let invalid = format!(
        "00-{}-{}-01",
        TRACE_ID.to_uppercase(),
        PARENT_ID.to_uppercase()
    );
    let response = reqwest::Client::new()
        .post(format!("http://{service}/test"))
        .header("traceparent", &invalid)
        .header("tracestate", "foo=1")
        .body(
            json!([{ "url": format!("http://{harness}/callback/i.0"), "arguments": [] }])
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let traceparent = header(&received[0].headers, "traceparent").unwrap();
    let [version, trace_id, parent_id, _flags] = fields(traceparent);
    assert_eq!(version, "00");
    assert_ne!(trace_id, TRACE_ID);
    assert_ne!(parent_id, PARENT_ID);
    // A tracestate without a valid traceparent is discarded.
    assert_eq!(header(&received[0].headers, "tracestate"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_list_of_calls_is_a_bad_request() {
    let (service, _spans) = start_service().await;
    let response = reqwest::Client::new()
        .post(format!("http://{service}/test"))
        .body(r#"{"url": "http://127.0.0.1:9/"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
