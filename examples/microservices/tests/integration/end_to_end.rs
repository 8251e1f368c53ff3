//! One checkout through the three services makes one connected trace.

use std::collections::HashSet;

use microservices::{Item, Order, Receipt, Service, unit_price_cents};
use opentelemetry::Value;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

use crate::support::{Stack, attr, by_id, str_attr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_checkout_is_one_trace_across_the_three_services() {
    let stack = Stack::start().await;
    let order = Order {
        order_id: "e2e-1".to_owned(),
        items: vec![
            Item {
                sku: "tea".to_owned(),
                qty: 2,
            },
            Item {
                sku: "cake".to_owned(),
                qty: 1,
            },
        ],
    };
    let response = reqwest::Client::new()
        .post(format!("http://{}/checkout", stack.checkout))
        .header("baggage", "tenant=acme")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt: Receipt = response.json().await.unwrap();
    let expected = 2 * unit_price_cents("tea") + unit_price_cents("cake");
    assert_eq!(receipt.total_cents, expected);
    // The baggage reached checkout, and through it pricing.
    assert_eq!(receipt.tenant.as_deref(), Some("acme"));
    assert!(
        receipt
            .lines
            .iter()
            .all(|line| line.tenant.as_deref() == Some("acme"))
    );

    // Every span ended before its response was sent, and the simple
    // processors exported each as it ended: all are here.
    let spans = stack.spans();
    let ids = by_id(&spans);
    let of = |service: Service, kind: SpanKind| -> Vec<&SpanData> {
        spans
            .iter()
            .filter(|(s, span)| *s == service && span.span_kind == kind)
            .map(|(_, span)| span)
            .collect()
    };
    // checkout: SERVER, the custom span, 2 × (stock + quote) + 2 reserves.
    assert_eq!(spans.len(), 1 + 1 + 6 + 4 + 2, "{spans:#?}");
    let trace_id = spans[0].1.span_context.trace_id();
    assert!(
        spans
            .iter()
            .all(|(_, s)| s.span_context.trace_id() == trace_id)
    );

    let [root] = of(Service::Checkout, SpanKind::Server)[..] else {
        panic!("one checkout SERVER span expected");
    };
    assert_eq!(root.name, "POST /checkout");
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    assert_eq!(str_attr(root, "app.tenant").as_deref(), Some("acme"));

    let [custom] = of(Service::Checkout, SpanKind::Internal)[..] else {
        panic!("one custom span expected");
    };
    assert_eq!(custom.name, "reserve-and-price");
    assert_eq!(custom.parent_span_id, root.span_context.span_id());

    let clients = of(Service::Checkout, SpanKind::Client);
    assert_eq!(clients.len(), 6);
    for client in &clients {
        assert_eq!(
            client.parent_span_id,
            custom.span_context.span_id(),
            "{client:#?}"
        );
    }

    // Each downstream SERVER span is the child of the CLIENT span that
    // called it, one for one.
    let downstream: Vec<(Service, &SpanData)> = spans
        .iter()
        .filter(|(s, span)| *s != Service::Checkout && span.span_kind == SpanKind::Server)
        .map(|(s, span)| (*s, span))
        .collect();
    assert_eq!(downstream.len(), clients.len());
    for (service, server) in &downstream {
        let (caller_service, caller) = ids[&server.parent_span_id];
        assert_eq!(*caller_service, Service::Checkout);
        assert_eq!(caller.span_kind, SpanKind::Client);
        // The CLIENT span is named after the URL template, the SERVER span
        // after the route: the same here.
        assert_eq!(caller.name, server.name);
        let expected = if server.name == "POST /quote" {
            Service::Pricing
        } else {
            Service::Inventory
        };
        assert_eq!(*service, expected, "{}", server.name);
        // The baggage went all the way.
        assert_eq!(str_attr(server, "app.tenant").as_deref(), Some("acme"));
    }
    let parents: HashSet<SpanId> = downstream.iter().map(|(_, s)| s.parent_span_id).collect();
    assert_eq!(parents.len(), clients.len());

    // The stock and quote calls of an item ran at the same time.
    for sku in ["tea", "cake"] {
        let stock = clients
            .iter()
            .find(|c| {
                str_attr(c, "url.full").is_some_and(|u| u.ends_with(&format!("/stock/{sku}")))
            })
            .unwrap();
        assert_eq!(
            str_attr(stock, "url.template").as_deref(),
            Some("/stock/{sku}")
        );
        let quote_server = downstream
            .iter()
            .find(|(_, s)| {
                s.name == "POST /quote" && str_attr(s, "app.sku").as_deref() == Some(sku)
            })
            .unwrap()
            .1;
        let quote = ids[&quote_server.parent_span_id].1.clone();
        assert!(
            stock.start_time < quote.end_time && quote.start_time < stock.end_time,
            "the calls for {sku} did not overlap"
        );
    }

    // The reservation was refused once and retried once.
    let mut reserves: Vec<&SpanData> = clients
        .iter()
        .copied()
        .filter(|c| c.name == "POST /reserve")
        .collect();
    reserves.sort_by_key(|c| c.start_time);
    let [first, retry] = reserves[..] else {
        panic!("two reserve attempts expected, got {reserves:#?}");
    };
    assert_eq!(
        attr(first, "http.response.status_code"),
        Some(Value::I64(503))
    );
    assert!(matches!(first.status, Status::Error { .. }));
    assert_eq!(attr(first, "http.request.resend_count"), None);
    assert_eq!(
        attr(retry, "http.response.status_code"),
        Some(Value::I64(200))
    );
    assert_eq!(
        attr(retry, "http.request.resend_count"),
        Some(Value::I64(1))
    );
    assert!(first.end_time <= retry.start_time);

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_orders_answer_4xx_and_leave_the_custom_span_unset() {
    let stack = Stack::start().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/checkout", stack.checkout);

    let empty = Order {
        order_id: "empty".to_owned(),
        items: Vec::new(),
    };
    let response = client.post(&url).json(&empty).send().await.unwrap();
    assert_eq!(response.status(), 422);

    let too_many = Order {
        order_id: "too-many".to_owned(),
        items: vec![Item {
            sku: "tea".to_owned(),
            qty: microservices::STOCK_PER_SKU + 1,
        }],
    };
    let response = client.post(&url).json(&too_many).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "only 100 of tea in stock, 101 ordered");

    let spans = stack.spans();
    let custom = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| span.name == "reserve-and-price")
        .unwrap();
    assert_eq!(custom.status, Status::Unset);
    assert_eq!(
        str_attr(custom, "app.order.refused").as_deref(),
        Some("only 100 of tea in stock, 101 ordered")
    );
    // No reservation was attempted.
    assert!(spans.iter().all(|(_, span)| span.name != "POST /reserve"));
    stack.stop().await;
}
