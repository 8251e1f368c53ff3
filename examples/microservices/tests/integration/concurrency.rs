//! Many checkouts at once on a multi-threaded runtime: each request's spans
//! stay in its own trace, under its own SERVER span.

use std::collections::{HashMap, HashSet};

use microservices::{Item, Order, Service};
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::trace::SpanData;

use crate::support::{Stack, by_id, root_of, str_attr};

const REQUESTS: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_do_not_share_context() {
    let stack = Stack::start().await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/checkout", stack.checkout);
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let request = client.post(&url).json(&Order {
                order_id: format!("order-{i}"),
                items: vec![Item {
                    sku: format!("sku-{i}"),
                    qty: 1,
                }],
            });
            tokio::spawn(async move {
                let response = request.send().await?;
                let status = response.status();
                response.bytes().await?;
                Ok::<_, reqwest::Error>(status)
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), 200);
    }

    let spans = stack.spans();
    let ids = by_id(&spans);
    let order_of_root = |span: &SpanData| str_attr(root_of(&ids, span), "app.order.id").unwrap();

    // Which request each downstream SERVER span served, from what the
    // request itself carried (the path or the body): its CLIENT parent, and
    // everything above, must belong to that same request.
    let mut clients_per_order: HashMap<String, usize> = HashMap::new();
    let mut downstream = 0;
    for (service, server) in &spans {
        if *service == Service::Checkout || server.span_kind != SpanKind::Server {
            continue;
        }
        downstream += 1;
        let order = match str_attr(server, "app.order.id") {
            Some(order) => order,
            None => {
                let sku = str_attr(server, "app.sku").unwrap();
                sku.replacen("sku-", "order-", 1)
            }
        };
        let (caller_service, caller) = ids[&server.parent_span_id];
        assert_eq!(*caller_service, Service::Checkout);
        assert_eq!(caller.span_kind, SpanKind::Client);
        assert_eq!(order_of_root(caller), order, "{caller:#?}");
        assert_eq!(
            caller.span_context.trace_id(),
            server.span_context.trace_id()
        );
        *clients_per_order.entry(order).or_default() += 1;
    }

    // Every CLIENT span leads up to a checkout SERVER span, and each
    // request made its four calls: stock, quote and two reservations.
    let clients: Vec<&SpanData> = spans
        .iter()
        .filter(|(_, span)| span.span_kind == SpanKind::Client)
        .map(|(_, span)| span)
        .collect();
    assert_eq!(clients.len(), 4 * REQUESTS);
    assert_eq!(downstream, clients.len());
    for client in &clients {
        root_of(&ids, client);
    }
    assert_eq!(clients_per_order.len(), REQUESTS);
    assert!(clients_per_order.values().all(|&n| n == 4));

    // One trace per request.
    let roots: Vec<&SpanData> = spans
        .iter()
        .filter(|(_, span)| span.parent_span_id == SpanId::INVALID)
        .map(|(_, span)| span)
        .collect();
    assert_eq!(roots.len(), REQUESTS);
    let traces: HashSet<_> = roots.iter().map(|r| r.span_context.trace_id()).collect();
    assert_eq!(traces.len(), REQUESTS);

    stack.stop().await;
}
