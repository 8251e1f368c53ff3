//! Two services that use the `tracing` crate (`#[instrument]`, `info!`)
//! with tracing-opentelemetry, traced by tracetape: `orders` calls `stock`.
//!
//! `GET /orders/{id}` logs a line, then asks `stock` for the stock of the
//! order's item inside an `#[instrument]` function, `check_stock`, with a
//! client that has tracetape's middleware. `stock` answers
//! `GET /stock/{sku}` with a count. One request into `orders` makes one
//! trace, and every log line carries the ids of the span it was written in:
//!
//! ```text
//! GET /orders/{id}          server    "order requested"
//! └─ check_stock            internal  "asking the stock service"
//!    └─ GET                 client
//!       └─ GET /stock/{sku} server    "counting stock"
//! ```
//!
//! The routers have no layer of tracetape's: whoever serves them adds the
//! server layer (`main.rs` with OpenTelemetry's global providers, the tests
//! with an in-memory exporter). [`subscriber`] is the `tracing` set-up.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry_sdk::trace::SdkTracer;
use reqwest_middleware::ClientWithMiddleware;
use tracetape::tracing::{SpanEvents, WithTraceIds};
use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;

/// The stock `stock` reports for every item.
pub const STOCK_PER_SKU: u32 = 12;

/// The `tracing` subscriber of both services, for `INFO` and above:
/// tracing-opentelemetry's layer with `tracer`, log lines with the current
/// span's ids written to `writer`, and the log lines outside `tracing`
/// spans also recorded on the current OpenTelemetry span.
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// let provider = SdkTracerProvider::builder().build();
/// let subscriber = tracing_interop::subscriber(provider.tracer("orders"), std::io::stdout);
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
/// ```
pub fn subscriber<W>(tracer: SdkTracer, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(
            fmt::layer()
                .event_format(WithTraceIds::new(fmt::format()))
                .with_writer(writer),
        )
        .with(SpanEvents::new())
}

/// What the `orders` handlers share.
#[derive(Debug, Clone)]
struct Orders {
    client: ClientWithMiddleware,
    stock_url: String,
}

/// The `orders` service: `GET /orders/{id}`, which calls `stock` at
/// `stock_url` (`http://host:port`) with `client`.
pub fn orders(client: ClientWithMiddleware, stock_url: impl Into<String>) -> Router {
    let state = Orders {
        client,
        stock_url: stock_url.into(),
    };
    Router::new()
        .route("/orders/{id}", get(order))
        .with_state(state)
}

/// The `stock` service: `GET /stock/{sku}`.
pub fn stock() -> Router {
    Router::new().route("/stock/{sku}", get(count))
}

/// Logs outside any `tracing` span: the line carries the SERVER span's ids.
async fn order(State(orders): State<Orders>, Path(id): Path<u32>) -> Result<String, StatusCode> {
    tracing::info!(order.id = id, "order requested");
    let stock = check_stock(&orders, id).await?;
    Ok(format!("order {id}: {stock} in stock\n"))
}

/// A `tracing` span, child of the SERVER span, and the parent of the
/// CLIENT span of the call it makes.
#[tracing::instrument(skip(orders))]
async fn check_stock(orders: &Orders, id: u32) -> Result<u32, StatusCode> {
    tracing::info!("asking the stock service");
    let url = format!("{}/stock/{id}", orders.stock_url);
    let response = orders
        .client
        .get(url)
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    let text = response.text().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    text.trim().parse().map_err(|_| StatusCode::BAD_GATEWAY)
}

async fn count(Path(sku): Path<u32>) -> String {
    tracing::info!(sku, "counting stock");
    STOCK_PER_SKU.to_string()
}
