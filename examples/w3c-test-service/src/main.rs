//! Serves the W3C Trace Context test service on 127.0.0.1.
//!
//! Run with: `cargo run -p w3c-test-service [PORT]` (the port comes from
//! the first argument, else `PORT`, else 5000), then point the harness at
//! it: `python3 test/test.py http://127.0.0.1:5000/test` in a checkout of
//! github.com/w3c/trace-context (see this example's README.md).
//!
//! ```text
//! listening on http://127.0.0.1:5000
//! ```
//!
//! Spans go where the `OTEL_*` variables say; with none set, to the local
//! store under `.tracetape/` that `tracetape list` and `tracetape show` read.

use std::net::SocketAddr;

use tracetape::client::TracingMiddleware;

/// The port when neither the first argument nor `PORT` names one: the one
/// the harness's README uses.
const DEFAULT_PORT: u16 = 5000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|err| format!("the port {arg:?} is not a number from 0 to 65535: {err}"))?,
        None => match std::env::var("PORT") {
            Ok(var) => var
                .parse()
                .map_err(|err| format!("PORT={var:?} is not a number from 0 to 65535: {err}"))?,
            Err(_) => DEFAULT_PORT,
        },
    };
    // Installs the W3C trace-context and baggage propagator (unless
    // OTEL_PROPAGATORS says otherwise); flushes when it drops.
    let _telemetry = tracetape::init();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = w3c_test_service::app(w3c_test_service::client(TracingMiddleware::new()))
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
