//! Record mode with PostgreSQL: a traced axum service whose handlers query
//! a real server (started by the test) through tracetape's proxy and a
//! sqlx pool with tracetape's hooks. Each request's queries join its
//! recording, with their parameters, rows and errors; queries outside any
//! request make background recordings.
//!
//! Record mode installs a process-wide recorder, so this is a test target
//! of its own.

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

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use common::{init, serve};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tracetape::TelemetryGuard;
use tracetape::record::{Exchange, ExchangeKind, Recording, RecordingStore};
use tracetape::server::TraceLayer;

/// A depot: `POST /items/{name}` inserts (a duplicate is a 409),
/// `GET /items/{name}` reads one back; `POST /users/{name}` signs a user
/// up with a password and a token, and reads them back.
fn depot(pool: PgPool) -> Router {
    Router::new()
        .route(
            "/items/{name}",
            post(
                |State(pool): State<PgPool>, UrlPath(name): UrlPath<String>| async move {
                    let inserted = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(&name)
                    .bind(3i32)
                    .fetch_one(&pool)
                    .await;
                    match inserted {
                        Ok(id) => (StatusCode::CREATED, id.to_string()),
                        Err(_) => (StatusCode::CONFLICT, "taken".to_owned()),
                    }
                },
            ),
        )
        .route(
            "/items/{name}",
            get(
                |State(pool): State<PgPool>, UrlPath(name): UrlPath<String>| async move {
                    let mut transaction = pool.begin().await.unwrap();
                    let row: (i64, String, i32) =
                        sqlx::query_as("SELECT id, name, qty FROM items WHERE name = $1")
                            .bind(&name)
                            .fetch_one(&mut *transaction)
                            .await
                            .unwrap();
                    transaction.commit().await.unwrap();
                    format!("{} {} {}", row.0, row.1, row.2)
                },
            ),
        )
        .route(
            "/users/{name}",
            post(
                |State(pool): State<PgPool>, UrlPath(name): UrlPath<String>| async move {
                    sqlx::query(
                        "INSERT INTO users (name, password, api_token, email) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&name)
                    .bind("s3cret-pass")
                    .bind("t0ken")
                    .bind("ann@shop.test")
                    .execute(&pool)
                    .await
                    .unwrap();
                    let row: (String, String, String, String) = sqlx::query_as(
                        "SELECT name, password, api_token, email FROM users WHERE name = $1",
                    )
                    .bind(&name)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    format!("{} {} {} {}", row.0, row.1, row.2, row.3)
                },
            ),
        )
        .with_state(pool)
        .layer(TraceLayer::new())
}

/// Flushes until `dir` holds `n` recordings, ten seconds at most.
fn recordings(telemetry: &TelemetryGuard, dir: &Path, n: usize) -> Vec<Recording> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        telemetry.force_flush().unwrap();
        let loaded = RecordingStore::new(dir).load().unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        if loaded.recordings.len() >= n || Instant::now() > deadline {
            return loaded
                .recordings
                .into_iter()
                .map(|stored| stored.recording)
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn request(exchange: &Exchange) -> Value {
    json_body(&exchange.request.body.bytes)
}

fn response(exchange: &Exchange) -> Value {
    json_body(
        &exchange
            .response
            .as_ref()
            .expect("a database exchange has its answer")
            .body
            .bytes,
    )
}

fn database(recording: &Recording) -> Vec<&Exchange> {
    recording
        .exchanges
        .iter()
        .filter(|e| e.kind == ExchangeKind::Database)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_s_queries_join_its_recording_with_parameters_rows_and_errors() {
    let server = postgres::Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let telemetry = init(&[
        ("TRACETAPE_MODE", "record"),
        ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        // A column rule, by a name in another case than the table's.
        ("TRACETAPE_RECORD_REDACT_COLUMNS", "EMAIL"),
    ]);
    let url = tracetape::postgres::proxy(&server.url()).await.unwrap();
    let pool = tracetape::postgres::sqlx_traced(PgPoolOptions::new().max_connections(2))
        .connect(&url)
        .await
        .unwrap();
    // At start-up, outside any request: a background recording.
    sqlx::raw_sql(
        "CREATE TABLE items (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         name text UNIQUE NOT NULL, qty int4 NOT NULL); \
         CREATE TABLE users (name text PRIMARY KEY, password text NOT NULL, api_token text, \
         email text)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let service = serve(depot(pool.clone())).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("http://{service}/items/tea"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let duplicate = client
        .post(format!("http://{service}/items/tea"))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);
    let read = client
        .get(format!("http://{service}/items/tea"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.text().await.unwrap(), "1 tea 3");
    let signed_up = client
        .post(format!("http://{service}/users/ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_up.text().await.unwrap(),
        "ann s3cret-pass t0ken ann@shop.test",
        "the service sees its real data"
    );

    let recorded = tokio::task::block_in_place(|| recordings(&telemetry, &dir, 5));
    let background: Vec<&Recording> = recorded.iter().filter(|r| r.background).collect();
    assert_eq!(background.len(), 1, "the CREATE TABLEs");
    let create = database(background[0]);
    assert_eq!(create.len(), 1);
    assert!(
        request(create[0])["sql"]
            .as_str()
            .unwrap()
            .starts_with("CREATE TABLE items")
    );
    let created = response(create[0]);
    assert_eq!(created["results"][0]["tag"], "CREATE TABLE");
    assert_eq!(created["results"][1]["tag"], "CREATE TABLE");

    let by_request = |method: &str| -> Vec<&Recording> {
        recorded
            .iter()
            .filter(|r| {
                r.inbound()
                    .is_some_and(|inbound| inbound.request.method == method)
            })
            .collect()
    };
    let (users, posts): (Vec<&Recording>, Vec<&Recording>) = by_request("POST")
        .into_iter()
        .partition(|r| r.inbound().unwrap().request.url.starts_with("/users/"));
    assert_eq!(posts.len(), 2);
    for post in &posts {
        let inbound = post.inbound().unwrap();
        let queries = database(post);
        assert_eq!(queries.len(), 1, "one INSERT per POST");
        let insert = queries[0];
        // A child of the request's SERVER span, in its trace.
        assert_eq!(insert.parent_span_id, inbound.span_id);
        assert_eq!(insert.name, "INSERT items");
        assert_eq!(insert.request.method, "INSERT");
        assert!(insert.request.url.starts_with("postgresql://127.0.0.1:"));
        assert!(insert.request.url.ends_with("/postgres"));
        let sent = request(insert);
        assert_eq!(
            sent["sql"],
            "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING id"
        );
        assert_eq!(
            sent["parameters"],
            json!(["tea", 3]),
            "values read by their types"
        );
        assert_eq!(sent["types"], json!([25, 23]));
    }
    let answers: Vec<Value> = posts
        .iter()
        .map(|post| response(database(post)[0]))
        .collect();
    let ok = answers
        .iter()
        .find(|a| a.get("error").is_none())
        .expect("the first insert");
    assert_eq!(ok["results"][0]["rows"], json!([[1]]));
    assert_eq!(ok["results"][0]["tag"], "INSERT 0 1");
    assert_eq!(ok["results"][0]["columns"][0]["name"], "id");
    assert_eq!(ok["results"][0]["columns"][0]["type"], 20);
    let failed = answers
        .iter()
        .find(|a| a.get("error").is_some())
        .expect("the duplicate");
    assert_eq!(failed["error"]["code"], "23505");
    assert_eq!(failed["error"]["constraint"], "items_name_key");
    assert_eq!(failed["error"]["severity"], "ERROR");

    let gets = by_request("GET");
    assert_eq!(gets.len(), 1);
    let queries = database(gets[0]);
    let methods: Vec<&str> = queries.iter().map(|q| q.request.method.as_str()).collect();
    assert_eq!(
        methods,
        ["BEGIN", "SELECT", "COMMIT"],
        "in the order they ran"
    );
    let select = response(queries[1]);
    assert_eq!(select["results"][0]["rows"], json!([[1, "tea", 3]]));
    assert_eq!(select["results"][0]["tag"], "SELECT 1");
    let columns: Vec<&str> = select["results"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["id", "name", "qty"]);
    // Every exchange started after the one before it.
    for pair in queries.windows(2) {
        assert!(pair[0].start_unix_nanos <= pair[1].start_unix_nanos);
    }

    // Secrets: the columns named like credentials by default, `email` by
    // the rule; hashed alike in the INSERT's parameters and in the row read
    // back, and nothing else touched.
    assert_eq!(users.len(), 1);
    let queries = database(users[0]);
    let (insert, select) = (request(queries[0]), response(queries[1]));
    let inserted = insert["parameters"].as_array().unwrap().clone();
    let read = select["results"][0]["rows"][0].as_array().unwrap().clone();
    assert_eq!(inserted[0], "ann");
    assert_eq!(read[0], "ann");
    assert_eq!(request(queries[1])["parameters"], json!(["ann"]));
    for (at, real) in [(1, "s3cret-pass"), (2, "t0ken"), (3, "ann@shop.test")] {
        let hashed = inserted[at].as_str().unwrap();
        assert!(hashed.starts_with("REDACTED:"), "{at}: {hashed}");
        assert_eq!(read[at], hashed, "{at}: equal secrets hash alike");
        for body in [insert.to_string(), select.to_string()] {
            assert!(!body.contains(real), "{real} in {body}");
        }
    }
    pool.close().await;
}
