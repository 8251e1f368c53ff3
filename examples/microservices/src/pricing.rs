//! The pricing service: quotes.

use axum::routing::{get, post};
use axum::{Json, Router};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};

use crate::{Instrumentation, Item, Promotion, Quote, note_tenant};

/// The pricing service:
///
/// - `POST /quote` takes an [`Item`] and answers a [`Quote`] at
///   [`unit_price_cents`];
/// - `GET /promotions` answers the [`Promotion`] running now: none
///   (`percent_off` 0). Checkout asks for it only with
///   [`Behaviour::promotions`](crate::Behaviour::promotions).
pub fn pricing(instrumentation: &Instrumentation) -> Router {
    Router::new()
        .route("/quote", post(quote))
        .route("/promotions", get(promotions))
        .layer(instrumentation.server_layer())
}

async fn promotions() -> Json<Promotion> {
    Json(Promotion { percent_off: 0 })
}

/// The price of one unit of `sku`, in cents: from 5.00 to 24.00, a stand-in
/// for a price list that depends only on the product.
pub fn unit_price_cents(sku: &str) -> u64 {
    let sum: u64 = sku.bytes().map(u64::from).sum();
    500 + (sum % 20) * 100
}

async fn quote(Json(item): Json<Item>) -> Json<Quote> {
    let unit_cents = unit_price_cents(&item.sku);
    let total_cents = unit_cents.saturating_mul(u64::from(item.qty));
    Context::current().span().set_attributes([
        KeyValue::new("app.sku", item.sku.clone()),
        KeyValue::new(
            "app.quote.total_cents",
            i64::try_from(total_cents).unwrap_or(i64::MAX),
        ),
    ]);
    let tenant = note_tenant();
    Json(Quote {
        sku: item.sku,
        qty: item.qty,
        unit_cents,
        total_cents,
        tenant,
    })
}
