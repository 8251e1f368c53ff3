//! One tree whichever API opened a span: `#[instrument]` with
//! tracing-opentelemetry, or OpenTelemetry's, nested in any order inside
//! tracetape's SERVER span, parent of tracetape's CLIENT span.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry_sdk::trace::SdkTracer;
use reqwest_middleware::ClientWithMiddleware;
use tracetape::tracing::WithTraceIds;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::{Harness, assert_parent, fetch, ids_of};

#[tokio::test]
async fn instrumented_fn_in_a_handler_is_the_server_span_child_and_the_client_span_parent() {
    let harness = Harness::new();
    let stock_url = harness.stock_url().await;
    let orders = harness
        .serve(tracing_interop::orders(harness.client(), stock_url))
        .await;

    let body = fetch(format!("http://{orders}/orders/7")).await;
    assert_eq!(body, "order 7: 12 in stock\n");

    let spans = harness.spans(4).await;
    spans.one_trace();
    let server = spans.get("GET /orders/{id}", SpanKind::Server);
    let check_stock = spans.get("check_stock", SpanKind::Internal);
    let client = spans.get("GET", SpanKind::Client);
    let stock = spans.get("GET /stock/{sku}", SpanKind::Server);
    assert_eq!(server.parent_span_id, SpanId::INVALID, "a root");
    assert_parent(check_stock, server);
    assert_parent(client, check_stock);
    assert_parent(stock, client);
}

/// State of the routers that nest the two kinds of span.
#[derive(Clone)]
struct Nesting {
    client: ClientWithMiddleware,
    stock_url: String,
    tracer: SdkTracer,
}

impl Nesting {
    async fn call_stock(&self) -> String {
        let response = self
            .client
            .get(format!("{}/stock/1", self.stock_url))
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    }
}

async fn nesting(harness: &Harness, app: Router<Nesting>) -> String {
    let state = Nesting {
        client: harness.client(),
        stock_url: harness.stock_url().await,
        tracer: harness.tracer(),
    };
    let addr = harness.serve(app.with_state(state)).await;
    fetch(format!("http://{addr}/")).await
}

#[tokio::test]
async fn otel_span_inside_an_instrumented_fn_is_the_client_span_parent() {
    #[tracing::instrument(name = "tracing-outer", skip_all)]
    async fn outer(nesting: &Nesting) -> String {
        let span = nesting.tracer.start("otel-inner");
        let cx = Context::current_with_span(span);
        nesting.call_stock().with_context(cx).await
    }
    let harness = Harness::new();
    let app = Router::new().route(
        "/",
        get(|State(nesting): State<Nesting>| async move { outer(&nesting).await }),
    );
    assert_eq!(nesting(&harness, app).await, "12");

    let spans = harness.spans(5).await;
    spans.one_trace();
    let server = spans.get("GET /", SpanKind::Server);
    let outer = spans.get("tracing-outer", SpanKind::Internal);
    let inner = spans.get("otel-inner", SpanKind::Internal);
    let client = spans.get("GET", SpanKind::Client);
    let stock = spans.get("GET /stock/{sku}", SpanKind::Server);
    assert_parent(outer, server);
    assert_parent(inner, outer);
    assert_parent(client, inner);
    assert_parent(stock, client);
}

#[tokio::test]
async fn instrumented_fn_inside_an_otel_span_is_the_client_span_parent() {
    #[tracing::instrument(name = "tracing-inner", skip_all)]
    async fn inner(nesting: &Nesting) -> String {
        nesting.call_stock().await
    }
    let harness = Harness::new();
    let app = Router::new().route(
        "/",
        get(|State(nesting): State<Nesting>| async move {
            let span = nesting.tracer.start("otel-outer");
            let cx = Context::current_with_span(span);
            inner(&nesting).with_context(cx).await
        }),
    );
    assert_eq!(nesting(&harness, app).await, "12");

    let spans = harness.spans(5).await;
    spans.one_trace();
    let server = spans.get("GET /", SpanKind::Server);
    let outer = spans.get("otel-outer", SpanKind::Internal);
    let inner = spans.get("tracing-inner", SpanKind::Internal);
    let client = spans.get("GET", SpanKind::Client);
    assert_parent(outer, server);
    assert_parent(inner, outer);
    assert_parent(client, inner);
}

/// What the `tracing` module's docs say of a subscriber without context
/// activation: the `tracing` span is still the SERVER span's child, but
/// the CLIENT span is its sibling, and log lines inside the `tracing` span
/// carry the SERVER span's ids.
#[tokio::test]
async fn without_context_activation_the_client_span_parents_under_the_server_span() {
    let harness = Harness::with_subscriber(|tracer, logs| {
        tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_context_activation(false),
            )
            .with(
                fmt::layer()
                    .event_format(WithTraceIds::new(fmt::format()))
                    .with_writer(logs),
            )
    });
    let stock_url = harness.stock_url().await;
    let orders = harness
        .serve(tracing_interop::orders(harness.client(), stock_url))
        .await;

    fetch(format!("http://{orders}/orders/7")).await;

    let spans = harness.spans(4).await;
    spans.one_trace();
    let server = spans.get("GET /orders/{id}", SpanKind::Server);
    let check_stock = spans.get("check_stock", SpanKind::Internal);
    let client = spans.get("GET", SpanKind::Client);
    assert_parent(check_stock, server);
    assert_parent(client, server);
    let line = harness.log_line("asking the stock service");
    assert_eq!(line.ids(), ids_of(server), "{line:?}");
}
