//! A small order service for the `tracetape replay` tests: `POST /orders`
//! checks stock and asks for a price from a dependency, through tracetape's
//! reqwest middleware, under tracetape's server layer; `POST /items` adds
//! `{"name": ...}` to a list kept in memory and `GET /items` answers the
//! list, so what it answers depends on the order of the requests;
//! `tracetape::init()` records or replays as `TRACETAPE_MODE` says.
//!
//! Run with: `DEPENDENCY_URL=http://127.0.0.1:9000 cargo run -p tracetape-cli
//! --example replay_target`, which prints
//!
//! ```text
//! listening on http://127.0.0.1:40123
//! ```
//!
//! It is an example of the CLI crate rather than a crate or a binary of its
//! own: `cargo test` builds examples with the tests (and the tests find it
//! beside their own executable), while a `[[bin]]` would be installed with
//! the `tracetape` command.
//!
//! | variable | meaning |
//! |---|---|
//! | `PORT` | the loopback port to listen on (default: any free one) |
//! | `DEPENDENCY_URL` | the base URL of the stock and price service (required) |
//! | `REPLAY_TARGET_NOTIFY` | `host:port` to connect to and tell `started <pid> <child pid>` at start-up and `hang <order>` when an order hangs |
//! | `REPLAY_TARGET_CHANGE` | comma-separated behaviour changes, below |
//! | `REPLAY_TARGET_BYPASS` | `ip:port` each order also connects to with a plain `std::net::TcpStream`, around tracetape's clients (what an unpatched dependency does); whether it connects changes nothing in the answer |
//! | `REPLAY_TARGET_PLAIN_CLIENT` | `ip:port` each order also calls (`GET /plain`) with a plain `reqwest::Client`, without tracetape's middleware; whether the call succeeds changes nothing in the answer |
//! | `REPLAY_TARGET_RESOLVE` | a host name each order also looks up with `std::net::ToSocketAddrs` (`getaddrinfo`), around tracetape's clients; whether it resolves changes nothing in the answer |
//! | `REPLAY_TARGET_TOKEN` | each order must carry `Authorization: Bearer <token>`, else it is answered 401 |
//! | `REPLAY_TARGET_UDP` | `ip:port` each order also sends a datagram to with a plain `std::net::UdpSocket` (as a metrics client would); whether it is sent changes nothing in the answer |
//!
//! | change | what the new build does |
//! |---|---|
//! | `total` | adds 1 to `total_cents` |
//! | `total-on=ID` | adds 1 to `total_cents` of order `ID` |
//! | `new-call` | also calls `GET /loyalty/{order}` |
//! | `drop-call` | no longer checks stock |
//! | `crash-on=ID` | exits with status 3 while answering order `ID` |
//! | `hang-on=ID` | never answers order `ID` |
//! | `never-ready` | answers `GET /health` with 503 |
//! | `exit-at-start` | prints an error and exits with status 1 before listening |
//! | `spawn-child` | starts a child `sleep 300` that it leaves running |
//!
//! SIGTERM stops it gracefully, which writes the recordings still queued.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Json, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tracetape::client::{TracingMiddleware, UrlTemplate};
use tracetape::server::TraceLayer;

/// What `REPLAY_TARGET_CHANGE` asks for.
#[derive(Debug, Default)]
struct Changes {
    total: bool,
    total_on: Option<String>,
    new_call: bool,
    drop_call: bool,
    crash_on: Option<String>,
    hang_on: Option<String>,
    never_ready: bool,
    exit_at_start: bool,
    spawn_child: bool,
}

impl Changes {
    fn from_env() -> Result<Self, String> {
        let mut changes = Self::default();
        let text = std::env::var("REPLAY_TARGET_CHANGE").unwrap_or_default();
        for change in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match change.split_once('=') {
                Some(("total-on", id)) => changes.total_on = Some(id.to_owned()),
                Some(("crash-on", id)) => changes.crash_on = Some(id.to_owned()),
                Some(("hang-on", id)) => changes.hang_on = Some(id.to_owned()),
                _ => match change {
                    "total" => changes.total = true,
                    "new-call" => changes.new_call = true,
                    "drop-call" => changes.drop_call = true,
                    "never-ready" => changes.never_ready = true,
                    "exit-at-start" => changes.exit_at_start = true,
                    "spawn-child" => changes.spawn_child = true,
                    other => return Err(format!("unknown REPLAY_TARGET_CHANGE {other:?}")),
                },
            }
        }
        Ok(changes)
    }
}

struct App {
    client: ClientWithMiddleware,
    dependency: String,
    changes: Changes,
    notify: Option<String>,
    bypass: Option<String>,
    /// A `reqwest::Client` without tracetape's middleware, and where it calls.
    plain: Option<(reqwest::Client, String)>,
    resolve: Option<String>,
    udp: Option<String>,
    token: Option<String>,
    /// What `POST /items` added, in the order it came.
    items: Mutex<Vec<String>>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let changes = Changes::from_env()?;
    if changes.exit_at_start {
        eprintln!(
            "replay_target: cannot open the order database (REPLAY_TARGET_CHANGE=exit-at-start)"
        );
        std::process::exit(1);
    }
    let _telemetry = tracetape::init();
    let dependency = std::env::var("DEPENDENCY_URL").map_err(|_| "set DEPENDENCY_URL")?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 0,
    };
    let notify = std::env::var("REPLAY_TARGET_NOTIFY").ok();
    // Left running on purpose: stopping the service must stop it too.
    let child = if changes.spawn_child {
        Some(std::process::Command::new("sleep").arg("300").spawn()?)
    } else {
        None
    };

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    if let Some(addr) = &notify {
        let child_pid = child.as_ref().map_or(0, std::process::Child::id);
        tell(addr, &format!("started {} {child_pid}", std::process::id())).await?;
    }
    let app = Arc::new(App {
        client: ClientBuilder::new(reqwest::Client::new())
            .with(TracingMiddleware::new())
            .build(),
        dependency,
        changes,
        notify,
        bypass: std::env::var("REPLAY_TARGET_BYPASS").ok(),
        plain: std::env::var("REPLAY_TARGET_PLAIN_CLIENT")
            .ok()
            .map(|addr| (reqwest::Client::new(), addr)),
        resolve: std::env::var("REPLAY_TARGET_RESOLVE").ok(),
        udp: std::env::var("REPLAY_TARGET_UDP").ok(),
        token: std::env::var("REPLAY_TARGET_TOKEN").ok(),
        items: Mutex::default(),
    });
    let router = Router::new()
        .route("/orders", post(order))
        .route("/health", get(health))
        .route("/items", post(add_item).get(list_items))
        .with_state(app)
        .layer(TraceLayer::new());
    let mut terminate = signal(SignalKind::terminate())?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            terminate.recv().await;
        })
        .await?;
    Ok(())
}

/// Tells the test listening at `addr` one line.
async fn tell(addr: &str, line: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    stream.shutdown().await
}

async fn health(State(app): State<Arc<App>>) -> StatusCode {
    if app.changes.never_ready {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

type Failure = (StatusCode, String);

/// Adds the item; answers how many there are now.
async fn add_item(State(app): State<Arc<App>>, Json(item): Json<Value>) -> Json<Value> {
    let name = item["name"].as_str().unwrap_or_default().to_owned();
    let mut items = app.items.lock().unwrap_or_else(PoisonError::into_inner);
    items.push(name);
    Json(json!({"count": items.len()}))
}

/// Every item added so far, in the order added.
async fn list_items(State(app): State<Arc<App>>) -> Json<Value> {
    let items = app.items.lock().unwrap_or_else(PoisonError::into_inner);
    Json(json!({"items": *items}))
}

async fn order(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(order): Json<Value>,
) -> Result<Json<Value>, Failure> {
    if let Some(token) = &app.token {
        let expected = format!("Bearer {token}");
        if headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return Err((StatusCode::UNAUTHORIZED, "unauthorized".to_owned()));
        }
    }
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    let sku = order["sku"].as_str().unwrap_or_default().to_owned();
    let qty = order["qty"].as_u64().unwrap_or(1);
    if app.changes.crash_on.as_deref() == Some(id.as_str()) {
        std::process::exit(3);
    }
    if app.changes.hang_on.as_deref() == Some(id.as_str()) {
        if let Some(addr) = &app.notify {
            tell(addr, &format!("hang {id}")).await.map_err(failed)?;
        }
        std::future::pending::<()>().await;
    }
    if let Some(addr) = &app.bypass {
        // Refused in replay unless allowed: the order goes on either way.
        let _ = connect_bypassing_tracetape(addr);
    }
    if let Some((client, addr)) = &app.plain {
        // Refused in replay unless allowed: the order goes on either way.
        let _ = call_with_plain_client(client, addr).await;
    }
    if let Some(host) = &app.resolve {
        // Refused in replay unless allowed: the order goes on either way.
        let _ = resolve_bypassing_tracetape(host);
    }
    if let Some(addr) = &app.udp {
        // Refused in replay unless allowed: the order goes on either way.
        let _ = send_datagram_bypassing_tracetape(addr, &id);
    }
    let in_stock = if app.changes.drop_call {
        true
    } else {
        let stock = call(
            app.client
                .get(format!("{}/stock/{sku}", app.dependency))
                .with_extension(UrlTemplate::new("/stock/{sku}")),
        )
        .await?;
        stock["available"].as_u64().unwrap_or(0) >= qty
    };
    let price = call(
        app.client
            .post(format!("{}/price", app.dependency))
            .json(&json!({"sku": sku, "qty": qty})),
    )
    .await?;
    if app.changes.new_call {
        call(app.client.get(format!("{}/loyalty/{id}", app.dependency))).await?;
    }
    let mut total = price["unit_cents"].as_u64().unwrap_or(0) * qty;
    if app.changes.total || app.changes.total_on.as_deref() == Some(id.as_str()) {
        total += 1;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    Ok(Json(json!({
        "id": id,
        "in_stock": in_stock,
        "total_cents": total,
        // Different on every run, and forgiven as epoch seconds.
        "created_epoch": now,
    })))
}

/// Connects to `addr` as a dependency without tracetape's instrumentation
/// would; named so that the tests find it in the reported backtrace.
#[inline(never)]
fn connect_bypassing_tracetape(addr: &str) -> std::io::Result<()> {
    std::net::TcpStream::connect(addr).map(drop)
}

/// Calls `addr` with a `reqwest::Client` that tracetape's middleware was
/// never added to; named so that the tests find it in the reported
/// backtrace.
#[inline(never)]
async fn call_with_plain_client(client: &reqwest::Client, addr: &str) -> reqwest::Result<()> {
    client
        .get(format!("http://{addr}/plain"))
        .send()
        .await
        .map(drop)
}

/// Looks `host` up as a dependency's driver would, without tracetape's
/// instrumentation; named so that the tests find it in the reported
/// backtrace.
#[inline(never)]
fn resolve_bypassing_tracetape(host: &str) -> std::io::Result<usize> {
    use std::net::ToSocketAddrs as _;
    (host, 80).to_socket_addrs().map(Iterator::count)
}

/// Sends `id` in one datagram to `addr`, as a metrics or logging client
/// would; named so that the tests find it in the reported backtrace.
#[inline(never)]
fn send_datagram_bypassing_tracetape(addr: &str, id: &str) -> std::io::Result<usize> {
    std::net::UdpSocket::bind("127.0.0.1:0")?.send_to(id.as_bytes(), addr)
}

/// Sends a call to the dependency and reads its JSON answer.
async fn call(request: reqwest_middleware::RequestBuilder) -> Result<Value, Failure> {
    let response = request.send().await.map_err(failed)?;
    let response = response.error_for_status().map_err(failed)?;
    response.json().await.map_err(failed)
}

fn failed(err: impl std::fmt::Display) -> Failure {
    (StatusCode::BAD_GATEWAY, err.to_string())
}
