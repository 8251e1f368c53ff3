//! Record, then replay with the database stopped: a traced axum service
//! whose handlers query PostgreSQL through tracetape's proxy and a sqlx
//! pool of one connection (so prepared statements are reused across
//! requests). Recorded against a real server the test starts; replayed
//! with that server gone, every query answered from the recordings, and
//! each change to the service (a changed query, a changed parameter, an
//! extra query, a skipped one) reported in the replay log.
//!
//! Record and replay mode are process-wide, so this is a test target of
//! its own, one test running the phases in turn.

#![cfg(all(
    feature = "record-replay",
    feature = "axum",
    feature = "postgres",
    feature = "sqlx"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "integration/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use common::{init, serve};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tracetape::TelemetryGuard;
use tracetape::record::{Recording, RecordingStore};
use tracetape::replay::{
    REPLAY_HEADER, REPLAY_LOG_HEADER, REPLAY_STATUS, REPLAY_STATUS_HEADER, ReplayId, ReplayStatus,
};
use tracetape::server::TraceLayer;

/// What the service does differently from the build that was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Change {
    None = 0,
    /// `POST /items/{name}` inserts 4 instead of 3.
    Parameter = 1,
    /// `GET /items/{name}` selects `qty + 0`.
    Query = 2,
    /// `GET /items/{name}` also counts the items.
    Extra = 3,
    /// `GET /items/{name}` opens no transaction.
    Skipped = 4,
}

#[derive(Clone)]
struct Depot {
    pool: PgPool,
    change: Arc<AtomicU8>,
}

impl Depot {
    fn change(&self) -> u8 {
        self.change.load(Ordering::SeqCst)
    }
}

/// `POST /items/{name}` (a duplicate is a 409), `GET /items/{name}` in a
/// transaction, `POST /items/{name}/discard` inserts and rolls back.
fn depot(depot: Depot) -> Router {
    Router::new()
        .route(
            "/items/{name}",
            post(
                |State(depot): State<Depot>, UrlPath(name): UrlPath<String>| async move {
                    let qty = if depot.change() == Change::Parameter as u8 {
                        4i32
                    } else {
                        3
                    };
                    let inserted = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(&name)
                    .bind(qty)
                    .fetch_one(&depot.pool)
                    .await;
                    match inserted {
                        Ok(id) => (StatusCode::CREATED, id.to_string()),
                        Err(sqlx::Error::Database(error)) => (
                            StatusCode::CONFLICT,
                            error.code().unwrap_or_default().into_owned(),
                        ),
                        Err(other) => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
                    }
                },
            ),
        )
        .route(
            "/items/{name}",
            get(
                |State(depot): State<Depot>, UrlPath(name): UrlPath<String>| async move {
                    let change = depot.change();
                    let sql = if change == Change::Query as u8 {
                        "SELECT id, name, qty + 0 FROM items WHERE name = $1"
                    } else {
                        "SELECT id, name, qty FROM items WHERE name = $1"
                    };
                    let mut connection = if change == Change::Skipped as u8 {
                        None
                    } else {
                        Some(depot.pool.begin().await.unwrap())
                    };
                    let row: Result<(i64, String, i32), _> = match connection.as_mut() {
                        Some(transaction) => {
                            sqlx::query_as(sql)
                                .bind(&name)
                                .fetch_one(&mut **transaction)
                                .await
                        }
                        None => sqlx::query_as(sql).bind(&name).fetch_one(&depot.pool).await,
                    };
                    if let Some(transaction) = connection {
                        transaction.commit().await.unwrap();
                    }
                    // After the commit: the pool's one connection is free again.
                    if change == Change::Extra as u8 {
                        let _: Result<i64, _> = sqlx::query_scalar("SELECT count(*) FROM items")
                            .fetch_one(&depot.pool)
                            .await;
                    }
                    match row {
                        Ok((id, name, qty)) => (StatusCode::OK, format!("{id} {name} {qty}")),
                        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
                    }
                },
            ),
        )
        .route(
            "/items/{name}/discard",
            post(
                |State(depot): State<Depot>, UrlPath(name): UrlPath<String>| async move {
                    let mut transaction = depot.pool.begin().await.unwrap();
                    sqlx::query("INSERT INTO items (name, qty) VALUES ($1, 1)")
                        .bind(&name)
                        .execute(&mut *transaction)
                        .await
                        .unwrap();
                    transaction.rollback().await.unwrap();
                    "discarded"
                },
            ),
        )
        .with_state(depot)
        .layer(TraceLayer::new())
}

/// The service, its pool through a proxy for `url`.
async fn start(url: &str, change: Arc<AtomicU8>) -> (SocketAddr, PgPool) {
    let proxied = tracetape::postgres::proxy(url).await.unwrap();
    let pool = tracetape::postgres::sqlx_traced(PgPoolOptions::new().max_connections(1))
        .connect(&proxied)
        .await
        .unwrap();
    // At start-up: a background recording, answered from it in replay.
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS items (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         name text UNIQUE NOT NULL, qty int4 NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let address = serve(depot(Depot {
        pool: pool.clone(),
        change,
    }))
    .await;
    (address, pool)
}

/// The requests recorded, in order: method, path, status, body.
const TRAFFIC: [(&str, &str, u16, &str); 5] = [
    ("POST", "/items/tea", 201, "1"),
    ("POST", "/items/tea", 409, "23505"),
    ("GET", "/items/tea", 200, "1 tea 3"),
    ("POST", "/items/cake/discard", 200, "discarded"),
    ("GET", "/items/tea", 200, "1 tea 3"),
];

async fn send(
    service: SocketAddr,
    method: &str,
    path: &str,
    replay: Option<&str>,
) -> (u16, String, Option<Value>) {
    let client = reqwest::Client::new();
    let url = format!("http://{service}{path}");
    let mut request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(id) = replay {
        request = request.header(REPLAY_HEADER, id);
    }
    let response = request.send().await.unwrap();
    let log = response
        .headers()
        .get(REPLAY_LOG_HEADER)
        .map(|value| serde_json::from_slice(value.as_bytes()).unwrap());
    (
        response.status().as_u16(),
        response.text().await.unwrap(),
        log,
    )
}

/// How many replayed requests' work is still held, as the service's
/// replay status says.
async fn pending(service: SocketAddr) -> usize {
    let response = reqwest::Client::new()
        .get(format!("http://{service}/"))
        .header(REPLAY_HEADER, REPLAY_STATUS)
        .send()
        .await
        .unwrap();
    let status = response.headers()[REPLAY_STATUS_HEADER].as_bytes().to_vec();
    ReplayStatus::from_json(&status).unwrap().pending
}

fn recordings(telemetry: &TelemetryGuard, dir: &Path, n: usize) -> Vec<Recording> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        telemetry.force_flush().unwrap();
        let loaded = RecordingStore::new(dir).load().unwrap();
        if loaded.recordings.len() >= n || Instant::now() > deadline {
            let mut recordings: Vec<Recording> = loaded
                .recordings
                .into_iter()
                .map(|stored| stored.recording)
                .collect();
            recordings.sort_by_key(|r| r.exchanges.first().map(|e| e.start_unix_nanos));
            return recordings;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log's calls as `(method, level)`, and the unused recorded calls'
/// methods.
fn calls(log: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let calls = log["calls"].as_array().unwrap().iter().map(|call| {
        (
            call["method"].as_str().unwrap().to_owned(),
            call["level"].as_str().unwrap_or("none").to_owned(),
        )
    });
    let unused = log["unused"].as_array().unwrap().iter();
    (
        calls.collect(),
        unused
            .map(|u| u["method"].as_str().unwrap().to_owned())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_queries_answer_the_replay_with_the_database_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let vars = |mode| {
        [
            ("TRACETAPE_MODE", mode),
            ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        ]
    };

    // Record against a real server.
    let server = postgres::Postgres::start();
    let url = server.url();
    let telemetry = init(&vars("record"));
    let change = Arc::new(AtomicU8::new(Change::None as u8));
    let (service, pool) = start(&url, change.clone()).await;
    for (method, path, status, body) in TRAFFIC {
        let (got, text, _) = send(service, method, path, None).await;
        assert_eq!(
            (got, text.as_str()),
            (status, body),
            "{method} {path} recorded"
        );
    }
    let recorded = tokio::task::block_in_place(|| recordings(&telemetry, &dir, TRAFFIC.len() + 1));
    pool.close().await;
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
    let port = server.port();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is gone"
    );
    let requests: Vec<&Recording> = recorded.iter().filter(|r| !r.background).collect();
    assert_eq!(requests.len(), TRAFFIC.len());

    // Replay the same build: every request as recorded, every query
    // answered exactly, none left unused.
    let telemetry = init(&vars("replay"));
    let (service, pool) = start(&url, change.clone()).await;
    for (recording, (method, path, status, body)) in requests.iter().zip(TRAFFIC) {
        let id = ReplayId::of(recording).unwrap().to_string();
        let (got, text, log) = send(service, method, path, Some(&id)).await;
        let log = log.expect("a replay log");
        assert_eq!(
            (got, text.as_str()),
            (status, body),
            "{method} {path} replayed: {log}"
        );
        let (calls, unused) = calls(&log);
        assert!(!calls.is_empty(), "{log}");
        assert!(
            calls.iter().all(|(_, level)| level == "exact"),
            "{method} {path}: {log}"
        );
        assert!(unused.is_empty(), "{method} {path}: {log}");
    }
    // Once the responses are gone, nothing holds a replayed request's
    // scope: an idle pooled connection keeps no request's context.
    let pending = pending(service).await;
    assert_eq!(pending, 0, "replayed requests still held");
    let first_get = ReplayId::of(requests[2]).unwrap().to_string();
    let first_post = ReplayId::of(requests[0]).unwrap().to_string();

    // A changed parameter: answered at `similar`, a deviation of the call
    // at the parameter's path.
    change.store(Change::Parameter as u8, Ordering::SeqCst);
    let (_, _, log) = send(service, "POST", "/items/tea", Some(&first_post)).await;
    let log = log.unwrap();
    let call = &log["calls"][0];
    assert_eq!(call["level"], "similar", "{log}");
    assert_eq!(call["differences"][0]["at"], "$.parameters[1]", "{log}");
    assert_eq!(call["differences"][0]["expected"], "3", "{log}");

    // A changed query: a deviation at `$.sql`.
    change.store(Change::Query as u8, Ordering::SeqCst);
    let (_, _, log) = send(service, "GET", "/items/tea", Some(&first_get)).await;
    let log = log.unwrap();
    let select = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "SELECT")
        .unwrap();
    assert_eq!(select["level"], "similar", "{log}");
    assert_eq!(select["differences"][0]["at"], "$.sql", "{log}");

    // An extra query: nothing recorded answers it.
    change.store(Change::Extra as u8, Ordering::SeqCst);
    let (_, _, log) = send(service, "GET", "/items/tea", Some(&first_get)).await;
    let (calls_made, unused) = calls(&log.unwrap());
    assert!(
        calls_made.contains(&("SELECT".to_owned(), "none".to_owned())),
        "{calls_made:?}"
    );
    assert!(unused.is_empty());

    // A skipped query: no transaction, so BEGIN and COMMIT go unused.
    change.store(Change::Skipped as u8, Ordering::SeqCst);
    let (status, _, log) = send(service, "GET", "/items/tea", Some(&first_get)).await;
    assert_eq!(status, 200);
    let (_, unused) = calls(&log.unwrap());
    assert_eq!(unused, ["BEGIN", "COMMIT"]);
    pool.close().await;
    drop(telemetry);
}
