//! Checkout keeping its orders in PostgreSQL (a real server the test
//! starts): each order's query is a CLIENT span of its trace, a child of
//! checkout's SERVER span, and the order is in the database.

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use tokio::net::TcpListener;

use microservices::{Instrumentation, Orders, Upstreams};

#[path = "../../../../crates/tracetape/tests/integration/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use crate::support::str_attr;

async fn serve(listener: TcpListener, app: axum::Router) {
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_kept_in_postgres_is_a_query_in_its_trace() {
    let server = postgres::Postgres::start();
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let instrumentation = Instrumentation::global().with_tracer_provider(provider);
    let orders = Orders::connect(&server.url(), &instrumentation)
        .await
        .unwrap();

    let inventory = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pricing = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstreams = Upstreams::listening_at(
        inventory.local_addr().unwrap(),
        pricing.local_addr().unwrap(),
    )
    .unwrap();
    serve(inventory, microservices::inventory(&instrumentation)).await;
    serve(pricing, microservices::pricing(&instrumentation)).await;
    let checkout = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = checkout.local_addr().unwrap();
    let app = microservices::checkout_with_orders(
        upstreams,
        microservices::Behaviour::default(),
        Some(orders),
        &instrumentation,
    );
    serve(checkout, app).await;

    let order = json!({"order_id": "o-pg", "items": [{"sku": "tea", "qty": 2}]});
    let response = reqwest::Client::new()
        .post(format!("http://{address}/checkout"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt: serde_json::Value = response.json().await.unwrap();

    let finished = spans.get_finished_spans().unwrap();
    let root = finished
        .iter()
        .find(|span| span.span_kind == SpanKind::Server && span.name == "POST /checkout")
        .expect("checkout's SERVER span");
    let insert = finished
        .iter()
        .find(|span| span.name == "INSERT orders")
        .expect("the order's query");
    assert_eq!(insert.span_kind, SpanKind::Client);
    assert_eq!(insert.span_context.trace_id(), root.span_context.trace_id());
    assert_eq!(insert.parent_span_id, root.span_context.span_id());
    assert_eq!(
        str_attr(insert, "db.system.name").as_deref(),
        Some("postgresql")
    );

    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT total_cents FROM orders WHERE order_id = 'o-pg'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(json!(row.get::<_, i64>(0)), receipt["total_cents"]);
}
