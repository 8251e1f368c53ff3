//! Serves `orders` and `stock`, with `tracing` log lines on stdout.
//!
//! Run with: `cargo run -p tracing-interop` (`PORT` picks the port of
//! `orders`, 8080 by default; `stock` takes any free one), then
//! `curl localhost:8080/orders/7` and `tracetape list`.
//!
//! ```text
//! orders on http://127.0.0.1:8080, stock on http://127.0.0.1:40215
//! trace_id=6f2d0963a61c376791d0bf3bd567b8dd span_id=8cf46a39a73f5647 2026-01-01T12:07:26.712480Z  INFO tracing_interop: order requested order.id=7
//! trace_id=6f2d0963a61c376791d0bf3bd567b8dd span_id=549452d85d8b3259 2026-01-01T12:07:26.712630Z  INFO check_stock{id=7}: tracing_interop: asking the stock service
//! trace_id=6f2d0963a61c376791d0bf3bd567b8dd span_id=ae391c8d4a800da8 2026-01-01T12:07:26.713863Z  INFO tracing_interop: counting stock sku=7
//! ```
//!
//! One trace id on every line; each span id is that of the span the line
//! was written in: `orders`' SERVER span, `check_stock`, `stock`'s SERVER
//! span. Spans go where the `OTEL_*` variables say; with none set, to the
//! local store under `.tracetape/` that `tracetape list` reads.

use opentelemetry::trace::TracerProvider as _;
use reqwest_middleware::ClientBuilder;
use tracetape::client::TracingMiddleware;
use tracetape::server::TraceLayer;
use tracing_subscriber::util::SubscriberInitExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Flushes and shuts the exporters down when it drops at the end of main.
    let telemetry = tracetape::init();
    // tracing-opentelemetry's spans go to the same provider as tracetape's.
    let tracer = telemetry.tracer_provider().tracer("tracing-interop");
    tracing_interop::subscriber(tracer, std::io::stdout).try_init()?;

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let orders_listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let stock_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let stock_addr = stock_listener.local_addr()?;
    println!(
        "orders on http://{}, stock on http://{stock_addr}",
        orders_listener.local_addr()?
    );

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let orders =
        tracing_interop::orders(client, format!("http://{stock_addr}")).layer(TraceLayer::new());
    let stock = tracing_interop::stock().layer(TraceLayer::new());
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tokio::select! {
        served = axum::serve(orders_listener, orders) => served?,
        served = axum::serve(stock_listener, stock) => served?,
        () = shutdown => {}
    }
    Ok(())
}
