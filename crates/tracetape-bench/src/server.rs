//! `serve`: the measured app, a hello-world axum service, with or without
//! tracetape.
//!
//! Both modes are the same `Router` on the same runtime (multi-thread, two
//! workers, like the two cores of the reference machine); the traced modes
//! add `TraceLayer::new()` and keep the guard of `tracetape::init()` alive,
//! so the cost measured is exactly what a user pays for those two lines.
//! Telemetry settings come from the `OTEL_*` variables the parent sets.

use std::net::Ipv4Addr;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tracetape::server::TraceLayer;

use crate::child::{stdin_closed, write_port_file};
use crate::cli::{Mode, ServeArgs};

/// Tokio worker threads of the served app.
const WORKERS: usize = 2;

async fn hello() -> &'static str {
    "Hello, world!"
}

/// The app for `mode`.
fn app(mode: Mode) -> Router {
    let app = Router::new().route("/hello", get(hello));
    match mode {
        Mode::Baseline => app,
        Mode::Traced | Mode::TracedGrpc | Mode::Local => app.layer(TraceLayer::new()),
    }
}

/// Serves until standard input closes, then shuts telemetry down (which
/// exports what is still queued) and returns.
pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .context("building the server runtime")?;
    runtime.block_on(serve_until_stopped(args))
}

async fn serve_until_stopped(args: &ServeArgs) -> anyhow::Result<()> {
    let stop = stdin_closed();
    let telemetry = match args.mode {
        Mode::Baseline => None,
        Mode::Traced | Mode::TracedGrpc | Mode::Local => Some(tracetape::init()),
    };

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("local address")?.port();
    let listener = listener.tap_io(|tcp| {
        // Same for both modes; small responses should not wait on Nagle.
        let _ = tcp.set_nodelay(true);
    });
    write_port_file(&args.port_file, port)?;

    axum::serve(listener, app(args.mode))
        .with_graceful_shutdown(async {
            let _ = stop.await;
        })
        .await
        .context("serving")?;

    if let Some(telemetry) = telemetry {
        // Dropping the guard flushes and may block on export: keep that off
        // the runtime's workers.
        tokio::task::spawn_blocking(move || drop(telemetry))
            .await
            .context("shutting telemetry down")?;
    }
    Ok(())
}
