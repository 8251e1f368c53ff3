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
//! | `REPLAY_TARGET_TOKEN` | each order must carry `Authorization: Bearer <token>` or the query `?api_key=<token>`, else it is answered 401 |
//! | `REPLAY_TARGET_UDP` | `ip:port` each order also sends a datagram to with a plain `std::net::UdpSocket` (as a metrics client would); whether it is sent changes nothing in the answer |
//! | `REPLAY_TARGET_BLOCKING_BYPASS` | `ip:port` each order also connects to as `REPLAY_TARGET_BYPASS` does, on tokio's blocking pool through `tracetape::context::spawn_blocking` |
//! | `REPLAY_TARGET_BACKGROUND_BYPASS` | `ip:port` a background task spawned at start-up without any request's context connects to as `REPLAY_TARGET_BYPASS` does, each time an order asks it to (the order waits until it has) |
//! | `REPLAY_TARGET_CHILD_CURL` | `ip:port` each order also fetches with a child process, `curl -s -m 5 http://IP:PORT/child`, and waits for |
//! | `REPLAY_TARGET_INVOICES_TOGETHER` | `N`: each invoice waits, between dating its issue and its due date, until `N` invoices are being answered at once |
//! | `REPLAY_TARGET_DATABASE_URL` | a PostgreSQL URL: at start-up the service creates its `notes` table there (through `tracetape::postgres::proxy` and a sqlx pool with tracetape's hooks), and `POST /notes` `{"text": …}` inserts a note and answers `{"id": …, "notes": <how many>}` |
//!
//! `GET /invoices/{id}` answers an invoice issued today and due in 30
//! days, `{"id":…,"issued":"2021-03-04","due":"2021-04-03","issued_in_task":…,"issued_blocking":…}`,
//! each date from `SystemTime::now()` (UTC): in the handler, in a task
//! spawned with `tracetape::context::spawn`, and on tokio's blocking pool
//! through `tracetape::context::spawn_blocking`; with
//! `REPLAY_TARGET_NOTIFY` it also tells `invoice ID issued=… due=…
//! task=… blocking=… epoch=SECONDS`.
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
//! | `price-qty` | asks the price of one more than ordered (the answer is used as before) |
//! | `audit-after` | after answering, a task carrying the request's context calls `GET /loyalty/{order}` |
//! | `startup-call` | calls `GET /stock/warm-up` once at start-up, before listening |
//! | `noise` | answers with a `session` word and two `parts[*].tag` words drawn at random once per process (not UUIDs, timestamps or numbers: nothing forgives them) |
//! | `due-days=N` | invoices are due in `N` days instead of 30 |
//! | `note-upper` | stores a note's text in upper case |
//!
//! SIGTERM stops it gracefully, which writes the recordings still queued.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Json, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode, Uri};
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
    price_qty: bool,
    audit_after: bool,
    startup_call: bool,
    noise: bool,
    due_days: Option<i64>,
    note_upper: bool,
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
                Some(("due-days", days)) => {
                    changes.due_days = Some(days.parse().map_err(|_| "bad due-days")?);
                }
                _ => match change {
                    "total" => changes.total = true,
                    "new-call" => changes.new_call = true,
                    "drop-call" => changes.drop_call = true,
                    "never-ready" => changes.never_ready = true,
                    "exit-at-start" => changes.exit_at_start = true,
                    "spawn-child" => changes.spawn_child = true,
                    "price-qty" => changes.price_qty = true,
                    "audit-after" => changes.audit_after = true,
                    "startup-call" => changes.startup_call = true,
                    "noise" => changes.noise = true,
                    "note-upper" => changes.note_upper = true,
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
    /// Random words drawn at start-up, for `noise`.
    noise: [String; 3],
    /// Invoices wait here until this many are answered at once.
    invoices_together: Option<tokio::sync::Barrier>,
    /// What `POST /items` added, in the order it came.
    items: Mutex<Vec<String>>,
    /// Where to connect on the blocking pool.
    blocking_bypass: Option<String>,
    /// Asks the background task to connect, and says when it has.
    background: Option<tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>>,
    /// The notes' database, through tracetape's proxy.
    notes: Option<sqlx::PgPool>,
    /// Where the child `curl` goes.
    child_curl: Option<String>,
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
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    if changes.startup_call {
        // Outside any request: answered from the background recordings
        // in replay. The service starts either way.
        let _ = call(client.get(format!("{dependency}/stock/warm-up"))).await;
    }
    let notes = match std::env::var("REPLAY_TARGET_DATABASE_URL") {
        Ok(url) => Some(notes(&url).await?),
        Err(_) => None,
    };
    let app = Arc::new(App {
        notes,
        client,
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
        noise: [random_word(), random_word(), random_word()],
        invoices_together: match std::env::var("REPLAY_TARGET_INVOICES_TOGETHER") {
            Ok(n) => Some(tokio::sync::Barrier::new(n.parse()?)),
            Err(_) => None,
        },
        items: Mutex::default(),
        blocking_bypass: std::env::var("REPLAY_TARGET_BLOCKING_BYPASS").ok(),
        background: std::env::var("REPLAY_TARGET_BACKGROUND_BYPASS")
            .ok()
            .map(background_bypass),
        child_curl: std::env::var("REPLAY_TARGET_CHILD_CURL").ok(),
    });
    let router = Router::new()
        .route("/orders", post(order))
        .route("/health", get(health))
        .route("/invoices/{id}", get(invoice))
        .route("/items", post(add_item).get(list_items))
        .route("/notes", post(add_note))
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

/// The notes' pool, through tracetape's proxy for `url`, its table made
/// (at start-up: a background recording, answered from it in replay).
async fn notes(url: &str) -> Result<sqlx::PgPool, Box<dyn Error>> {
    let proxied = tracetape::postgres::proxy(url).await?;
    let pool = tracetape::postgres::sqlx_traced(sqlx::postgres::PgPoolOptions::new())
        .connect(&proxied)
        .await?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text NOT NULL)")
        .execute(&pool)
        .await?;
    Ok(pool)
}

/// Stores the note; answers its id and how many notes there are.
async fn add_note(
    State(app): State<Arc<App>>,
    Json(note): Json<Value>,
) -> Result<Json<Value>, Failure> {
    let Some(pool) = &app.notes else {
        return Err((
            StatusCode::NOT_FOUND,
            "set REPLAY_TARGET_DATABASE_URL".to_owned(),
        ));
    };
    let mut text = note["text"].as_str().unwrap_or_default().to_owned();
    if app.changes.note_upper {
        text = text.to_uppercase();
    }
    let id: i32 = sqlx::query_scalar("INSERT INTO notes (text) VALUES ($1) RETURNING id")
        .bind(&text)
        .fetch_one(pool)
        .await
        .map_err(failed)?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
        .fetch_one(pool)
        .await
        .map_err(failed)?;
    Ok(Json(json!({"id": id, "notes": count})))
}

/// Every item added so far, in the order added.
async fn list_items(State(app): State<Arc<App>>) -> Json<Value> {
    let items = app.items.lock().unwrap_or_else(PoisonError::into_inner);
    Json(json!({"items": *items}))
}

async fn order(
    State(app): State<Arc<App>>,
    uri: Uri,
    headers: HeaderMap,
    Json(order): Json<Value>,
) -> Result<Json<Value>, Failure> {
    if let Some(token) = &app.token {
        let bearer = format!("Bearer {token}");
        let by_header =
            headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(bearer.as_str());
        let key = format!("api_key={token}");
        let by_query = uri
            .query()
            .is_some_and(|query| query.split('&').any(|pair| pair == key));
        if !by_header && !by_query {
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
    if let Some(addr) = app.blocking_bypass.clone() {
        // On the blocking pool, with the request's context: the order goes
        // on whatever comes of it.
        let _ =
            tracetape::context::spawn_blocking(move || connect_bypassing_tracetape(&addr)).await;
    }
    if let Some(background) = &app.background {
        let (done, connected) = tokio::sync::oneshot::channel();
        if background.send(done).await.is_ok() {
            let _ = connected.await;
        }
    }
    if let Some(addr) = &app.child_curl {
        // A child process connecting: refused in replay unless allowed.
        let _ = std::process::Command::new("curl")
            .args(["-s", "-m", "5", &format!("http://{addr}/child")])
            .stdout(std::process::Stdio::null())
            .status();
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
    let asked = if app.changes.price_qty { qty + 1 } else { qty };
    let price = call(
        app.client
            .post(format!("{}/price", app.dependency))
            .json(&json!({"sku": sku, "qty": asked})),
    )
    .await?;
    if app.changes.audit_after {
        let (client, url) = (
            app.client.clone(),
            format!("{}/loyalty/{id}", app.dependency),
        );
        tracetape::context::spawn(async move {
            // Well after the response has gone.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let _ = call(client.get(url)).await;
        });
    }
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
    let mut answer = json!({
        "id": id,
        "in_stock": in_stock,
        "total_cents": total,
        // Different on every run, and forgiven as epoch seconds.
        "created_epoch": now,
    });
    if app.changes.noise {
        let [session, one, two] = &app.noise;
        answer["session"] = json!(session);
        answer["parts"] = json!([{"n": 1, "tag": one}, {"n": 2, "tag": two}]);
    }
    Ok(Json(answer))
}

/// `w-` and 16 hex digits, different in every process (the standard
/// library's hasher keys are random).
fn random_word() -> String {
    use std::hash::BuildHasher as _;
    let hash = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("w-{hash:016x}")
}

/// An invoice dated from the wall clock: issued today, due in 30 days.
async fn invoice(State(app): State<Arc<App>>, Path(id): Path<String>) -> Json<Value> {
    let issued = date(unix_seconds());
    if let Some(together) = &app.invoices_together {
        together.wait().await;
    }
    let now = unix_seconds();
    let due = date(now + app.changes.due_days.unwrap_or(30) * 86_400);
    let task = tracetape::context::spawn(async { date(unix_seconds()) })
        .await
        .unwrap_or_default();
    let blocking = tracetape::context::spawn_blocking(|| date(unix_seconds()))
        .await
        .unwrap_or_default();
    // Without the request's context: the replay's process-wide clock.
    let plain = tokio::spawn(async { date(unix_seconds()) })
        .await
        .unwrap_or_default();
    if let Some(addr) = &app.notify {
        let line = format!(
            "invoice {id} issued={issued} due={due} task={task} blocking={blocking} \
             plain={plain} epoch={now}"
        );
        let _ = tell(addr, &line).await;
    }
    Json(json!({
        "id": id,
        "issued": issued,
        "due": due,
        "issued_in_task": task,
        "issued_blocking": blocking,
    }))
}

/// Seconds since the Unix epoch, now (negative before it).
fn unix_seconds() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The UTC date (`YYYY-MM-DD`) of `unix_seconds`, from the days since the
/// epoch in the proleptic Gregorian calendar (eras of 400 years).
fn date(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Starts the task that connects to `addr` whenever it is asked to: spawned
/// at start-up with no request's context, as a pool's or a periodic job's
/// task is, and answering when it has connected.
fn background_bypass(addr: String) -> tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>> {
    let (asks, mut asked) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(8);
    tokio::spawn(async move {
        while let Some(done) = asked.recv().await {
            let _ = connect_bypassing_tracetape(&addr);
            let _ = done.send(());
        }
    });
    asks
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
