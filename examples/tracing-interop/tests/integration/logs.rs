//! Log lines with the ids of the current span (`WithTraceIds`), and log
//! lines outside `tracing` spans as events of the current span
//! (`SpanEvents`).

use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

use crate::support::{Harness, fetch, ids_of};

/// Serves both services, makes one request, and returns the harness once
/// the four spans have ended.
async fn one_order() -> Harness {
    let harness = Harness::new();
    let stock_url = harness.stock_url().await;
    let orders = harness
        .serve(tracing_interop::orders(harness.client(), stock_url))
        .await;
    fetch(format!("http://{orders}/orders/7")).await;
    harness.spans(4).await;
    harness
}

#[tokio::test]
async fn log_line_in_a_handler_outside_tracing_spans_carries_the_server_span_ids() {
    let harness = one_order().await;
    let spans = harness.spans(4).await;
    let server = spans.get("GET /orders/{id}", SpanKind::Server);
    let line = harness.log_line("order requested");
    assert_eq!(line.ids(), ids_of(server), "{line:?}");
    // The called service's handler: its own SERVER span, same trace.
    let stock = spans.get("GET /stock/{sku}", SpanKind::Server);
    let line = harness.log_line("counting stock");
    assert_eq!(line.ids(), ids_of(stock), "{line:?}");
}

#[tokio::test]
async fn log_line_in_an_instrumented_fn_carries_its_span_ids() {
    let harness = one_order().await;
    let spans = harness.spans(4).await;
    let check_stock = spans.get("check_stock", SpanKind::Internal);
    let line = harness.log_line("asking the stock service");
    assert_eq!(line.ids(), ids_of(check_stock), "{line:?}");
    // The inner formatter still writes the rest of the line.
    assert!(
        line.0.contains("INFO check_stock{id=7}: tracing_interop:"),
        "{line:?}"
    );
}

#[tokio::test]
async fn log_line_outside_any_span_has_no_ids() {
    let harness = Harness::new();
    tracing::info!("starting");
    let line = harness.log_line("starting");
    assert_eq!(line.ids(), None, "{line:?}");
    assert!(line.0.contains("INFO"), "{line:?}");
}

fn event<'a>(span: &'a SpanData, name: &str) -> Option<&'a opentelemetry::trace::Event> {
    span.events.iter().find(|event| event.name == name)
}

fn event_attr(event: &opentelemetry::trace::Event, key: &str) -> Option<Value> {
    event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv: &KeyValue| kv.value.clone())
}

#[tokio::test]
async fn log_lines_outside_tracing_spans_are_events_of_the_server_span_and_only_there() {
    let harness = one_order().await;
    let spans = harness.spans(4).await;
    let server = spans.get("GET /orders/{id}", SpanKind::Server);
    let requested = event(server, "order requested").expect("an event of the SERVER span");
    assert_eq!(event_attr(requested, "order.id"), Some(Value::I64(7)));
    assert_eq!(event_attr(requested, "level"), Some("INFO".into()));
    assert_eq!(
        event_attr(requested, "target"),
        Some("tracing_interop".into())
    );
    let stock = spans.get("GET /stock/{sku}", SpanKind::Server);
    assert!(
        event(stock, "counting stock").is_some(),
        "{:?}",
        stock.events
    );
    // Inside `check_stock`, tracing-opentelemetry records the line on that
    // span; it must not be recorded twice.
    let check_stock = spans.get("check_stock", SpanKind::Internal);
    assert!(event(check_stock, "asking the stock service").is_some());
    assert!(event(server, "asking the stock service").is_none());
    assert_eq!(server.events.len(), 1, "{:?}", server.events);
}
