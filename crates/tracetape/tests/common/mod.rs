//! What the record-mode test binaries share: telemetry installed from an
//! injected environment, and an axum app served on a free loopback port.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use tracetape::TelemetryGuard;
use tracetape::setup::Telemetry;

/// Telemetry installed globally, as `tracetape::init()` does, from `vars`
/// instead of the process environment; spans and metrics go nowhere, the
/// service is `checkout`.
pub(crate) fn init(vars: &[(&str, &str)]) -> TelemetryGuard {
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("OTEL_TRACES_EXPORTER".into(), "none".into());
    env.insert("OTEL_METRICS_EXPORTER".into(), "none".into());
    env.insert("OTEL_SERVICE_NAME".into(), "checkout".into());
    Telemetry::builder()
        .with_env_lookup(move |name| env.get(name).cloned())
        .init()
}

/// Serves `app` on 127.0.0.1, port 0, until the test ends.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
