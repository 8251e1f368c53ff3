//! Serves the instrumented example.
//!
//! Run with: `cargo run -p axum-service` (`PORT` picks the port, 8080 by
//! default), then `curl localhost:8080/orders/7` and `tracetape list`.
//!
//! ```text
//! listening on http://127.0.0.1:8080
//! ```
//!
//! Spans go where the `OTEL_*` variables say; with none set, to the local
//! store under `.tracetape/` that `tracetape list` and `tracetape show` read.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Flushes and shuts the exporters down when it drops at the end of main.
    let _telemetry = tracetape::init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = axum_service::app().into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
