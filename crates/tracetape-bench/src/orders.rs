//! The service the `replay` benchmark records and replays, and the
//! dependency it calls.
//!
//! `POST /orders` takes an order (`{"order":"bench-000042","customer":1042,
//! "items":[{"sku":"SKU-0012","qty":2},..]}`, [`order`]) and makes three
//! outbound calls, one after the other, each needing the one before:
//!
//! 1. `GET /customers/{id}`: the customer's tier and discount;
//! 2. `POST /stock/check` with the items: which are available;
//! 3. `POST /prices/quote` with the items and the discount: a price per
//!    line and the total;
//!
//! then answers a JSON confirmation (status, lines, total) of about 400
//! bytes. The service is axum under `TraceLayer::new()`, its client
//! reqwest under `TracingMiddleware::new()` (each call with a
//! `UrlTemplate`), `tracetape::init()` recording or replaying as
//! `TRACETAPE_MODE` says: what a user's service looks like. It runs as
//! `tracetape-bench serve-orders` on the runtime of the other served apps
//! (two workers, [`crate::server`]).
//!
//! The dependency answers each call from its input alone (tiers by
//! customer id, prices and stock by SKU number), so every order makes its
//! own three calls with their own bodies and answers: no two recordings
//! hold the same mocks.

use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, RequestBuilder};
use serde_json::{Value, json};
use tracetape::client::{TracingMiddleware, UrlTemplate};
use tracetape::server::TraceLayer;

use crate::child::stdin_closed;
use crate::cli::ServeOrdersArgs;
use crate::server::{runtime, serve_app, shut_down};

/// The service's `service.name`, which its recordings carry.
pub(crate) const SERVICE_NAME: &str = "tracetape-bench-orders";
/// The request the benchmark records and replays.
pub(crate) const REQUEST_LINE: &str = "POST /orders";
/// Outbound calls per order.
pub(crate) const CALLS_PER_ORDER: usize = 3;

/// The customer tiers, by customer id modulo 3, with their discounts.
const TIERS: [(&str, u64); 3] = [("standard", 0), ("silver", 5), ("gold", 10)];

/// The `i`-th order: its own id, customer and one to three items.
pub(crate) fn order(i: u64) -> Value {
    let items: Vec<Value> = (0..1 + i % 3)
        .map(|k| {
            json!({
                "sku": format!("SKU-{:04}", (i * 13 + k * 29) % 200),
                "qty": 1 + (i + k) % 4,
            })
        })
        .collect();
    json!({
        "order": format!("bench-{i:06}"),
        "customer": 1000 + (i * 7919) % 500,
        "items": items,
    })
}

/// What every request of the service shares.
#[derive(Debug)]
struct Orders {
    client: ClientWithMiddleware,
    /// The dependency's base URL, without a trailing `/`.
    dependency: String,
}

type Failure = (StatusCode, String);

impl Orders {
    /// A `POST` of `body`, as JSON, to `path` on the dependency.
    fn post_json(&self, path: &str, body: &Value) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.dependency))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }
}

/// The service: `POST /orders`, calling the dependency at `dependency`.
pub(crate) fn service_app(dependency: &str) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .build()
        .context("building the orders service's reqwest client")?;
    let orders = Orders {
        client: ClientBuilder::new(client)
            .with(TracingMiddleware::new())
            .build(),
        dependency: dependency.trim_end_matches('/').to_owned(),
    };
    Ok(Router::new()
        .route("/orders", post(place_order))
        .with_state(Arc::new(orders))
        .layer(TraceLayer::new()))
}

/// `POST /orders`: the three calls, then the confirmation; 422 for an
/// order without a customer or items, 502 when a call fails.
async fn place_order(
    State(orders): State<Arc<Orders>>,
    Json(order): Json<Value>,
) -> Result<Json<Value>, Failure> {
    let unprocessable = |what: &str| (StatusCode::UNPROCESSABLE_ENTITY, format!("no {what}"));
    let customer = order["customer"]
        .as_u64()
        .ok_or_else(|| unprocessable("customer"))?;
    let items = order["items"]
        .as_array()
        .ok_or_else(|| unprocessable("items"))?;
    let base = &orders.dependency;

    let profile = call(
        orders
            .client
            .get(format!("{base}/customers/{customer}"))
            .with_extension(UrlTemplate::new("/customers/{id}")),
    )
    .await?;
    let stock = call(orders.post_json("/stock/check", &json!({ "items": items }))).await?;
    let quote = call(orders.post_json(
        "/prices/quote",
        &json!({ "items": items, "discount_percent": profile["discount_percent"] }),
    ))
    .await?;

    let available = stock["items"]
        .as_array()
        .is_some_and(|lines| lines.iter().all(|line| line["available"] == true));
    Ok(Json(json!({
        "order": order["order"],
        "customer": { "id": customer, "tier": profile["tier"] },
        "status": if available { "accepted" } else { "backordered" },
        "lines": quote["lines"],
        "discount_cents": quote["discount_cents"],
        "total_cents": quote["total_cents"],
        "currency": quote["currency"],
    })))
}

/// Sends one call to the dependency and reads its JSON answer.
async fn call(request: RequestBuilder) -> Result<Value, Failure> {
    let bad_gateway = |err: &dyn std::fmt::Display| {
        (
            StatusCode::BAD_GATEWAY,
            format!("calling the dependency: {err}"),
        )
    };
    let response = request.send().await.map_err(|err| bad_gateway(&err))?;
    let response = response
        .error_for_status()
        .map_err(|err| bad_gateway(&err))?;
    let body = response.bytes().await.map_err(|err| bad_gateway(&err))?;
    serde_json::from_slice(&body).map_err(|err| bad_gateway(&err))
}

/// The dependency: the customers, stock and prices the service asks for.
pub(crate) fn dependency_app() -> Router {
    Router::new()
        .route("/customers/{id}", get(customer))
        .route("/stock/check", post(stock))
        .route("/prices/quote", post(quote))
}

async fn customer(UrlPath(id): UrlPath<u64>) -> Json<Value> {
    let (tier, discount) = TIERS[(id % 3) as usize];
    Json(json!({ "id": id, "tier": tier, "discount_percent": discount }))
}

/// The number in `SKU-0042`; 0 for anything else.
fn sku_number(item: &Value) -> u64 {
    item["sku"]
        .as_str()
        .and_then(|sku| sku.strip_prefix("SKU-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn items(body: &Value) -> &[Value] {
    body["items"].as_array().map_or(&[], Vec::as_slice)
}

async fn stock(Json(body): Json<Value>) -> Json<Value> {
    let lines: Vec<Value> = items(&body)
        .iter()
        .map(|item| {
            let qty = item["qty"].as_u64().unwrap_or(1);
            json!({ "sku": item["sku"], "available": !(sku_number(item) + qty).is_multiple_of(7) })
        })
        .collect();
    Json(json!({ "items": lines }))
}

async fn quote(Json(body): Json<Value>) -> Json<Value> {
    let mut subtotal = 0;
    let lines: Vec<Value> = items(&body)
        .iter()
        .map(|item| {
            let qty = item["qty"].as_u64().unwrap_or(1);
            let unit = 99 + (sku_number(item) * 37) % 4900;
            subtotal += unit * qty;
            json!({ "sku": item["sku"], "qty": qty, "unit_cents": unit, "line_cents": unit * qty })
        })
        .collect();
    let discount = subtotal * body["discount_percent"].as_u64().unwrap_or(0) / 100;
    Json(json!({
        "lines": lines,
        "discount_cents": discount,
        "total_cents": subtotal - discount,
        "currency": "EUR",
    }))
}

/// `serve-orders`: the service, with `tracetape::init()` (whose mode the
/// parent sets), until standard input closes; then the recorder is
/// flushed and its counters printed, as `serve` does.
pub(crate) fn serve_orders(args: &ServeOrdersArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let stop = stdin_closed();
        let telemetry = tracetape::init();
        let app = service_app(&args.dependency)?;
        serve_app(app, &args.port_file, async {
            let _ = stop.await;
        })
        .await?;
        shut_down(telemetry).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tests::spawn_app;

    #[test]
    fn orders_differ_and_stay_small() -> anyhow::Result<()> {
        let first = order(1);
        assert_eq!(first["order"], "bench-000001");
        assert_ne!(order(1), order(2));
        assert_ne!(order(1)["items"], order(4)["items"]);
        for i in 0..100 {
            let items = order(i)["items"].as_array().map_or(0, Vec::len);
            assert!((1..=3).contains(&items), "{i}");
        }
        Ok(())
    }

    /// The service, without telemetry set up (the default no-op
    /// provider, nothing recorded), calls the dependency three times and
    /// answers the confirmation; a bad order is a 422.
    #[test]
    fn the_service_answers_from_its_three_calls() -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let dependency = spawn_app(dependency_app()).await?;
            let app = service_app(&format!("http://127.0.0.1:{dependency}/"))?;
            let port = spawn_app(app).await?;
            let client = reqwest::Client::builder().no_proxy().build()?;
            let url = format!("http://127.0.0.1:{port}/orders");
            // Order 5: customer 1095 (standard, no discount), three items.
            let response = client
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body(order(5).to_string())
                .send()
                .await?;
            assert_eq!(response.status(), StatusCode::OK);
            let answer: Value = serde_json::from_slice(&response.bytes().await?)?;
            assert_eq!(answer["order"], "bench-000005");
            assert_eq!(answer["customer"]["id"], 1095);
            assert_eq!(answer["customer"]["tier"], "standard");
            assert_eq!(answer["lines"].as_array().map(Vec::len), Some(3));
            assert_eq!(answer["lines"][0]["sku"], "SKU-0065");
            assert_eq!(answer["lines"][0]["unit_cents"], 99 + 65 * 37);
            assert_eq!(answer["currency"], "EUR");
            let size = answer.to_string().len();
            assert!((200..600).contains(&size), "{size}: {answer}");

            let response = client
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"order":"x"}"#)
                .send()
                .await?;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
            anyhow::Ok(())
        })
    }
}
