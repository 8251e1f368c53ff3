//! PostgreSQL queries through tracetape's proxy, against a real server
//! the test starts: CLIENT spans with the database conventions, through
//! tokio-postgres and through a sqlx pool whose connections serve many
//! requests.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use opentelemetry::trace::{
    FutureExt, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState,
};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sqlx::postgres::PgPoolOptions;
use tracetape::postgres::Proxy;

use crate::postgres::Postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_server_answers_queries_over_loopback() {
    let server = Postgres::start();
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .expect("connecting to the test server");
    let driving = tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE depot (id serial PRIMARY KEY, name text NOT NULL)")
        .await
        .unwrap();
    let inserted = client
        .execute(
            "INSERT INTO depot (name) VALUES ($1), ($2)",
            &[&"north", &"south"],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 2);
    let names: Vec<String> = client
        .query("SELECT name FROM depot ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(names, ["north", "south"]);
    drop(client);
    driving.await.unwrap().unwrap();
    let port = server.port();
    drop(server);
    // Stopped: nothing listens on its port any more.
    assert!(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
}

/// A proxy for `server` whose spans the returned exporter holds.
async fn proxied(server: &Postgres) -> (String, InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let url = Proxy::new(server.url())
        .with_tracer_provider(provider.clone())
        .start()
        .await
        .expect("the proxy starts");
    (url, exporter, provider)
}

fn attributes(span: &SpanData) -> HashMap<String, Value> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.clone()))
        .collect()
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    attributes(span).get(key).map(Value::to_string)
}

/// A context whose span is a remote parent made up by the test.
fn parent(n: u64) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(u128::from(n) + 1000),
        SpanId::from(n + 1000),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_are_client_spans_with_the_database_conventions() {
    let server = Postgres::start();
    let (url, exporter, _provider) = proxied(&server).await;
    // The proxy's own Unix socket directory, percent-encoded as the host.
    assert!(url.starts_with("postgres://tracetape@%2F"), "{url}");
    assert!(!url.contains(&server.port().to_string()), "{url}");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connecting through the proxy");
    let driving = tokio::spawn(connection);

    client
        .batch_execute(
            "CREATE TABLE depot (id serial PRIMARY KEY, name text UNIQUE NOT NULL); \
             CREATE INDEX depot_name ON depot (name)",
        )
        .await
        .unwrap();
    client
        .execute("INSERT INTO depot (name) VALUES ($1)", &[&"north"])
        .await
        .unwrap();
    let statement = client
        .prepare("SELECT id, name FROM depot WHERE name = $1")
        .await
        .unwrap();
    for name in ["north", "south"] {
        client.query(&statement, &[&name]).await.unwrap();
    }
    client
        .simple_query("SELECT 'secret literal', 42 FROM depot")
        .await
        .unwrap();
    let duplicate = client
        .execute("INSERT INTO depot (name) VALUES ($1)", &[&"north"])
        .await;
    let error = duplicate.expect_err("a unique violation");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    let syntax = client.simple_query("SELEC nothing").await;
    assert!(syntax.is_err());
    // Nothing is said after an error until the next query: still usable.
    let rows = client
        .query("SELECT count(*) FROM depot", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 1);
    drop(client);
    driving.await.unwrap().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "BATCH CREATE",
            "INSERT depot",
            "SELECT depot",
            "SELECT depot",
            "SELECT depot",
            "INSERT depot",
            "postgres",
            "SELECT depot",
        ],
        "one span per operation, the prepared statement's two executions included \
         (its Parse alone is none)"
    );
    for span in &spans {
        assert_eq!(span.span_kind, SpanKind::Client);
        assert_eq!(text(span, "db.system.name").as_deref(), Some("postgresql"));
        assert_eq!(text(span, "db.namespace").as_deref(), Some("postgres"));
        assert_eq!(text(span, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(text(span, "server.port"), Some(server.port().to_string()));
        assert!(span.start_time <= span.end_time);
    }
    let batch = &spans[0];
    assert_eq!(text(batch, "db.operation.batch.size").as_deref(), Some("2"));
    assert_eq!(
        text(batch, "db.operation.name").as_deref(),
        Some("BATCH CREATE")
    );
    let insert = &spans[1];
    assert_eq!(
        text(insert, "db.query.text").as_deref(),
        Some("INSERT INTO depot(name) VALUES($1)")
    );
    assert_eq!(text(insert, "db.operation.name").as_deref(), Some("INSERT"));
    assert_eq!(text(insert, "db.collection.name").as_deref(), Some("depot"));
    assert_eq!(
        text(insert, "db.query.summary").as_deref(),
        Some("INSERT depot")
    );
    assert_eq!(insert.status, Status::Unset);
    assert_eq!(
        text(&spans[2], "db.query.text").as_deref(),
        Some("SELECT id, name FROM depot WHERE name = $1")
    );
    assert_eq!(
        text(&spans[4], "db.query.text").as_deref(),
        Some("SELECT ?, ? FROM depot"),
        "literals never reach a span"
    );
    let violation = &spans[5];
    assert_eq!(
        text(violation, "db.response.status_code").as_deref(),
        Some("23505")
    );
    assert_eq!(text(violation, "error.type").as_deref(), Some("23505"));
    assert!(
        matches!(&violation.status, Status::Error { description } if description.contains("depot_name_key")),
        "{:?}",
        violation.status
    );
    let syntax = &spans[6];
    assert_eq!(
        text(syntax, "db.response.status_code").as_deref(),
        Some("42601")
    );
    assert_eq!(text(syntax, "db.operation.name"), None);
    assert_eq!(
        text(&spans[7], "db.collection.name").as_deref(),
        Some("depot")
    );
    assert_eq!(
        spans[7].status,
        Status::Unset,
        "the connection's next query is not an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_s_queries_belong_to_the_request_that_took_it() {
    let server = Postgres::start();
    let (url, exporter, _provider) = proxied(&server).await;
    // Two connections for twelve requests: each connection serves many,
    // and its prepared statement is reused across them.
    let pool = tracetape::postgres::sqlx_traced(PgPoolOptions::new().max_connections(2))
        .connect(&url)
        .await
        .expect("a pool through the proxy");
    let requests = (0..12u64).map(|n| {
        let pool = pool.clone();
        tokio::spawn(
            async move {
                let mut transaction = pool.begin().await.unwrap();
                let got: i64 = sqlx::query_scalar("SELECT $1::int8 + 1")
                    .bind(n as i64)
                    .fetch_one(&mut *transaction)
                    .await
                    .unwrap();
                assert_eq!(got, n as i64 + 1);
                tokio::task::yield_now().await;
                transaction.commit().await.unwrap();
            }
            .with_context(parent(n)),
        )
    });
    for request in requests.collect::<Vec<_>>() {
        request.await.unwrap();
    }
    pool.close().await;

    each_request_has_its_own(&exporter, 12, &["BEGIN", "SELECT $1::int8 + ?", "COMMIT"]);
}

/// Every request `0..requests` (a context from [`parent`]) has spans
/// with exactly `texts`, children of its own span, and no span is
/// outside them.
fn each_request_has_its_own(exporter: &InMemorySpanExporter, requests: u64, texts: &[&str]) {
    let spans = exporter.get_finished_spans().unwrap();
    let mut per_trace: HashMap<TraceId, Vec<&SpanData>> = HashMap::new();
    for span in &spans {
        per_trace
            .entry(span.span_context.trace_id())
            .or_default()
            .push(span);
    }
    for n in 0..requests {
        let expected = parent(n);
        let expected = expected.span().span_context().clone();
        let mine = per_trace.remove(&expected.trace_id()).unwrap_or_default();
        let got: Vec<String> = mine
            .iter()
            .map(|span| text(span, "db.query.text").unwrap_or_default())
            .collect();
        assert_eq!(got, texts, "request {n}");
        for span in mine {
            assert_eq!(
                span.parent_span_id,
                expected.span_id(),
                "request {n}: {}",
                span.name
            );
        }
    }
    // Markers make no spans, and nothing was left without its request.
    assert!(
        per_trace.is_empty(),
        "spans outside the requests: {:?}",
        per_trace
            .values()
            .flatten()
            .map(|span| (&span.name, text(span, "db.query.text")))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadpool_connection_s_cached_statement_serves_each_request_it_is_taken_for() {
    use deadpool_postgres::{Manager, Pool};

    let server = Postgres::start();
    let (url, exporter, _provider) = proxied(&server).await;
    let manager = Manager::new(url.parse().unwrap(), tokio_postgres::NoTls);
    let pool = tracetape::postgres::deadpool_traced(Pool::builder(manager).max_size(2))
        .build()
        .unwrap();
    let requests = (0..10u64).map(|n| {
        let pool = pool.clone();
        tokio::spawn(
            async move {
                let client = pool.get().await.unwrap();
                // Prepared once per connection, executed by every request
                // that takes the connection.
                let statement = client.prepare_cached("SELECT $1::int8 * 2").await.unwrap();
                let row = client.query_one(&statement, &[&(n as i64)]).await.unwrap();
                assert_eq!(row.get::<_, i64>(0), n as i64 * 2);
            }
            .with_context(parent(n)),
        )
    });
    for request in requests.collect::<Vec<_>>() {
        request.await.unwrap();
    }
    pool.close();
    each_request_has_its_own(&exporter, 10, &["SELECT $1::int8 * ?"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_be_reached_is_the_driver_s_connection_error() {
    let server = Postgres::start();
    let port = server.port();
    drop(server);
    let url = Proxy::new(format!("postgres://app@127.0.0.1:{port}/shop"))
        .start()
        .await
        .expect("the proxy starts without the server");
    let error = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .err()
        .expect("no server to reach");
    let error = error
        .as_db_error()
        .expect("an error the proxy sends as the server would");
    assert_eq!(error.code().code(), "08001");
    assert!(
        error.message().contains(&port.to_string()),
        "{}",
        error.message()
    );
}

/// The server's authentication (SCRAM-SHA-256 here) is between the
/// driver and the server: the proxy passes it on untouched, and a wrong
/// password is the server's own error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_the_server_asks_for_passes_through_the_proxy() {
    let server = Postgres::start_with_password("s3cret");
    let with = |password: &str| {
        format!(
            "postgres://tracetape:{password}@127.0.0.1:{}/postgres",
            server.port()
        )
    };
    let url = Proxy::new(with("s3cret")).start().await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("authenticated through the proxy");
    tokio::spawn(connection);
    let rows = client
        .query("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "tracetape");

    let url = Proxy::new(with("wrong")).start().await.unwrap();
    let error = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .err()
        .expect("a wrong password is refused");
    let error = error.as_db_error().expect("the server's error");
    assert_eq!(error.code().code(), "28P01", "{}", error.message());
}

#[tokio::test]
async fn a_url_that_asks_for_tls_is_refused_rather_than_sent_in_clear() {
    let error = Proxy::new("postgres://app@127.0.0.1:5432/shop?sslmode=require")
        .start()
        .await
        .expect_err("no TLS to the server yet");
    assert!(error.to_string().contains("sslmode=require"), "{error}");
}

/// Record and replay set in code, as the layers' `with_recorder` and
/// `with_replayer` are (several services in one process, each its own):
/// nothing process-wide. The start-up's query, outside any request, goes
/// to the proxy's own recorder and is answered from its recordings.
#[cfg(feature = "record-replay")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_records_and_replays_with_what_it_was_given_in_code() {
    use axum::extract::State;
    use axum::routing::get;
    use tracetape::record::{RecordSettings, Recorder, RecordingStore};
    use tracetape::replay::{REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId, Replayer};
    use tracetape::server::TraceLayer;

    async fn start(proxy: Proxy, layer: TraceLayer) -> (std::net::SocketAddr, sqlx::PgPool) {
        let proxied = proxy.start().await.unwrap();
        let pool = tracetape::postgres::sqlx_traced(PgPoolOptions::new().max_connections(1))
            .connect(&proxied)
            .await
            .unwrap();
        sqlx::raw_sql("SELECT 1").execute(&pool).await.unwrap();
        let app = axum::Router::new()
            .route(
                "/answer",
                get(|State(pool): State<sqlx::PgPool>| async move {
                    let answer: i32 = sqlx::query_scalar("SELECT 6 * $1::int4")
                        .bind(7)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    answer.to_string()
                }),
            )
            .with_state(pool.clone())
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (address, pool)
    }

    let server = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = RecordSettings::default();
    settings.dir = tmp.path().to_owned();
    let recorder = Recorder::start(&settings, "answers").unwrap();
    // Spans of their own (the global provider makes none, so no trace
    // ids), as a service set up in code has.
    let provider = SdkTracerProvider::builder().build();
    let (service, pool) = start(
        Proxy::new(server.url())
            .with_tracer_provider(provider.clone())
            .with_recorder(recorder.clone()),
        TraceLayer::new()
            .with_tracer_provider(provider.clone())
            .with_recorder(recorder.clone()),
    )
    .await;
    let answer = reqwest::get(format!("http://{service}/answer"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "42");
    pool.close().await;
    let url = server.url();
    drop(server);
    let recordings = tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            recorder.flush(std::time::Duration::from_secs(5)).unwrap();
            let loaded = RecordingStore::new(tmp.path()).load().unwrap().recordings;
            if loaded.len() >= 2 || std::time::Instant::now() > deadline {
                return loaded;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    assert_eq!(
        recordings.iter().filter(|r| r.recording.background).count(),
        1,
        "SELECT 1"
    );
    let request = recordings.iter().find(|r| !r.recording.background).unwrap();
    let id = ReplayId::of(&request.recording).unwrap().to_string();

    let replayer = Replayer::load(&settings, "answers").unwrap();
    let (service, pool) = start(
        Proxy::new(url.clone())
            .with_tracer_provider(provider.clone())
            .with_replayer(replayer.clone()),
        TraceLayer::new()
            .with_tracer_provider(provider)
            .with_replayer(replayer),
    )
    .await;
    let response = reqwest::Client::new()
        .get(format!("http://{service}/answer"))
        .header(REPLAY_HEADER, id)
        .send()
        .await
        .unwrap();
    let log: serde_json::Value =
        serde_json::from_slice(response.headers()[REPLAY_LOG_HEADER].as_bytes()).unwrap();
    assert_eq!(
        response.text().await.unwrap(),
        "42",
        "answered with no server"
    );
    assert_eq!(log["calls"][0]["method"], "SELECT", "{log}");
    assert_eq!(log["calls"][0]["level"], "exact", "{log}");
    assert_eq!(log["unused"], serde_json::json!([]), "{log}");
    pool.close().await;
}
