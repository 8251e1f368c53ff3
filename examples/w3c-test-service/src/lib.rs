//! The test service that the W3C Trace Context conformance harness drives
//! (`test/test.py` in github.com/w3c/trace-context), instrumented with
//! tracetape on both sides.
//!
//! The harness sends `POST /test` with a `traceparent` (and often a
//! `tracestate`) and a JSON array of calls to make:
//!
//! ```json
//! [
//!     {"url": "http://127.0.0.1:7777/callback/a.0", "arguments": [
//!         {"url": "http://127.0.0.1:7777/callback/a.1", "arguments": []}
//!     ]},
//!     {"url": "http://127.0.0.1:7777/callback/a.2", "arguments": []}
//! ]
//! ```
//!
//! For each element, in order, the service POSTs `arguments` as JSON to
//! `url`, then answers 200. The server layer makes the SERVER span current
//! while the handler runs, and the client middleware gives each call a
//! CLIENT span and injects its context, so the harness sees the trace it
//! started continued with a new parent id, or a new trace when what it
//! sent was invalid.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use tracetape::client::TracingMiddleware;
//!
//! let app = w3c_test_service::app(w3c_test_service::client(TracingMiddleware::new()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;
use serde_json::Value;
use tracetape::client::TracingMiddleware;
use tracetape::server::TraceLayer;

/// One call the harness asks for: POST `arguments` to `url`.
#[derive(Debug, Deserialize)]
struct Call {
    url: String,
    /// Forwarded as it came; a missing or `null` value is sent as `[]`.
    #[serde(default)]
    arguments: Option<Value>,
}

/// The service, with the server layer configured from the environment
/// (spans to the global tracer provider): what `main.rs` serves.
pub fn app(client: ClientWithMiddleware) -> Router {
    app_with_layer(client, TraceLayer::new())
}

/// The service with a server layer of your own, for example one with an
/// explicit tracer provider and propagator in tests.
pub fn app_with_layer(client: ClientWithMiddleware, layer: TraceLayer) -> Router {
    Router::new()
        .route("/test", post(test))
        .layer(layer)
        .with_state(client)
}

/// A reqwest client that traces its calls with `middleware`.
pub fn client(middleware: TracingMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

/// Makes the calls in order, each awaited here so that it runs inside the
/// SERVER span of the request.
async fn test(
    State(client): State<ClientWithMiddleware>,
    body: Bytes,
) -> Result<StatusCode, (StatusCode, String)> {
    // The harness sends `Content-Type: application/json`, but nothing here
    // depends on it.
    let calls: Vec<Call> = serde_json::from_slice(&body).map_err(|err| {
        (
            StatusCode::BAD_REQUEST,
            format!("expected a JSON array of {{\"url\", \"arguments\"}} objects: {err}\n"),
        )
    })?;
    for call in calls {
        let arguments = call.arguments.unwrap_or_else(|| Value::Array(Vec::new()));
        let response = client
            .post(&call.url)
            .json(&arguments)
            .send()
            .await
            .map_err(|err| {
                (
                    StatusCode::BAD_GATEWAY,
                    format!("failed to call {}: {err}\n", call.url),
                )
            })?;
        // Read the answer to its end, so the connection goes back to the pool;
        // what it says does not matter to the harness.
        let _ = response.bytes().await;
    }
    Ok(StatusCode::OK)
}
