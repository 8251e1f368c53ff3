//! Record, then replay with the database stopped: a traced axum service
//! whose handlers query PostgreSQL through a pool of one connection (so
//! prepared statements are reused across requests), once for each way
//! in: a sqlx pool through tracetape's proxy, and a deadpool-postgres pool
//! of tokio-postgres connections read in place. Recorded against a real
//! server the test starts; replayed with that server gone, every query
//! answered from the recordings, and each change to the service (a
//! changed query, a changed parameter, an extra query, a skipped one)
//! reported in the replay log.
//!
//! Record and replay mode are process-wide, so this is a test target of
//! its own, one test running the phases in turn.

#![cfg(all(
    feature = "record-replay",
    feature = "axum",
    feature = "postgres",
    feature = "sqlx",
    feature = "deadpool-postgres"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "integration/postgres.rs"]
#[allow(dead_code)]
mod postgres;
#[path = "integration/postgres_pools.rs"]
mod postgres_pools;

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

/// How the service reaches its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// A sqlx pool through tracetape's proxy.
    Sqlx,
    /// A deadpool-postgres pool whose connections tracetape makes and
    /// reads in place.
    Deadpool,
}

/// A pool of one connection, of either driver.
#[derive(Clone)]
enum Pool {
    Sqlx(PgPool),
    Deadpool(deadpool_postgres::Pool),
}

/// A failed query: its SQLSTATE when the database said one.
type Failed = (Option<String>, String);

impl Pool {
    async fn open(driver: Driver, url: &str) -> Self {
        let connector = tracetape::postgres::Connector::new();
        match driver {
            Driver::Sqlx => Self::Sqlx(postgres_pools::sqlx(connector, url).await),
            Driver::Deadpool => Self::Deadpool(postgres_pools::deadpool(connector, url)),
        }
    }

    async fn batch(&self, sql: &'static str) {
        match self {
            Self::Sqlx(pool) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
            Self::Deadpool(pool) => pool.get().await.unwrap().batch_execute(sql).await.unwrap(),
        }
    }

    /// Inserts an item: its id.
    async fn insert(&self, name: &str, qty: i32) -> Result<i64, Failed> {
        const SQL: &str = "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING id";
        match self {
            Self::Sqlx(pool) => sqlx::query_scalar::<_, i64>(SQL)
                .bind(name)
                .bind(qty)
                .fetch_one(pool)
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(db) => {
                        (db.code().map(|c| c.into_owned()), error.to_string())
                    }
                    _ => (None, error.to_string()),
                }),
            Self::Deadpool(pool) => {
                let client = pool.get().await.unwrap();
                let statement = client.prepare_cached(SQL).await.unwrap();
                let failed = |error: tokio_postgres::Error| {
                    (error.code().map(|c| c.code().to_owned()), error.to_string())
                };
                let row = client
                    .query_one(&statement, &[&name, &qty])
                    .await
                    .map_err(failed)?;
                Ok(row.get(0))
            }
        }
    }

    /// Reads an item with `sql`, in a transaction or not.
    async fn read(
        &self,
        sql: &'static str,
        name: &str,
        transaction: bool,
    ) -> Result<(i64, String, i32), Failed> {
        match self {
            Self::Sqlx(pool) => {
                let failed = |error: sqlx::Error| (None, error.to_string());
                if transaction {
                    let mut transaction = pool.begin().await.unwrap();
                    let row = sqlx::query_as(sql)
                        .bind(name)
                        .fetch_one(&mut *transaction)
                        .await;
                    transaction.commit().await.unwrap();
                    row.map_err(failed)
                } else {
                    sqlx::query_as(sql)
                        .bind(name)
                        .fetch_one(pool)
                        .await
                        .map_err(failed)
                }
            }
            Self::Deadpool(pool) => {
                let failed = |error: tokio_postgres::Error| (None, error.to_string());
                let mut client = pool.get().await.unwrap();
                let row = if transaction {
                    let transaction = client.transaction().await.unwrap();
                    let statement = transaction.prepare_cached(sql).await.unwrap();
                    let row = transaction.query_one(&statement, &[&name]).await;
                    transaction.commit().await.unwrap();
                    row
                } else {
                    let statement = client.prepare_cached(sql).await.unwrap();
                    client.query_one(&statement, &[&name]).await
                };
                row.map(|row| (row.get(0), row.get(1), row.get(2)))
                    .map_err(failed)
            }
        }
    }

    /// Counts the items (an answer is not needed).
    async fn count(&self) {
        const SQL: &str = "SELECT count(*) FROM items";
        match self {
            Self::Sqlx(pool) => drop(sqlx::query_scalar::<_, i64>(SQL).fetch_one(pool).await),
            Self::Deadpool(pool) => drop(pool.get().await.unwrap().query_one(SQL, &[]).await),
        }
    }

    /// Inserts an item in a transaction rolled back.
    async fn discard(&self, name: &str) {
        const SQL: &str = "INSERT INTO items (name, qty) VALUES ($1, 1)";
        match self {
            Self::Sqlx(pool) => {
                let mut transaction = pool.begin().await.unwrap();
                sqlx::query(SQL)
                    .bind(name)
                    .execute(&mut *transaction)
                    .await
                    .unwrap();
                transaction.rollback().await.unwrap();
            }
            Self::Deadpool(pool) => {
                let mut client = pool.get().await.unwrap();
                let transaction = client.transaction().await.unwrap();
                transaction.execute(SQL, &[&name]).await.unwrap();
                transaction.rollback().await.unwrap();
            }
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlx(pool) => pool.close().await,
            Self::Deadpool(pool) => pool.close(),
        }
    }
}

#[derive(Clone)]
struct Depot {
    pool: Pool,
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
                    match depot.pool.insert(&name, qty).await {
                        Ok(id) => (StatusCode::CREATED, id.to_string()),
                        Err((Some(code), _)) => (StatusCode::CONFLICT, code),
                        Err((None, other)) => (StatusCode::INTERNAL_SERVER_ERROR, other),
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
                    let transaction = change != Change::Skipped as u8;
                    let row = depot.pool.read(sql, &name, transaction).await;
                    // After the commit: the pool's one connection is free again.
                    if change == Change::Extra as u8 {
                        depot.pool.count().await;
                    }
                    match row {
                        Ok((id, name, qty)) => (StatusCode::OK, format!("{id} {name} {qty}")),
                        Err((_, error)) => (StatusCode::INTERNAL_SERVER_ERROR, error),
                    }
                },
            ),
        )
        .route(
            "/items/{name}/discard",
            post(
                |State(depot): State<Depot>, UrlPath(name): UrlPath<String>| async move {
                    depot.pool.discard(&name).await;
                    "discarded"
                },
            ),
        )
        .with_state(depot)
        .layer(TraceLayer::new())
}

/// The service, its pool of `driver`'s to the server at `url`.
async fn start(driver: Driver, url: &str, change: Arc<AtomicU8>) -> (SocketAddr, Pool) {
    let pool = Pool::open(driver, url).await;
    // At start-up: a background recording, answered from it in replay.
    pool.batch(
        "CREATE TABLE IF NOT EXISTS items (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         name text UNIQUE NOT NULL, qty int4 NOT NULL)",
    )
    .await;
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
    for driver in [Driver::Sqlx, Driver::Deadpool] {
        record_then_replay(driver).await;
    }
}

async fn record_then_replay(driver: Driver) {
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
    let (service, pool) = start(driver, &url, change.clone()).await;
    for (method, path, status, body) in TRAFFIC {
        let (got, text, _) = send(service, method, path, None).await;
        assert_eq!(
            (got, text.as_str()),
            (status, body),
            "{driver:?}: {method} {path} recorded"
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
    let (service, pool) = start(driver, &url, change.clone()).await;
    for (recording, (method, path, status, body)) in requests.iter().zip(TRAFFIC) {
        let id = ReplayId::of(recording).unwrap().to_string();
        let (got, text, log) = send(service, method, path, Some(&id)).await;
        let log = log.expect("a replay log");
        assert_eq!(
            (got, text.as_str()),
            (status, body),
            "{driver:?}: {method} {path} replayed: {log}"
        );
        let (calls, unused) = calls(&log);
        assert!(!calls.is_empty(), "{log}");
        assert!(
            calls.iter().all(|(_, level)| level == "exact"),
            "{driver:?}: {method} {path}: {log}"
        );
        assert!(unused.is_empty(), "{driver:?}: {method} {path}: {log}");
    }
    // Once the responses are gone, nothing holds a replayed request's
    // scope: an idle pooled connection keeps no request's context.
    let pending = pending(service).await;
    assert_eq!(pending, 0, "{driver:?}: replayed requests still held");
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
    // tokio-postgres opens its transactions with `START TRANSACTION`.
    let begin = if driver == Driver::Sqlx {
        "BEGIN"
    } else {
        "START"
    };
    assert_eq!(unused, [begin, "COMMIT"], "{driver:?}");
    pool.close().await;
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
}
