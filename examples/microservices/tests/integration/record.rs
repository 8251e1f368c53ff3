//! The three services in record mode: set up as `cargo run -p
//! microservices` sets them up (a telemetry guard per service, built from
//! the environment, its recorder carried into the service's layers by
//! `Instrumentation::from_guard`), with `TRACETAPE_MODE=record` given
//! through an env lookup instead of the process environment; one checkout,
//! then the recordings read back from the store they share.

use std::path::{Path, PathBuf};

use microservices::{Item, Order, Quote, Receipt, Reserved, Stock};
use microservices::{Service, unit_price_cents};
use opentelemetry::trace::SpanId;
use tracetape::record::{Exchange, ExchangeKind, HeaderRecord, Recording, RecordingStore};

use crate::support::{RecordingStack, TempDir};

/// The bearer token and cookie the caller sends to checkout.
const TOKEN: &str = "tok-5ecr3t-9f8e7d6c";
const COOKIE_SECRET: &str = "c00kie-a1b2c3d4";

/// The one value of header `name`.
fn header<'a>(headers: &'a [HeaderRecord], name: &str) -> &'a [u8] {
    let found: Vec<&HeaderRecord> = headers.iter().filter(|h| h.name == name).collect();
    assert_eq!(found.len(), 1, "{name} in {headers:?}");
    &found[0].value
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every file under `dir`, recursively, hidden ones included.
fn every_file(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(every_file(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The exchange of `recordings` whose span is `span`.
fn by_span(recordings: &[&Recording], span: SpanId) -> Exchange {
    recordings
        .iter()
        .flat_map(|r| &r.exchanges)
        .find(|e| e.span_id == span)
        .cloned()
        .unwrap_or_else(|| panic!("no exchange of span {span}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_in_record_mode_is_recorded_by_each_service() {
    let tmp = TempDir::new();
    let dir = tmp.path().join("recordings");
    let stack = RecordingStack::start(&dir).await;
    for service in Service::ALL {
        let recorder = stack.guards.get(service).recorder();
        assert_eq!(
            recorder.map(|r| r.service_name()),
            Some(service.name()),
            "TRACETAPE_MODE=record starts a recorder for {service}"
        );
    }
    let (checkout, inventory, pricing) = (
        stack.addrs.checkout,
        stack.addrs.inventory,
        stack.addrs.pricing,
    );

    // Spaced out, so that byte-equality means "as sent", not "as
    // serde_json would write it".
    let sent = r#"{ "order_id": "rec-1", "items": [ { "sku": "tea", "qty": 2 } ] }"#;
    let response = reqwest::Client::new()
        .post(format!("http://{checkout}/checkout"))
        .header("content-type", "application/json")
        .header("baggage", "tenant=acme")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("cookie", format!("session={COOKIE_SECRET}"))
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received = response.bytes().await.unwrap();
    let receipt: Receipt = serde_json::from_slice(&received).unwrap();
    assert_eq!(receipt.total_cents, 2 * unit_price_cents("tea"));

    // checkout, inventory three times (stock, reserve refused, reserve),
    // pricing: five SERVER spans, so five recordings handed on.
    stack.flush(5).await;

    let loaded = RecordingStore::new(&dir).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let recordings: Vec<Recording> = loaded.recordings.into_iter().map(|s| s.recording).collect();
    let of = |service: &str| -> Vec<&Recording> {
        let mut found: Vec<&Recording> = recordings
            .iter()
            .filter(|r| r.service_name == service)
            .collect();
        found.sort_by_key(|r| r.inbound().map(|e| e.start_unix_nanos));
        found
    };
    let (checkouts, inventories, pricings) = (of("checkout"), of("inventory"), of("pricing"));
    assert_eq!(
        (checkouts.len(), inventories.len(), pricings.len()),
        (1, 3, 1),
        "{recordings:#?}"
    );
    assert_eq!(recordings.len(), 5);
    let trace_id = checkouts[0].trace_id;
    for recording in &recordings {
        assert_eq!(
            recording.trace_id, trace_id,
            "one trace across the services"
        );
        assert!(!recording.background);
    }

    // checkout: the inbound POST, as sent and answered.
    let checkout_recording = checkouts[0];
    let inbound = checkout_recording.inbound().unwrap();
    assert_eq!(inbound.name, "POST /checkout");
    assert_eq!(inbound.request.method, "POST");
    assert_eq!(inbound.request.url, "/checkout");
    assert_eq!(&inbound.request.body.bytes[..], sent.as_bytes());
    assert!(!inbound.request.body.truncated);
    assert_eq!(header(&inbound.request.headers, "baggage"), b"tenant=acme");
    for secret in ["authorization", "cookie"] {
        let value = header(&inbound.request.headers, secret);
        assert!(value.starts_with(b"REDACTED"), "{secret}: {value:?}");
    }
    let answer = inbound.response.as_ref().unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.bytes, received);

    // ...and its calls, in the order they started: stock and quote (in
    // parallel), then the reservation, refused once and retried.
    let outbound: Vec<&Exchange> = checkout_recording.outbound().collect();
    assert_eq!(outbound.len(), 4, "{checkout_recording:#?}");
    // All made inside checkout's own `reserve-and-price` span.
    let custom_span = outbound[0].parent_span_id;
    assert_ne!(custom_span, SpanId::INVALID);
    assert_ne!(custom_span, inbound.span_id);
    assert!(outbound.iter().all(|e| e.parent_span_id == custom_span));
    let find = |url: String| -> Vec<&Exchange> {
        outbound
            .iter()
            .copied()
            .filter(|e| e.request.url == url)
            .collect()
    };
    let order = Order {
        order_id: "rec-1".to_owned(),
        items: vec![Item {
            sku: "tea".to_owned(),
            qty: 2,
        }],
    };

    let [stock] = find(format!("http://{inventory}/stock/tea"))[..] else {
        panic!("one stock call: {outbound:#?}");
    };
    assert_eq!(stock.name, "GET /stock/{sku}");
    assert_eq!(stock.route.as_deref(), Some("/stock/{sku}"));
    assert_eq!(stock.request.method, "GET");
    assert!(stock.request.body.bytes.is_empty());
    let stock_answer = stock.response.as_ref().unwrap();
    assert_eq!(stock_answer.status, 200);
    let parsed: Stock = serde_json::from_slice(&stock_answer.body.bytes).unwrap();
    assert_eq!(parsed.tenant.as_deref(), Some("acme"));

    let [quote] = find(format!("http://{pricing}/quote"))[..] else {
        panic!("one quote call: {outbound:#?}");
    };
    assert_eq!(quote.route.as_deref(), Some("/quote"));
    assert_eq!(
        quote.request.body.bytes,
        serde_json::to_vec(&order.items[0]).unwrap(),
        "the JSON body checkout sent"
    );
    let quote_answer = quote.response.as_ref().unwrap();
    let parsed: Quote = serde_json::from_slice(&quote_answer.body.bytes).unwrap();
    assert_eq!(parsed, receipt.lines[0]);

    let reserves = find(format!("http://{inventory}/reserve"));
    let statuses: Vec<u16> = reserves
        .iter()
        .map(|e| e.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [503, 200], "the retried call's two attempts");
    assert_ne!(reserves[0].span_id, reserves[1].span_id);
    assert!(reserves[0].start_unix_nanos < reserves[1].start_unix_nanos);
    assert!(
        stock.start_unix_nanos < reserves[0].start_unix_nanos
            && quote.start_unix_nanos < reserves[0].start_unix_nanos
    );
    for attempt in &reserves {
        assert_eq!(attempt.route.as_deref(), Some("/reserve"));
        assert_eq!(
            attempt.request.body.bytes,
            serde_json::to_vec(&order).unwrap()
        );
    }
    let reserved = &reserves[1].response.as_ref().unwrap().body.bytes;
    let parsed: Reserved = serde_json::from_slice(reserved).unwrap();
    assert_eq!(parsed.order_id, "rec-1");

    // inventory and pricing: each request a recording of its own, the
    // child of the checkout call that made it, with the same bytes.
    let downstream: Vec<&Recording> = inventories.iter().chain(&pricings).copied().collect();
    for call in [stock, quote, reserves[0], reserves[1]] {
        let served = downstream
            .iter()
            .filter_map(|r| r.inbound())
            .find(|e| e.parent_span_id == call.span_id)
            .unwrap_or_else(|| panic!("no recording served {}", call.request.url));
        assert_eq!(served.kind, ExchangeKind::Server);
        assert!(call.request.url.ends_with(&served.request.url));
        assert_eq!(served.request.method, call.request.method);
        assert_eq!(
            served.request.body, call.request.body,
            "{}",
            call.request.url
        );
        let served_answer = served.response.as_ref().unwrap();
        let call_answer = call.response.as_ref().unwrap();
        assert_eq!(served_answer.status, call_answer.status);
        if call_answer.status == 200 {
            assert_eq!(served_answer.body, call_answer.body, "{}", call.request.url);
        }
    }
    let refused = by_span(&inventories, {
        let served = downstream
            .iter()
            .filter_map(|r| r.inbound())
            .find(|e| e.parent_span_id == reserves[0].span_id)
            .unwrap();
        served.span_id
    });
    assert_eq!(
        refused.response.as_ref().unwrap().body.bytes,
        br#"{"error":"the reservation backend is warming up; try again"}"#[..]
    );

    // The secrets are in no file of the store, and in no header or body
    // read back (bodies are base64 in the files).
    // (the recordings share segments, so fewer files than recordings)
    let files = every_file(&dir);
    assert!(!files.is_empty() && recordings.len() >= 5, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in [TOKEN, COOKIE_SECRET] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{secret} in {}",
                file.display()
            );
        }
    }
    for exchange in recordings.iter().flat_map(|r| &r.exchanges) {
        let headers = exchange.request.headers.iter().chain(
            exchange
                .response
                .iter()
                .flat_map(|response| &response.headers),
        );
        let bodies = [
            Some(&exchange.request.body),
            exchange.response.as_ref().map(|r| &r.body),
        ];
        for secret in [TOKEN, COOKIE_SECRET] {
            for header in headers.clone() {
                assert!(!contains(&header.value, secret.as_bytes()), "{header:?}");
            }
            for body in bodies.iter().flatten() {
                assert!(!contains(&body.bytes, secret.as_bytes()));
            }
        }
    }

    stack.stop().await;
}
