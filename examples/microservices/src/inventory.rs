//! The inventory service: stock levels and reservations.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use serde_json::json;

use crate::{Instrumentation, Order, Reserved, Stock, note_tenant};

/// Units in stock of every product.
pub const STOCK_PER_SKU: u32 = 100;

/// The order ids inventory has been asked to reserve. It grows with every
/// new order: fine for an example, not for a real service.
type Seen = Arc<Mutex<HashSet<String>>>;

/// The inventory service:
///
/// - `GET /stock/{sku}` answers a [`Stock`]: [`STOCK_PER_SKU`] units of
///   any product;
/// - `POST /reserve` takes an [`Order`] and answers 503 the first time it
///   sees its `order_id`, then 200 with a [`Reserved`]: a flaky backend
///   that a caller's retry gets past, deterministically.
pub fn inventory(instrumentation: &Instrumentation) -> Router {
    Router::new()
        .route("/stock/{sku}", get(stock))
        .route("/reserve", post(reserve))
        .layer(instrumentation.server_layer())
        .with_state(Seen::default())
}

async fn stock(Path(sku): Path<String>) -> Json<Stock> {
    Context::current()
        .span()
        .set_attribute(KeyValue::new("app.sku", sku.clone()));
    let tenant = note_tenant();
    Json(Stock {
        sku,
        available: STOCK_PER_SKU,
        tenant,
    })
}

async fn reserve(State(seen): State<Seen>, Json(order): Json<Order>) -> Response {
    let cx = Context::current();
    cx.span()
        .set_attribute(KeyValue::new("app.order.id", order.order_id.clone()));
    let tenant = note_tenant();
    let first_time = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(order.order_id.clone());
    if first_time {
        cx.span()
            .set_attribute(KeyValue::new("app.reservation.refused", true));
        let body = json!({ "error": "the reservation backend is warming up; try again" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(Reserved {
        order_id: order.order_id,
        tenant,
    })
    .into_response()
}
