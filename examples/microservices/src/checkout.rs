//! The checkout service: prices and reserves an order by calling inventory
//! and pricing.

use std::io;
use std::net::SocketAddr;
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

use crate::{
    Instrumentation, Item, Order, Orders, OrdersError, Promotion, Quote, Receipt, Reserved, Stock,
    note_tenant,
};

/// Where checkout finds the services it calls: base URLs such as
/// `http://127.0.0.1:8082`.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// The inventory service.
    pub inventory: Url,
    /// The pricing service.
    pub pricing: Url,
}

impl Upstreams {
    /// Inventory and pricing listening at these addresses: `http://{addr}`
    /// each, as [`serve_all`](crate::serve_all) points checkout at them.
    /// Calls are matched by URL in replay mode, so a checkout replayed
    /// alone is given the addresses its recordings were made with.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use microservices::Upstreams;
    ///
    /// let upstreams = Upstreams::listening_at(
    ///     SocketAddr::from(([127, 0, 0, 1], 8082)),
    ///     SocketAddr::from(([127, 0, 0, 1], 8083)),
    /// )?;
    /// assert_eq!(upstreams.pricing.as_str(), "http://127.0.0.1:8083/");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn listening_at(inventory: SocketAddr, pricing: SocketAddr) -> io::Result<Upstreams> {
        Ok(Upstreams {
            inventory: base_url(inventory)?,
            pricing: base_url(pricing)?,
        })
    }
}

/// `http://{addr}`, the base URL of a service listening on `addr`.
fn base_url(addr: SocketAddr) -> io::Result<Url> {
    Url::parse(&format!("http://{addr}")).map_err(io::Error::other)
}

/// Deliberate changes of checkout's behaviour, for showing what replay
/// reports when a new build behaves differently from the recorded one.
/// Every switch is off by default: [`Behaviour::default()`] is the
/// behaviour the recordings were made with.
///
/// `cargo run -p tracetape-microservices` reads them from `CHECKOUT_DISCOUNT_PERCENT`,
/// `CHECKOUT_PROMOTIONS` and `CHECKOUT_SKIP_RESERVATION`.
///
/// ```
/// use microservices::Behaviour;
///
/// // Every total 10% lower: replay reports `$.total_cents`.
/// let behaviour = Behaviour {
///     discount_percent: 10,
///     ..Behaviour::default()
/// };
/// assert!(!behaviour.promotions && !behaviour.skip_reservation);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Percent taken off every order's `total_cents` (the lines keep their
    /// prices; the discount is rounded down to the cent); `0`, the default,
    /// takes nothing off, and more than 100 counts as 100. A changed
    /// answer: replay reports a deviation at `$.total_cents`.
    pub discount_percent: u8,
    /// Asks pricing for the running promotion (`GET /promotions`, one more
    /// call after the reservation) and takes its `percent_off` off the
    /// total too. Pricing runs none, so the answer stays the same; in
    /// replay the call has no recorded answer: its mock is missing, and
    /// checkout answers 502.
    pub promotions: bool,
    /// Leaves the reservation out (no `POST /reserve`). The answer stays
    /// the same; in replay the two recorded reservation attempts go unused.
    pub skip_reservation: bool,
}

/// The checkout service: `POST /checkout` takes an [`Order`] and answers a
/// [`Receipt`]; 422 for an order without items, 409 when an item is out of
/// stock, 502 when inventory or pricing fails.
///
/// Its client retries a call once on a 5xx answer or a transient error,
/// with `reqwest-retry` above tracetape's middleware, so each attempt gets
/// its own CLIENT span and the retry records `http.request.resend_count`.
pub fn checkout(upstreams: Upstreams, instrumentation: &Instrumentation) -> Router {
    checkout_with(upstreams, Behaviour::default(), instrumentation)
}

/// The checkout service of [`checkout`], with `behaviour` changed on
/// purpose.
pub fn checkout_with(
    upstreams: Upstreams,
    behaviour: Behaviour,
    instrumentation: &Instrumentation,
) -> Router {
    checkout_with_orders(upstreams, behaviour, None, instrumentation)
}

/// The checkout service of [`checkout_with`], keeping each priced order in
/// `orders` when given ([`Orders::connect`]): one more operation per order,
/// a CLIENT span under its SERVER span, recorded and replayed with it.
pub fn checkout_with_orders(
    upstreams: Upstreams,
    behaviour: Behaviour,
    orders: Option<Orders>,
    instrumentation: &Instrumentation,
) -> Router {
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
        behaviour,
        orders,
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
    behaviour: Behaviour,
    orders: Option<Orders>,
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
        Ok(priced) => {
            if priced.discount_percent > 0 {
                span.set_attribute(KeyValue::new(
                    "app.order.discount_percent",
                    i64::from(priced.discount_percent),
                ));
            }
            span.set_attribute(KeyValue::new(
                "app.order.total_cents",
                i64::try_from(priced.total_cents()).unwrap_or(i64::MAX),
            ));
        }
        // Upstream failures are errors; an order refused (4xx) is not.
        Err(err) if err.status().is_server_error() => {
            span.set_status(Status::error(err.to_string()));
        }
        Err(err) => span.set_attribute(KeyValue::new("app.order.refused", err.to_string())),
    }
    span.end();

    let priced = result?;
    if let Some(orders) = &checkout.orders {
        orders
            .save(&order.order_id, priced.total_cents(), tenant.as_deref())
            .await
            .map_err(CheckoutError::Orders)?;
    }
    Ok(Json(Receipt {
        order_id: order.order_id,
        total_cents: priced.total_cents(),
        lines: priced.lines,
        tenant,
    }))
}

/// An order's priced lines and the percent taken off their sum.
#[derive(Debug)]
struct Priced {
    lines: Vec<Quote>,
    /// At most 100.
    discount_percent: u8,
}

impl Priced {
    /// The sum of the lines, less the discount rounded down to the cent.
    fn total_cents(&self) -> u64 {
        let sum = self
            .lines
            .iter()
            .map(|line| line.total_cents)
            .fold(0, u64::saturating_add);
        let percent = u64::from(self.discount_percent.min(100));
        // Computed in u128: sum × percent cannot overflow there.
        let discount = u128::from(sum) * u128::from(percent) / 100;
        sum.saturating_sub(u64::try_from(discount).unwrap_or(sum))
    }
}

impl Checkout {
    /// Checks the stock of each item and prices it, the two calls in
    /// parallel, then reserves the order (unless
    /// [`Behaviour::skip_reservation`]), then asks for the running
    /// promotion (only with [`Behaviour::promotions`]).
    async fn reserve_and_price(&self, order: &Order) -> Result<Priced, CheckoutError> {
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
        if !self.behaviour.skip_reservation {
            self.reserve(order).await?;
        }
        let promotion = if self.behaviour.promotions {
            self.promotion().await?.percent_off
        } else {
            0
        };
        Ok(Priced {
            lines,
            discount_percent: self
                .behaviour
                .discount_percent
                .saturating_add(promotion)
                .min(100),
        })
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

    async fn promotion(&self) -> Result<Promotion, CheckoutError> {
        let url = endpoint(&self.upstreams.pricing, &["promotions"])?;
        let response = self
            .client
            .get(url)
            .with_extension(UrlTemplate::new("/promotions"))
            .send()
            .await;
        answer(PRICING, response).await
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
    #[error("failed to keep the order")]
    Orders(#[source] OrdersError),
}

impl CheckoutError {
    /// The status checkout answers with.
    fn status(&self) -> StatusCode {
        match self {
            CheckoutError::NoItems => StatusCode::UNPROCESSABLE_ENTITY,
            CheckoutError::OutOfStock { .. } => StatusCode::CONFLICT,
            CheckoutError::Unreachable { .. }
            | CheckoutError::Refused { .. }
            | CheckoutError::BadAnswer { .. }
            | CheckoutError::Orders(_) => StatusCode::BAD_GATEWAY,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn priced(totals: &[u64], discount_percent: u8) -> Priced {
        let lines = totals
            .iter()
            .map(|&total_cents| Quote {
                sku: "tea".to_owned(),
                qty: 1,
                unit_cents: total_cents,
                total_cents,
                tenant: None,
            })
            .collect();
        Priced {
            lines,
            discount_percent,
        }
    }

    #[test]
    fn the_discount_comes_off_the_sum_rounded_down_to_the_cent() {
        assert_eq!(priced(&[1000, 99], 0).total_cents(), 1099);
        // 10% of 10.99 is 1.099: 1.09 off.
        assert_eq!(priced(&[1000, 99], 10).total_cents(), 990);
        assert_eq!(priced(&[1000, 99], 100).total_cents(), 0);
        assert_eq!(priced(&[1000], 250).total_cents(), 0, "at most 100%");
        assert_eq!(
            priced(&[u64::MAX], 50).total_cents(),
            u64::MAX - u64::MAX / 2
        );
    }
}
