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
use tracetape::postgres::Connector;

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

/// How the driver reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Through a proxy, at the URL it gives.
    Proxy,
    /// A tokio-postgres connection read in place (`Connector::connect`).
    InPlace,
}

/// A connector whose spans the returned exporter holds.
fn traced() -> (Connector, InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let connector = Connector::new().with_tracer_provider(provider.clone());
    (connector, exporter, provider)
}

/// A proxy for `server` whose spans the returned exporter holds.
async fn proxied(server: &Postgres) -> (String, InMemorySpanExporter, SdkTracerProvider) {
    let (connector, exporter, provider) = traced();
    let url = connector
        .proxy(&server.url())
        .await
        .expect("the proxy starts");
    (url, exporter, provider)
}

/// A tokio-postgres client of `server` the `way` given, its connection
/// driven on a task of its own, and where its spans go.
async fn client(
    server: &Postgres,
    way: Way,
) -> (
    tokio_postgres::Client,
    tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
    InMemorySpanExporter,
    SdkTracerProvider,
) {
    match way {
        Way::Proxy => {
            let (url, exporter, provider) = proxied(server).await;
            // The proxy's own Unix socket directory, percent-encoded as the
            // host.
            assert!(url.starts_with("postgres://tracetape@%2F"), "{url}");
            assert!(!url.contains(&server.port().to_string()), "{url}");
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connecting through the proxy");
            (client, tokio::spawn(connection), exporter, provider)
        }
        Way::InPlace => {
            let (connector, exporter, provider) = traced();
            let config = server.url().parse().unwrap();
            let (client, connection) = connector
                .connect(&config)
                .await
                .expect("connecting in place");
            (client, tokio::spawn(connection), exporter, provider)
        }
    }
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
async fn queries_through_the_proxy_are_client_spans_with_the_database_conventions() {
    database_conventions(Way::Proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_read_in_place_are_client_spans_with_the_database_conventions() {
    database_conventions(Way::InPlace).await;
}

async fn database_conventions(way: Way) {
    let server = Postgres::start();
    let (client, driving, exporter, _provider) = client(&server, way).await;

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
    deadpool_requests(Way::Proxy).await;
}

/// The same with the pool's connections made by the connector and read
/// in place: the markers it sends at each check-out are answered without
/// reaching the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadpool_pool_connected_in_place_serves_each_request_it_is_taken_for() {
    deadpool_requests(Way::InPlace).await;
}

async fn deadpool_requests(way: Way) {
    use deadpool_postgres::{Manager, ManagerConfig, Pool};

    let server = Postgres::start();
    let (manager, exporter, _provider) = match way {
        Way::Proxy => {
            let (url, exporter, provider) = proxied(&server).await;
            let manager = Manager::new(url.parse().unwrap(), tokio_postgres::NoTls);
            (manager, exporter, provider)
        }
        Way::InPlace => {
            let (connector, exporter, provider) = traced();
            let config = server.url().parse().unwrap();
            let manager = Manager::from_connect(config, connector, ManagerConfig::default());
            (manager, exporter, provider)
        }
    };
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
    let url = format!("postgres://app@127.0.0.1:{port}/shop");
    for way in [Way::Proxy, Way::InPlace] {
        let connected = match way {
            Way::Proxy => {
                let proxied = Connector::new()
                    .proxy(&url)
                    .await
                    .expect("the proxy starts without the server");
                tokio_postgres::connect(&proxied, tokio_postgres::NoTls)
                    .await
                    .map(drop)
            }
            Way::InPlace => {
                let config = url.parse().unwrap();
                tracetape::postgres::connect(&config).await.map(drop)
            }
        };
        let error = connected.expect_err("no server to reach");
        let error = error
            .as_db_error()
            .expect("an error tracetape sends as the server would");
        assert_eq!(error.code().code(), "08001", "{way:?}");
        assert!(
            error.message().contains(&port.to_string()),
            "{way:?}: {}",
            error.message()
        );
    }
}

/// Queries sent on one connection before any answer came (tokio-postgres
/// pipelines concurrent queries on a client) each get their own span,
/// with their own text and outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_read_in_place_each_get_their_span() {
    let server = Postgres::start();
    let (client, driving, exporter, _provider) = client(&server, Way::InPlace).await;
    let (one, two, broken, three) = tokio::join!(
        client.query_one("SELECT 1::int4 + $1", &[&1i32]),
        client.query_one("SELECT 'two'::text || $1", &[&"!"]),
        client.query("SELECT * FROM nowhere", &[]),
        client.query_one("SELECT 3::int8 * $1", &[&3i64]),
    );
    assert_eq!(one.unwrap().get::<_, i32>(0), 2);
    assert_eq!(two.unwrap().get::<_, String>(0), "two!");
    assert!(broken.is_err());
    assert_eq!(three.unwrap().get::<_, i64>(0), 9);
    drop(client);
    driving.await.unwrap().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let mut seen: Vec<(String, Option<String>)> = spans
        .iter()
        .map(|span| {
            let query = text(span, "db.query.text").unwrap_or_default();
            (query, text(span, "db.response.status_code"))
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("SELECT * FROM nowhere".to_owned(), Some("42P01".to_owned())),
            ("SELECT ?::int4 + $1".to_owned(), None),
            ("SELECT ?::int8 * $1".to_owned(), None),
            ("SELECT ?::text || $1".to_owned(), None),
        ]
    );
}

/// A result far larger than one read: the rows reach the driver whole
/// and in order, however the tap's reads fall across them, alongside a
/// small query pipelined behind it, and each gets its one span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_larger_than_a_read_reaches_the_driver_whole() {
    let server = Postgres::start();
    let (client, driving, exporter, _provider) = client(&server, Way::InPlace).await;
    let big = "SELECT n, repeat(md5(n::text), 8) FROM generate_series(1, $1) n";
    let (rows, small) = tokio::join!(
        client.query(big, &[&20_000i32]),
        client.query_one("SELECT 'after'::text", &[]),
    );
    let rows = rows.unwrap();
    assert_eq!(rows.len(), 20_000);
    for (at, row) in rows.iter().enumerate() {
        let n: i32 = row.get(0);
        assert_eq!(n as usize, at + 1);
        assert_eq!(row.get::<_, String>(1).len(), 256);
    }
    assert_eq!(small.unwrap().get::<_, String>(0), "after");
    drop(client);
    driving.await.unwrap().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let mut queries: Vec<String> = (spans.iter())
        .filter_map(|span| text(span, "db.query.text"))
        .collect();
    queries.sort();
    assert_eq!(
        queries,
        [
            "SELECT ?::text".to_owned(),
            "SELECT n, repeat(md5(n::text), ?) FROM generate_series(?, $1) n".to_owned(),
        ]
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
    let url = tracetape::postgres::proxy(&with("s3cret")).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("authenticated through the proxy");
    tokio::spawn(connection);
    let rows = client
        .query("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "tracetape");

    let url = tracetape::postgres::proxy(&with("wrong")).await.unwrap();
    let error = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .err()
        .expect("a wrong password is refused");
    let error = error.as_db_error().expect("the server's error");
    assert_eq!(error.code().code(), "28P01", "{}", error.message());
}

#[tokio::test]
async fn a_url_that_asks_for_tls_is_refused_rather_than_sent_in_clear() {
    let error = tracetape::postgres::proxy("postgres://app@127.0.0.1:5432/shop?sslmode=require")
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
    records_and_replays_in_code(Way::Proxy).await;
}

/// The same through a deadpool pool whose connections are read in place:
/// recorded as they are read, and in replay answered with no server.
#[cfg(feature = "record-replay")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_read_in_place_records_and_replays_with_what_it_was_given_in_code() {
    records_and_replays_in_code(Way::InPlace).await;
}

/// A pool of one connection to the server, the `way` given.
#[cfg(feature = "record-replay")]
#[derive(Clone)]
enum Pool {
    Sqlx(sqlx::PgPool),
    Deadpool(deadpool_postgres::Pool),
}

#[cfg(feature = "record-replay")]
impl Pool {
    async fn open(connector: Connector, url: &str, way: Way) -> Self {
        match way {
            Way::Proxy => Self::Sqlx(crate::postgres_pools::sqlx(connector, url).await),
            Way::InPlace => Self::Deadpool(crate::postgres_pools::deadpool(connector, url)),
        }
    }

    async fn start_up(&self) {
        match self {
            Self::Sqlx(pool) => drop(sqlx::raw_sql("SELECT 1").execute(pool).await.unwrap()),
            Self::Deadpool(pool) => pool
                .get()
                .await
                .unwrap()
                .batch_execute("SELECT 1")
                .await
                .unwrap(),
        }
    }

    async fn answer(&self) -> i32 {
        const SQL: &str = "SELECT 6 * $1::int4";
        match self {
            Self::Sqlx(pool) => sqlx::query_scalar(SQL)
                .bind(7)
                .fetch_one(pool)
                .await
                .unwrap(),
            Self::Deadpool(pool) => {
                let client = pool.get().await.unwrap();
                let statement = client.prepare_cached(SQL).await.unwrap();
                client.query_one(&statement, &[&7i32]).await.unwrap().get(0)
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

#[cfg(feature = "record-replay")]
async fn records_and_replays_in_code(way: Way) {
    use axum::extract::State;
    use axum::routing::get;
    use tracetape::record::{RecordSettings, Recorder, RecordingStore};
    use tracetape::replay::{REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId, Replayer};
    use tracetape::server::TraceLayer;

    async fn start(
        connector: Connector,
        url: &str,
        way: Way,
        layer: TraceLayer,
    ) -> (std::net::SocketAddr, Pool) {
        let pool = Pool::open(connector, url, way).await;
        pool.start_up().await;
        let app = axum::Router::new()
            .route(
                "/answer",
                get(|State(pool): State<Pool>| async move { pool.answer().await.to_string() }),
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
        Connector::new()
            .with_tracer_provider(provider.clone())
            .with_recorder(recorder.clone()),
        &server.url(),
        way,
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
    // The request's recording is handed on when the request ends, though
    // its connection went back to the pool with nothing said (deadpool has
    // no hook for it): nothing is flushed here, and recordings held open
    // would linger for 30 s.
    let handed_on = tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while recorder.written() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        recorder.written()
    });
    assert_eq!(handed_on, 2, "{way:?}: the start-up's and the request's");
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
        Connector::new()
            .with_tracer_provider(provider.clone())
            .with_replayer(replayer.clone()),
        &url,
        way,
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
    // Nothing holds the replayed request's work once it answered: the
    // idle connection keeps its context asleep.
    let status = reqwest::Client::new()
        .get(format!("http://{service}/answer"))
        .header(REPLAY_HEADER, tracetape::replay::REPLAY_STATUS)
        .send()
        .await
        .unwrap();
    let status = status.headers()[tracetape::replay::REPLAY_STATUS_HEADER].as_bytes();
    let status = tracetape::replay::ReplayStatus::from_json(status).unwrap();
    assert_eq!(status.pending, 0, "{way:?}: replayed requests still held");
    pool.close().await;
}

/// TLS to the server, spoken by tracetape with the rustls configuration
/// it was given, both ways in: the server sees an encrypted session, the
/// queries are still read (spans with their text), and without a
/// configuration, or with one that does not trust the server, nothing is
/// sent in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_server_is_spoken_by_tracetape_in_place_and_through_the_proxy() {
    use std::sync::Arc;

    let pki = crate::tls_collector::Pki::new();
    let server = Postgres::start_with_tls(&pki.server_certificate_pem, &pki.server_key_pem);
    let url = format!("{}?sslmode=require", server.url());
    let tls = Arc::new(pki.client_config());
    const ENCRYPTED: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

    for way in [Way::InPlace, Way::Proxy] {
        let (connector, exporter, _provider) = traced();
        let connector = connector.with_tls(tls.clone());
        let client = match way {
            Way::InPlace => {
                let config = url.parse().unwrap();
                let (client, connection) = connector.connect(&config).await.unwrap();
                tokio::spawn(connection);
                client
            }
            Way::Proxy => {
                let proxied = connector.proxy(&url).await.unwrap();
                assert!(proxied.contains("sslmode=disable"), "{proxied}");
                let (client, connection) = tokio_postgres::connect(&proxied, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client
            }
        };
        let row = client.query_one(ENCRYPTED, &[]).await.unwrap();
        assert!(
            row.get::<_, bool>(0),
            "{way:?}: the server's session is in TLS"
        );
        drop(client);
        let spans = exporter.get_finished_spans().unwrap();
        let texts: Vec<Option<String>> = spans.iter().map(|s| text(s, "db.query.text")).collect();
        assert_eq!(texts, [Some(ENCRYPTED.to_owned())], "{way:?}");
    }

    // Required, and no configuration: refused, never in clear.
    let config: tokio_postgres::Config = url.parse().unwrap();
    let error = tracetape::postgres::connect(&config).await.err().unwrap();
    let error = error.as_db_error().expect("tracetape's refusal");
    assert_eq!(error.code().code(), "08001");
    assert!(error.message().contains("with_tls"), "{}", error.message());
    let refused = tracetape::postgres::proxy(&url).await.unwrap_err();
    assert!(refused.to_string().contains("with_tls"), "{refused}");

    // A configuration that does not trust the server's certificate: the
    // handshake fails, and so does the connection.
    let strangers = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
        .with_no_client_auth();
    let error = Connector::new()
        .with_tls(Arc::new(strangers))
        .connect(&config)
        .await
        .err()
        .unwrap();
    let error = error.as_db_error().expect("tracetape's refusal");
    assert_eq!(error.code().code(), "08001");
    assert!(
        error.message().to_lowercase().contains("certificate"),
        "{}",
        error.message()
    );

    // `prefer` without a configuration: in clear, as tokio-postgres
    // without TLS connects.
    let config: tokio_postgres::Config = server.url().parse().unwrap();
    let (client, connection) = tracetape::postgres::connect(&config).await.unwrap();
    tokio::spawn(connection);
    let row = client.query_one(ENCRYPTED, &[]).await.unwrap();
    assert!(!row.get::<_, bool>(0));
}

/// A driver looks a type it does not know up in the catalogs once per
/// connection, in whichever request meets the type first. Those lookups
/// are the background's, in record and in replay: a request replayed on a
/// connection that already knows the type (here the same request twice)
/// leaves nothing unused, and one that meets the type first is answered.
/// And a `COPY … TO STDOUT` is recorded with its data and replayed.
#[cfg(feature = "record-replay")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_lookups_are_the_background_s_and_a_copy_to_stdout_replays_its_data() {
    use axum::extract::State;
    use axum::routing::get;
    use deadpool_postgres::{Manager, ManagerConfig};
    use tokio_postgres::types::{FromSql, Kind, Type};
    use tracetape::record::{RecordSettings, Recorder, RecordingStore};
    use tracetape::replay::{REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId, Replayer};
    use tracetape::server::TraceLayer;

    /// A value of an enum type, which tokio-postgres must look up.
    struct Mood(String);

    impl<'a> FromSql<'a> for Mood {
        fn from_sql(
            _: &Type,
            raw: &'a [u8],
        ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
            Ok(Self(String::from_utf8(raw.to_vec())?))
        }

        fn accepts(ty: &Type) -> bool {
            matches!(ty.kind(), Kind::Enum(_))
        }
    }

    async fn start(connector: Connector, url: &str, layer: TraceLayer) -> std::net::SocketAddr {
        let manager =
            Manager::from_connect(url.parse().unwrap(), connector, ManagerConfig::default());
        let builder = deadpool_postgres::Pool::builder(manager).max_size(1);
        let pool = tracetape::postgres::deadpool_traced(builder)
            .build()
            .unwrap();
        let app = axum::Router::new()
            .route(
                "/mood",
                get(|State(pool): State<deadpool_postgres::Pool>| async move {
                    let client = pool.get().await.unwrap();
                    let sql = "SELECT mood FROM people WHERE name = $1";
                    let row = client.query_one(sql, &[&"ann"]).await.unwrap();
                    row.get::<_, Mood>(0).0
                }),
            )
            .route(
                "/export",
                get(|State(pool): State<deadpool_postgres::Pool>| async move {
                    use futures_util::TryStreamExt;

                    let client = pool.get().await.unwrap();
                    let copy = client.copy_out("COPY people TO STDOUT").await.unwrap();
                    let chunks: Vec<bytes::Bytes> = copy.try_collect().await.unwrap();
                    String::from_utf8(chunks.concat()).unwrap()
                }),
            )
            .with_state(pool)
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        address
    }

    let server = Postgres::start();
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TYPE mood AS ENUM ('happy', 'sad'); \
             CREATE TABLE people (name text PRIMARY KEY, mood mood NOT NULL); \
             INSERT INTO people VALUES ('ann', 'happy')",
        )
        .await
        .unwrap();
    drop(client);

    let tmp = tempfile::tempdir().unwrap();
    let mut settings = RecordSettings::default();
    settings.dir = tmp.path().to_owned();
    let recorder = Recorder::start(&settings, "moods").unwrap();
    let provider = SdkTracerProvider::builder().build();
    let service = start(
        Connector::new()
            .with_tracer_provider(provider.clone())
            .with_recorder(recorder.clone()),
        &server.url(),
        TraceLayer::new()
            .with_tracer_provider(provider.clone())
            .with_recorder(recorder.clone()),
    )
    .await;
    for (path, body) in [("/mood", "happy"), ("/export", "ann\thappy\n")] {
        let response = reqwest::get(format!("http://{service}{path}"))
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), body);
    }
    let url = server.url();
    drop(server);
    let recordings = tokio::task::block_in_place(|| {
        recorder.flush(std::time::Duration::from_secs(5)).unwrap();
        RecordingStore::new(tmp.path()).load().unwrap().recordings
    });
    let recorded = |path: &str| {
        let request = recordings
            .iter()
            .find(|r| (r.recording.inbound()).is_some_and(|inbound| inbound.request.url == path));
        request.unwrap().recording.clone()
    };
    let requested = |path: &str| ReplayId::of(&recorded(path)).unwrap().to_string();
    let request = recorded("/mood");
    let methods: Vec<&str> = (request.exchanges.iter())
        .filter(|e| e.kind == tracetape::record::ExchangeKind::Database)
        .map(|e| e.request.method.as_str())
        .collect();
    assert_eq!(methods, ["SELECT"], "the request's own query only");
    let lookups = recordings.iter().filter(|r| r.recording.background).count();
    assert!(lookups >= 2, "the type's lookups: {lookups}");
    let id = requested("/mood");

    let replayer = Replayer::load(&settings, "moods").unwrap();
    let service = start(
        Connector::new()
            .with_tracer_provider(provider.clone())
            .with_replayer(replayer.clone()),
        &url,
        TraceLayer::new()
            .with_tracer_provider(provider)
            .with_replayer(replayer),
    )
    .await;
    // The first replay meets the type on a new connection, the second on
    // one that knows it.
    for time in ["first", "second"] {
        let response = reqwest::Client::new()
            .get(format!("http://{service}/mood"))
            .header(REPLAY_HEADER, &id)
            .send()
            .await
            .unwrap();
        let log: serde_json::Value =
            serde_json::from_slice(response.headers()[REPLAY_LOG_HEADER].as_bytes()).unwrap();
        assert_eq!(response.text().await.unwrap(), "happy", "{time}: {log}");
        let calls: Vec<_> = log["calls"].as_array().unwrap().iter().collect();
        assert_eq!(calls.len(), 1, "{time}: {log}");
        assert_eq!(calls[0]["level"], "exact", "{time}: {log}");
        assert_eq!(log["unused"], serde_json::json!([]), "{time}: {log}");
    }
    // The COPY's data comes back as it was sent, with no server.
    let response = reqwest::Client::new()
        .get(format!("http://{service}/export"))
        .header(REPLAY_HEADER, requested("/export"))
        .send()
        .await
        .unwrap();
    let log: serde_json::Value =
        serde_json::from_slice(response.headers()[REPLAY_LOG_HEADER].as_bytes()).unwrap();
    assert_eq!(response.text().await.unwrap(), "ann\thappy\n", "{log}");
    assert_eq!(log["calls"][0]["method"], "COPY", "{log}");
    assert_eq!(log["calls"][0]["level"], "exact", "{log}");
    assert_eq!(log["unused"], serde_json::json!([]), "{log}");
}

/// A `hostaddr` is where an in-place connection goes; the host's name is
/// still what spans say the server is (and what its certificate must
/// hold): the name here resolves nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostaddr_is_connected_to_and_the_host_s_name_still_names_the_server() {
    let server = Postgres::start();
    let (connector, exporter, _provider) = traced();
    let url = format!(
        "postgres://tracetape@db.invalid:{}/postgres?hostaddr=127.0.0.1",
        server.port()
    );
    let config = url.parse().unwrap();
    let (client, connection) = connector.connect(&config).await.unwrap();
    tokio::spawn(connection);
    client.query_one("SELECT 1", &[]).await.unwrap();
    drop(client);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        text(&spans[0], "server.address").as_deref(),
        Some("db.invalid")
    );
    assert_eq!(
        text(&spans[0], "server.port"),
        Some(server.port().to_string())
    );
}
