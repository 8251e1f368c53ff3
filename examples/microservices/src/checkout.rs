//! The checkout service: prices and reserves an order by calling inventory
//! and pricing.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::post};
use opentelemetry::context::FutureExt as _;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use reqwest::Url;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracetape::client::{TracingMiddleware, UrlTemplate};

use crate::{Instrumentation, Item, Order, Quote, Receipt, Reserved, Stock, note_tenant};

/// Where checkout finds the services it calls: base URLs such as
/// `http://127.0.0.1:8082`.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// The inventory service.
    pub inventory: Url,
    /// The pricing service.
    pub pricing: Url,
}

/// The checkout service: `POST /checkout` takes an [`Order`] and answers a
/// [`Receipt`]; 422 for an order without items, 409 when an item is out of
/// stock, 502 when inventory or pricing fails.
///
/// Its client retries a call once on a 5xx answer or a transient error,
/// with `reqwest-retry` above tracetape's middleware, so each attempt gets
/// its own CLIENT span and the retry records `http.request.resend_count`.
pub fn checkout(upstreams: Upstreams, instrumentation: &Instrumentation) -> Router {
    let retry = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(20))
        .build_with_max_retries(1);
    let client = ClientBuilder::new(reqwest::Client::new())
        // Outermost: runs the traced middleware below it once per attempt.
        .with(RetryTransientMiddleware::new_with_policy(retry))
        .with(TracingMiddleware::from(instrumentation.client_layer()))
        .build();
    let state = Arc::new(Checkout {
        client,
        upstreams,
        tracer: instrumentation.tracer(),
    });
    Router::new()
        .route("/checkout", post(checkout_order))
        .layer(instrumentation.server_layer())
        .with_state(state)
}

#[derive(Debug)]
struct Checkout {
    client: ClientWithMiddleware,
    upstreams: Upstreams,
    tracer: BoxedTracer,
}

async fn checkout_order(
    State(checkout): State<Arc<Checkout>>,
    Json(order): Json<Order>,
) -> Result<Json<Receipt>, CheckoutError> {
    // The SERVER span is current: the server layer attached its context,
    // which also holds the baggage it extracted.
    let cx = Context::current();
    cx.span()
        .set_attribute(KeyValue::new("app.order.id", order.order_id.clone()));
    let tenant = note_tenant();
    if order.items.is_empty() {
        return Err(CheckoutError::NoItems);
    }

    let span = checkout
        .tracer
        .span_builder("reserve-and-price")
        .with_attributes([
            KeyValue::new("app.order.id", order.order_id.clone()),
            KeyValue::new(
                "app.order.items",
                i64::try_from(order.items.len()).unwrap_or(i64::MAX),
            ),
        ])
        .start_with_context(&checkout.tracer, &cx);
    let cx = cx.with_span(span);
    // Every call below runs with the custom span current, so the CLIENT
    // spans are its children.
    let result = checkout
        .reserve_and_price(&order)
        .with_context(cx.clone())
        .await;
    let span = cx.span();
    match &result {
        Ok(lines) => span.set_attribute(KeyValue::new(
            "app.order.total_cents",
            i64::try_from(total(lines)).unwrap_or(i64::MAX),
        )),
        // Upstream failures are errors; an order refused (4xx) is not.
        Err(err) if err.status().is_server_error() => {
            span.set_status(Status::error(err.to_string()));
        }
        Err(err) => span.set_attribute(KeyValue::new("app.order.refused", err.to_string())),
    }
    span.end();

    let lines = result?;
    Ok(Json(Receipt {
        order_id: order.order_id,
        total_cents: total(&lines),
        lines,
        tenant,
    }))
}

fn total(lines: &[Quote]) -> u64 {
    lines
        .iter()
        .map(|line| line.total_cents)
        .fold(0, u64::saturating_add)
}

impl Checkout {
    /// Checks the stock of each item and prices it, the two calls in
    /// parallel, then reserves the order.
    async fn reserve_and_price(&self, order: &Order) -> Result<Vec<Quote>, CheckoutError> {
        let mut lines = Vec::with_capacity(order.items.len());
        for item in &order.items {
            let (stock, quote) = tokio::join!(self.stock(&item.sku), self.quote(item));
            let (stock, quote) = (stock?, quote?);
            if stock.available < item.qty {
                return Err(CheckoutError::OutOfStock {
                    sku: item.sku.clone(),
                    available: stock.available,
                    requested: item.qty,
                });
            }
            lines.push(quote);
        }
        self.reserve(order).await?;
        Ok(lines)
    }

    async fn stock(&self, sku: &str) -> Result<Stock, CheckoutError> {
        let url = endpoint(&self.upstreams.inventory, &["stock", sku])?;
        let response = self
            .client
            .get(url)
            .with_extension(UrlTemplate::new("/stock/{sku}"))
            .send()
            .await;
        answer(INVENTORY, response).await
    }

    async fn quote(&self, item: &Item) -> Result<Quote, CheckoutError> {
        let url = endpoint(&self.upstreams.pricing, &["quote"])?;
        let response = self
            .client
            .post(url)
            .with_extension(UrlTemplate::new("/quote"))
            .json(item)
            .send()
            .await;
        answer(PRICING, response).await
    }

    async fn reserve(&self, order: &Order) -> Result<Reserved, CheckoutError> {
        let url = endpoint(&self.upstreams.inventory, &["reserve"])?;
        let response = self
            .client
            .post(url)
            .with_extension(UrlTemplate::new("/reserve"))
            .json(order)
            .send()
            .await;
        answer(INVENTORY, response).await
    }
}

const INVENTORY: &str = "inventory";
const PRICING: &str = "pricing";

/// `base` with `segments` appended to its path, each percent-encoded.
fn endpoint(base: &Url, segments: &[&str]) -> Result<Url, CheckoutError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| CheckoutError::BadUpstream {
            url: base.to_string(),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The JSON body of a successful answer from `service`.
async fn answer<T: DeserializeOwned>(
    service: &'static str,
    response: reqwest_middleware::Result<reqwest::Response>,
) -> Result<T, CheckoutError> {
    let response = response.map_err(|source| CheckoutError::Unreachable { service, source })?;
    let status = response.status();
    if !status.is_success() {
        return Err(CheckoutError::Refused { service, status });
    }
    response
        .json()
        .await
        .map_err(|source| CheckoutError::BadAnswer { service, source })
}

/// Why a checkout failed.
#[derive(Debug, thiserror::Error)]
enum CheckoutError {
    #[error("an order needs at least one item")]
    NoItems,
    #[error("only {available} of {sku} in stock, {requested} ordered")]
    OutOfStock {
        sku: String,
        available: u32,
        requested: u32,
    },
    #[error("failed to call {service}")]
    Unreachable {
        service: &'static str,
        #[source]
        source: reqwest_middleware::Error,
    },
    #[error("{service} answered {status}")]
    Refused {
        service: &'static str,
        status: reqwest::StatusCode,
    },
    #[error("failed to read the answer of {service}")]
    BadAnswer {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("the upstream URL {url} cannot have a path")]
    BadUpstream { url: String },
}

impl CheckoutError {
    /// The status checkout answers with.
    fn status(&self) -> StatusCode {
        match self {
            CheckoutError::NoItems => StatusCode::UNPROCESSABLE_ENTITY,
            CheckoutError::OutOfStock { .. } => StatusCode::CONFLICT,
            CheckoutError::Unreachable { .. }
            | CheckoutError::Refused { .. }
            | CheckoutError::BadAnswer { .. } => StatusCode::BAD_GATEWAY,
            CheckoutError::BadUpstream { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for CheckoutError {
    fn into_response(self) -> Response {
        let status = self.status();
        // The message with its causes: "failed to call pricing: ...".
        let mut message = self.to_string();
        let mut source = std::error::Error::source(&self);
        while let Some(err) = source {
            message.push_str(": ");
            message.push_str(&err.to_string());
            source = err.source();
        }
        (status, Json(json!({ "error": message }))).into_response()
    }
}
