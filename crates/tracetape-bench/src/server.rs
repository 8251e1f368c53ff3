//! `serve`: the measured app, a hello-world axum service, with or without
//! tracetape; or, in the pair modes, a front and a back service; or, in
//! the `json-*` modes, a JSON endpoint, `POST /echo`, that parses the
//! order it is sent (`Json<serde_json::Value>`) and answers with a
//! confirmation of about the same size ([`crate::json`]).
//!
//! All modes run on the same runtime (multi-thread, two workers, like the
//! two cores of the reference machine); the traced modes add
//! `TraceLayer::new()` and keep the guard of `tracetape::init()` alive, so
//! the cost measured is exactly what a user pays for those two lines.
//! Telemetry settings come from the `OTEL_*` and `TRACETAPE_*` variables
//! the parent sets. When record mode is on, the app flushes the recorder
//! as it stops and prints its counters as one line on standard output
//! ([`RecorderCounts`]).
//!
//! # The pair modes
//!
//! The back app is the hello-world app. The front app answers `GET /hello`
//! by calling the back's `GET /hello` over loopback with one
//! `reqwest::Client`, built at start and shared by every request, so its
//! keep-alive pool is reused (HTTP/1.1, no proxy, `TCP_NODELAY` as on the
//! servers' sockets), and returns the back's body; a failed or non-2xx
//! call is a 502, which the load generator counts as an error. The port
//! file names the front; the back's port stays internal.
//!
//! Both apps share this process and its two workers rather than each
//! getting a runtime: the thread count is then the same as in the
//! single-app modes, and the apps compete for the two workers as two
//! services on one two-core machine compete for its cores, instead of
//! four workers time-sliced by the kernel. In `pair-traced` both apps have
//! `TraceLayer::new()`, the front's client is
//! `reqwest_middleware::ClientBuilder::new(client).with(TracingMiddleware::new())`,
//! and one `tracetape::init()` serves both, so one batch exporter carries
//! all three spans of a request (two processes would run two).

use std::future::IntoFuture;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::{ListenerExt, TapIo};
use axum::{Json, Router};
use tokio::net::{TcpListener, TcpStream};
use tracetape::TelemetryGuard;
use tracetape::client::TracingMiddleware;
use tracetape::server::TraceLayer;

use crate::child::{stdin_closed, write_port_file};
use crate::cli::ServeArgs;
use crate::exported::ExportCounts;
use crate::json;
use crate::mode::{BUDGET_HELD_BYTES, Mode, OVER_LIMIT_MAX_BODY_BYTES, Setup, Workload};
use crate::peers::{self, PeerTelemetry};
use crate::recordings::RecorderCounts;

/// Tokio worker threads of the served app (both apps, in the pair modes).
pub(crate) const WORKERS: usize = 2;
/// How long the app waits, when it stops, for queued recordings to be
/// written before it counts them.
const RECORDER_FLUSH: Duration = Duration::from_secs(10);

/// A loopback listener whose connections are set to `TCP_NODELAY`.
pub(crate) type Listener = TapIo<TcpListener, fn(&mut TcpStream)>;

async fn hello() -> &'static str {
    "Hello, world!"
}

/// `POST /echo`: the order parsed, the confirmation serialized; 422 when
/// the order has no items (axum's own rejections: 400, 415).
async fn echo(Json(order): Json<serde_json::Value>) -> Result<Json<serde_json::Value>, StatusCode> {
    json::confirmation(&order)
        .map(Json)
        .ok_or(StatusCode::UNPROCESSABLE_ENTITY)
}

/// The app of a single-app mode: `GET /hello` (also the back app in the
/// pair modes), or `POST /echo` for the `json-*` modes; with tracetape's
/// layer, a peer's, or none.
fn app(mode: Mode) -> anyhow::Result<Router> {
    let app = match mode.workload() {
        Workload::Json(_) => Router::new().route("/echo", post(echo)),
        Workload::Hello | Workload::Pair => Router::new().route("/hello", get(hello)),
    };
    Ok(match mode.peer() {
        Some(peer) => peers::layered(app, peer)?,
        None if mode.uses_tracetape() => app.layer(TraceLayer::new()),
        None => app,
    })
}

/// Telemetry of the served app: tracetape's guard, or a peer's providers.
#[derive(Debug)]
enum AppTelemetry {
    Tracetape(TelemetryGuard),
    Peer(PeerTelemetry),
}

/// `tracetape::init()`, except in the modes that set record limits in
/// code: there the app reads the environment through
/// `with_env_lookup`, with `TRACETAPE_RECORD_MAX_HELD_BYTES` or
/// `TRACETAPE_RECORD_MAX_BODY_BYTES` answered by the app itself (the
/// benchmark strips `TRACETAPE_*` from its children's environment, and a
/// service that keeps its settings in code does the same).
fn init_tracetape(mode: Mode) -> TelemetryGuard {
    let set_in_code = match mode.setup() {
        Setup::RecordBudget => Some((
            "TRACETAPE_RECORD_MAX_HELD_BYTES",
            BUDGET_HELD_BYTES.to_string(),
        )),
        Setup::RecordOverLimit => Some((
            "TRACETAPE_RECORD_MAX_BODY_BYTES",
            OVER_LIMIT_MAX_BODY_BYTES.to_string(),
        )),
        _ => None,
    };
    match set_in_code {
        None => tracetape::init(),
        Some((name, value)) => tracetape::setup::Telemetry::builder()
            .with_env_lookup(move |wanted| {
                if wanted == name {
                    Some(value.clone())
                } else {
                    std::env::var(wanted).ok()
                }
            })
            .init(),
    }
}

/// The front app's client for the back app.
#[derive(Debug)]
enum BackClient {
    /// `pair-baseline`: reqwest alone.
    Plain(reqwest::Client),
    /// `pair-traced`: reqwest with tracetape's middleware.
    Traced(reqwest_middleware::ClientWithMiddleware),
}

/// What every request of the front app shares.
#[derive(Debug)]
struct Front {
    client: BackClient,
    /// `http://127.0.0.1:{back port}/hello`.
    back_url: reqwest::Url,
}

/// The front app's handler: the back's `GET /hello`, passed through.
async fn front_hello(State(front): State<Arc<Front>>) -> Result<String, (StatusCode, String)> {
    let url = front.back_url.clone();
    let sent = match &front.client {
        BackClient::Plain(client) => client
            .get(url)
            .send()
            .await
            .map_err(reqwest_middleware::Error::from),
        BackClient::Traced(client) => client.get(url).send().await,
    };
    let bad_gateway = |err: &dyn std::fmt::Display| {
        (
            StatusCode::BAD_GATEWAY,
            format!("calling the back app: {err}"),
        )
    };
    let response = sent
        .and_then(|r| r.error_for_status().map_err(Into::into))
        .map_err(|err| bad_gateway(&err))?;
    response.text().await.map_err(|err| bad_gateway(&err))
}

/// The front app for `mode`, calling the back app on `back_port`.
fn front_app(mode: Mode, back_port: u16) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .build()
        .context("building the front app's reqwest client")?;
    let client = if mode.uses_tracetape() {
        BackClient::Traced(
            reqwest_middleware::ClientBuilder::new(client)
                .with(TracingMiddleware::new())
                .build(),
        )
    } else {
        BackClient::Plain(client)
    };
    let back_url = reqwest::Url::parse(&format!("http://127.0.0.1:{back_port}/hello"))
        .context("the back app's URL")?;
    let app = Router::new()
        .route("/hello", get(front_hello))
        .with_state(Arc::new(Front { client, back_url }));
    Ok(if mode.uses_tracetape() {
        app.layer(TraceLayer::new())
    } else {
        app
    })
}

fn set_nodelay(tcp: &mut TcpStream) {
    // Same for all modes; small responses should not wait on Nagle.
    let _ = tcp.set_nodelay(true);
}

/// Binds `127.0.0.1:0`; returns the listener and its port.
pub(crate) async fn listen() -> anyhow::Result<(Listener, u16)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("local address")?.port();
    let tap: fn(&mut TcpStream) = set_nodelay;
    Ok((listener.tap_io(tap), port))
}

/// The runtime of a served app: multi-thread, [`WORKERS`] workers.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .context("building the server runtime")
}

/// Serves until standard input closes, then shuts telemetry down (which
/// exports what is still queued) and returns.
pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    runtime()?.block_on(serve_until_stopped(args))
}

async fn serve_until_stopped(args: &ServeArgs) -> anyhow::Result<()> {
    let stop = stdin_closed();
    let telemetry = match args.mode.peer() {
        Some(peer) => Some(AppTelemetry::Peer(PeerTelemetry::init(peer)?)),
        None if args.mode.uses_tracetape() => {
            Some(AppTelemetry::Tracetape(init_tracetape(args.mode)))
        }
        None => None,
    };
    let until_stopped = async {
        let _ = stop.await;
    };

    if args.mode.is_pair() {
        let (back_listener, back_port) = listen().await?;
        let (stop_back, back_stopped) = tokio::sync::oneshot::channel::<()>();
        let back = tokio::spawn(
            axum::serve(back_listener, app(args.mode)?)
                .with_graceful_shutdown(async {
                    let _ = back_stopped.await;
                })
                .into_future(),
        );
        let front = front_app(args.mode, back_port)?;
        // The front stops first, so that its requests in flight still
        // reach the back; its client, and the pooled connections, go with
        // it.
        let served = serve_app(front, &args.port_file, until_stopped)
            .await
            .context("serving the front app");
        let _ = stop_back.send(());
        back.await
            .context("the back app's task")?
            .context("serving the back app")?;
        served?;
    } else {
        serve_app(app(args.mode)?, &args.port_file, until_stopped).await?;
    }

    match telemetry {
        Some(AppTelemetry::Tracetape(telemetry)) => shut_down(telemetry).await?,
        Some(AppTelemetry::Peer(telemetry)) => tokio::task::spawn_blocking(move || {
            telemetry.shutdown();
        })
        .await
        .context("shutting the peer's telemetry down")?,
        None => {}
    }
    Ok(())
}

/// Serves `app` on a loopback port, written to `port_file` once it
/// listens, until `stop` completes; then lets the requests in flight
/// finish.
pub(crate) async fn serve_app(
    app: Router,
    port_file: &Path,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (listener, port) = listen().await?;
    write_port_file(port_file, port)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .context("serving")
}

/// Flushes the recorder, if record mode started one, printing its
/// counters ([`RecorderCounts`]), then shuts telemetry down, printing the
/// span counters ([`ExportCounts`]); says on standard error how many spans
/// were lost, if any were.
pub(crate) async fn shut_down(telemetry: TelemetryGuard) -> anyhow::Result<()> {
    // Flushing and dropping the guard may block on export and disk: keep
    // that off the runtime's workers.
    tokio::task::spawn_blocking(move || {
        if let Some(recorder) = telemetry.recorder() {
            let flushed = recorder.flush(RECORDER_FLUSH).is_ok();
            println!("{}", RecorderCounts::of(recorder, flushed));
        }
        // Shut down first, so that nothing is still queued when counted.
        let _ = telemetry.shutdown();
        let spans = telemetry.span_counts();
        println!("{}", ExportCounts::of(&spans));
        if spans.failed > 0 || spans.dropped() > 0 {
            eprintln!(
                "spans (tracetape's counts): {} ended, {} exported, {} lost to failed exports, \
                 {} dropped by the full queue",
                spans.ended,
                spans.exported,
                spans.failed,
                spans.dropped()
            );
        }
        drop(telemetry);
    })
    .await
    .context("shutting telemetry down")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Serves `app` on a loopback port in the background; returns the port.
    pub(crate) async fn spawn_app(app: Router) -> anyhow::Result<u16> {
        let (listener, port) = listen().await?;
        tokio::spawn(axum::serve(listener, app).into_future());
        Ok(port)
    }

    /// The pair answers through the front with the back's body; no
    /// telemetry is set up here, so the traced pair exercises the layers
    /// and the middleware with the default no-op provider.
    #[test]
    fn front_returns_the_back_body() -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()?;
        runtime.block_on(async {
            for mode in [Mode::PairBaseline, Mode::PairTraced] {
                let back_port = spawn_app(app(mode)?).await?;
                let port = spawn_app(front_app(mode, back_port)?).await?;
                let client = reqwest::Client::builder().no_proxy().build()?;
                let response = client
                    .get(format!("http://127.0.0.1:{port}/hello"))
                    .send()
                    .await?;
                assert_eq!(response.status(), StatusCode::OK, "{mode}");
                assert_eq!(response.text().await?, "Hello, world!", "{mode}");
            }
            anyhow::Ok(())
        })
    }

    /// `POST /echo` answers an order with its confirmation, with and
    /// without the layer (no telemetry set up: the default no-op
    /// provider), and an order without items with 422.
    #[test]
    fn echo_confirms_the_order() -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            for mode in [Mode::Json1kBaseline, Mode::Json1kRecord] {
                let port = spawn_app(app(mode)?).await?;
                let client = reqwest::Client::builder().no_proxy().build()?;
                let url = format!("http://127.0.0.1:{port}/echo");
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(json::order(1_000))
                    .send()
                    .await?;
                assert_eq!(response.status(), StatusCode::OK, "{mode}");
                let answer: serde_json::Value = response.json().await?;
                assert_eq!(answer["status"], "accepted", "{mode}");
                assert_eq!(answer["order"], "bench-000001", "{mode}");
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(r#"{"order":"x"}"#)
                    .send()
                    .await?;
                assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
            }
            anyhow::Ok(())
        })
    }

    #[test]
    fn front_answers_502_when_the_back_is_gone() -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            // A port that was free a moment ago: nothing listens there.
            let (gone, back_port) = listen().await?;
            drop(gone);
            let port = spawn_app(front_app(Mode::PairBaseline, back_port)?).await?;
            let client = reqwest::Client::builder().no_proxy().build()?;
            let response = client
                .get(format!("http://127.0.0.1:{port}/hello"))
                .send()
                .await?;
            assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
            anyhow::Ok(())
        })
    }
}
