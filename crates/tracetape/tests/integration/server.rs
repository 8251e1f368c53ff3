//! The server layer end to end: a real axum server, a real reqwest client.

use axum::Router;
use axum::routing::get;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanId, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracetape::server::TraceLayer;

use crate::support::{channel_provider, serve};

fn attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_sent_by_a_real_client_continues_the_trace_and_baggage_reaches_the_handler() {
    let (provider, spans) = channel_provider();
    let app = Router::new()
        .route(
            "/checkout/{cart}",
            get(|| async {
                let cx = Context::current();
                let user = cx
                    .baggage()
                    .get("user.id")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                format!("{user} {}", cx.span().span_context().span_id())
            }),
        )
        .layer(
            TraceLayer::new()
                .with_tracer_provider(provider.clone())
                .with_propagator(propagator()),
        );
    let addr = serve(app).await;
    let body = reqwest::Client::new()
        .get(format!("http://{addr}/checkout/991?step=pay"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("baggage", "user.id=u-17,region=eu")
        .header("user-agent", "e2e/1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let span = spans.next();
    assert_eq!(span.name, "GET /checkout/{cart}");
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex("b7ad6b7169203331").unwrap()
    );
    // The handler saw the baggage and ran inside the SERVER span.
    assert_eq!(body, format!("u-17 {}", span.span_context.span_id()));
    assert_eq!(attr(&span, "url.query"), Some("step=pay".into()));
    assert_eq!(attr(&span, "server.address"), Some("127.0.0.1".into()));
    assert_eq!(
        attr(&span, "server.port"),
        Some(Value::I64(i64::from(addr.port())))
    );
    assert_eq!(
        attr(&span, "network.peer.address"),
        Some("127.0.0.1".into())
    );
    assert_eq!(attr(&span, "client.address"), Some("127.0.0.1".into()));
    assert!(matches!(attr(&span, "network.peer.port"), Some(Value::I64(p)) if p > 0));
    assert_eq!(attr(&span, "user_agent.original"), Some("e2e/1".into()));
    assert_eq!(
        attr(&span, "http.response.status_code"),
        Some(Value::I64(200))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let (provider, spans) = channel_provider();
    async fn explode() -> &'static str {
        panic!("boom")
    }
    let app = Router::new()
        .route("/explode", get(explode))
        .route("/fine", get(|| async { "fine" }))
        .layer(TraceLayer::new().with_tracer_provider(provider.clone()));
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{addr}/explode"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let span = spans.next();
    assert_eq!(span.name, "GET /explode");
    assert!(matches!(span.status, Status::Error { .. }));
    let response = client
        .get(format!("http://{addr}/fine"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "fine");
    assert_eq!(spans.next().name, "GET /fine");
}
