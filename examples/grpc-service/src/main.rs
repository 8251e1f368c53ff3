//! Runs the gRPC shop, its stock service and its pricing service: all
//! three in one process (the default), or one of them.
//!
//! ```sh
//! cargo run -p grpc-service            # shop :50051, stock :50052, pricing :8090
//! cargo run -p grpc-service -- shop    # the shop alone (STOCK_URL, PRICING_URL)
//! cargo run -p grpc-service -- deps    # stock and pricing, not the shop
//! ```
//!
//! Ports: `SHOP_PORT`, `STOCK_PORT`, `PRICING_PORT`; the shop finds the
//! others through `STOCK_URL` and `PRICING_URL`, and serves TLS with
//! `SHOP_TLS_CERT` and `SHOP_TLS_KEY` (PEM files). `TRACETAPE_MODE=record`
//! records into `.tracetape/recordings`; `tracetape replay --command
//! 'grpc-service shop' --url http://127.0.0.1:50051` replays the shop
//! alone, its calls answered from the recordings. `SHOP_CHANGE` changes
//! the shop on purpose: `total` (one cent more), `limit` (orders of more
//! than five refused), `cached` (pricing not called), `hold` (one more
//! call to stock). `grpc-service descriptors shop.bin` writes the
//! services' descriptor set, for `tracetape replay --compare
//! grpc_descriptors="shop.bin"` (messages compared by field name).

use std::process::ExitCode;

use grpc_service::{Change, Shop, Stock, pricing, serve_grpc};
use tokio::net::TcpListener;

fn port(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name}={text}: not a port")),
        Err(_) => Ok(default),
    }
}

async fn listen(name: &str, port: u16) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("{name} cannot listen on 127.0.0.1:{port}: {error}"))?;
    println!("{name} listening on http://127.0.0.1:{port}");
    Ok(listener)
}

/// The shop's TLS identity, when `SHOP_TLS_CERT` and `SHOP_TLS_KEY` name
/// its PEM certificate chain and key.
fn tls_identity() -> Result<Option<tonic::transport::Identity>, String> {
    let (Ok(cert), Ok(key)) = (
        std::env::var("SHOP_TLS_CERT"),
        std::env::var("SHOP_TLS_KEY"),
    ) else {
        return Ok(None);
    };
    let read = |path: &str| std::fs::read(path).map_err(|error| format!("{path}: {error}"));
    Ok(Some(tonic::transport::Identity::from_pem(
        read(&cert)?,
        read(&key)?,
    )))
}

/// Resolves at Ctrl-C (or SIGINT).
async fn interrupted() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(role: &str) -> Result<(), String> {
    if role == "descriptors" {
        let path = std::env::args()
            .nth(2)
            .ok_or("descriptors: give the file to write, `grpc-service descriptors shop.bin`")?;
        return std::fs::write(&path, grpc_service::descriptor_set())
            .map_err(|error| format!("cannot write {path}: {error}"));
    }
    let (shop_port, stock_port, pricing_port) = (
        port("SHOP_PORT", 50051)?,
        port("STOCK_PORT", 50052)?,
        port("PRICING_PORT", 8090)?,
    );
    let stock_url =
        std::env::var("STOCK_URL").unwrap_or_else(|_| format!("http://127.0.0.1:{stock_port}"));
    let pricing_url =
        std::env::var("PRICING_URL").unwrap_or_else(|_| format!("http://127.0.0.1:{pricing_port}"));
    let mut running = tokio::task::JoinSet::new();
    if matches!(role, "all" | "deps" | "stock") {
        let listener = listen("stock", stock_port).await?;
        running.spawn(async move {
            serve_grpc(Stock, listener, None, interrupted())
                .await
                .map_err(|error| format!("stock: {error}"))
        });
    }
    if matches!(role, "all" | "deps" | "pricing") {
        let listener = listen("pricing", pricing_port).await?;
        running.spawn(async move {
            axum::serve(listener, pricing())
                .with_graceful_shutdown(interrupted())
                .await
                .map_err(|error| format!("pricing: {error}"))
        });
    }
    if matches!(role, "all" | "shop") {
        let shop = Shop::new(&stock_url, &pricing_url, Change::from_env()?)?;
        let tls = tls_identity()?;
        let listener = listen("shop", shop_port).await?;
        running.spawn(async move {
            serve_grpc(shop, listener, tls, interrupted())
                .await
                .map_err(|error| format!("shop: {error}"))
        });
    }
    if running.is_empty() {
        return Err(format!(
            "{role}: expected shop, stock, pricing, deps or all"
        ));
    }
    while let Some(done) = running.join_next().await {
        done.map_err(|error| error.to_string())??;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = tracetape::init();
    let role = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    match run(&role).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("grpc-service: {error}");
            ExitCode::FAILURE
        }
    }
}
