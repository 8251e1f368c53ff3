//! `TRACETAPE_MODE` end to end: telemetry set up from an (injected)
//! environment, real servers and clients on loopback, recordings read back
//! from disk.
//!
//! Record mode installs a process-wide recorder, so this is a test target
//! of its own with a single test that runs the scenarios one after the
//! other: nothing else in this process can see the recorder, and each
//! scenario's guard removes it again when it drops.

#![cfg(all(feature = "record-replay", feature = "axum", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{init, serve};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tracetape::TelemetryGuard;
use tracetape::client::TracingMiddleware;

use tracetape::record::{ExchangeKind, LoadedRecordings, RecordingStore};
use tracetape::replay::{REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId};
use tracetape::server::TraceLayer;

/// A plain, untraced backend, and in front of it a service traced with
/// `TraceLayer::new()` (no recorder of its own) whose handler calls the
/// backend through `TracingMiddleware::new()` (no recorder of its own
/// either). Returns the front's address.
async fn services() -> SocketAddr {
    front(backend(Arc::default()).await).await
}

/// The plain backend of [`services`], counting the requests it gets.
async fn backend(hits: Arc<AtomicUsize>) -> SocketAddr {
    serve(Router::new().route(
        "/price",
        get(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "42" }
        }),
    ))
    .await
}

/// The traced checkout front of [`services`], calling `backend`.
async fn front(backend: SocketAddr) -> SocketAddr {
    let client: ClientWithMiddleware = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let front = Router::new()
        .route(
            "/checkout",
            get(
                |State((client, backend)): State<(ClientWithMiddleware, SocketAddr)>| async move {
                    let price = client
                        .get(format!("http://{backend}/price"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    format!("price {price}")
                },
            ),
        )
        .with_state((client, backend))
        .layer(TraceLayer::new());
    serve(front).await
}

async fn checkout(front: SocketAddr) {
    let body = reqwest::get(format!("http://{front}/checkout"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "price 42");
}

/// Flushes until `dir` holds `n` recordings (the last part of a recording
/// closes just after the response is sent), ten seconds at most.
fn wait_for_recordings(telemetry: &TelemetryGuard, dir: &Path, n: usize) -> LoadedRecordings {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        telemetry.force_flush().unwrap();
        let loaded = RecordingStore::new(dir).load().unwrap();
        if loaded.recordings.len() >= n || Instant::now() > deadline {
            return loaded;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Recording files in `dir` (the redaction key beside them is hidden).
/// The recordings in `dir` (none when it does not exist).
fn json_files(dir: &Path) -> u64 {
    RecordingStore::new(dir).count().unwrap_or(0)
}

async fn record_mode_records_both_sides_into_one_recording(tmp: &Path) {
    let dir = tmp.join("recordings");
    let telemetry = init(&[
        ("TRACETAPE_MODE", "record"),
        ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
    ]);
    let recorder = telemetry.recorder().expect("record mode starts a recorder");
    assert_eq!(recorder.service_name(), "checkout");
    let front = services().await;
    checkout(front).await;

    let loaded = tokio::task::block_in_place(|| wait_for_recordings(&telemetry, &dir, 1));
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.recordings.len(), 1);
    let recording = &loaded.recordings[0].recording;
    assert_eq!(recording.service_name, "checkout");
    assert!(!recording.background);
    let kinds: Vec<ExchangeKind> = recording.exchanges.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&ExchangeKind::Server));
    assert!(kinds.contains(&ExchangeKind::Client));
    let inbound = recording.inbound().unwrap();
    assert_eq!(inbound.request.method, "GET");
    assert!(
        inbound.request.url.ends_with("/checkout"),
        "{}",
        inbound.request.url
    );
    let answer = inbound.response.as_ref().unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(&answer.body.bytes[..], b"price 42");
    let outbound: Vec<_> = recording.outbound().collect();
    assert_eq!(outbound.len(), 1);
    assert!(
        outbound[0].request.url.ends_with("/price"),
        "{}",
        outbound[0].request.url
    );
    assert_eq!(
        &outbound[0].response.as_ref().unwrap().body.bytes[..],
        b"42"
    );
    assert_eq!(outbound[0].parent_span_id, inbound.span_id);

    // Dropping the guard stops the process-wide recorder: the same
    // layers go on tracing and record nothing more.
    tokio::task::block_in_place(|| drop(telemetry));
    checkout(front).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        RecordingStore::new(&dir).load().unwrap().recordings.len(),
        1
    );
}

async fn a_later_init_wins_and_an_earlier_guard_does_not_remove_it(tmp: &Path) {
    let first_dir = tmp.join("first");
    let second_dir = tmp.join("second");
    let first = init(&[
        ("TRACETAPE_MODE", "record"),
        ("TRACETAPE_RECORD_DIR", first_dir.to_str().unwrap()),
    ]);
    let second = init(&[
        ("TRACETAPE_MODE", "record"),
        ("TRACETAPE_RECORD_DIR", second_dir.to_str().unwrap()),
    ]);
    tokio::task::block_in_place(|| drop(first));
    checkout(services().await).await;
    let loaded = tokio::task::block_in_place(|| wait_for_recordings(&second, &second_dir, 1));
    assert_eq!(loaded.recordings.len(), 1);
    assert_eq!(json_files(&first_dir), 0);
    tokio::task::block_in_place(|| second.shutdown()).unwrap();
}

async fn unwritable_directory_keeps_tracing_without_recording(tmp: &Path) {
    let file = tmp.join("not-a-directory");
    std::fs::write(&file, b"a regular file").unwrap();
    let dir: PathBuf = file.join("recordings");
    let telemetry = init(&[
        ("TRACETAPE_MODE", "record"),
        ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
    ]);
    // The warning (`setup.record_failed`) went to standard error; the
    // recorder was not started and the service still answers.
    assert!(telemetry.recorder().is_none());
    assert!(!telemetry.is_disabled());
    checkout(services().await).await;
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
    assert!(file.is_file());
}

async fn mode_off_records_nothing(tmp: &Path) {
    for mode in ["off", ""] {
        let dir = tmp.join(format!("recordings-{mode}"));
        let telemetry = init(&[
            ("TRACETAPE_MODE", mode),
            ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        ]);
        assert!(telemetry.recorder().is_none(), "mode {mode:?}");
        checkout(services().await).await;
        tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
        assert!(!dir.exists(), "mode {mode:?} created {}", dir.display());
        assert_eq!(json_files(&dir), 0);
    }
}

async fn record_then_replay_answers_calls_from_the_recording(tmp: &Path) {
    let dir = tmp.join("replayed");
    let vars = |mode| {
        [
            ("TRACETAPE_MODE", mode),
            ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        ]
    };
    let hits = Arc::new(AtomicUsize::new(0));
    let telemetry = init(&vars("record"));
    let backend = backend(Arc::clone(&hits)).await;
    checkout(front(backend).await).await;
    let loaded = tokio::task::block_in_place(|| wait_for_recordings(&telemetry, &dir, 1));
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let recording = &loaded.recordings[0].recording;
    let id = ReplayId::of(recording).unwrap();

    // A new build of the front, in replay mode: its call to the backend is
    // answered from the recording and never reaches the backend.
    let telemetry = init(&vars("replay"));
    assert_eq!(telemetry.replayer().map(|r| r.len()), Some(1));
    let replayed = front(backend).await;
    let response = reqwest::Client::new()
        .get(format!("http://{replayed}/checkout"))
        .header(REPLAY_HEADER, id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log: serde_json::Value =
        serde_json::from_slice(response.headers()[REPLAY_LOG_HEADER].as_bytes()).unwrap();
    assert_eq!(response.text().await.unwrap(), "price 42");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the backend was called");
    assert_eq!(log["recording"], id.to_string());
    assert_eq!(log["calls"][0]["level"], "exact", "{log}");
    assert_eq!(log["unused"], serde_json::json!([]));

    // A request that is not a replay: its call is not in the background
    // recordings, so it fails (the handler turns that into a 500) without
    // reaching the network either.
    let response = reqwest::get(format!("http://{replayed}/checkout"))
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    // A replay naming a recording the store does not have fails the same way.
    let response = reqwest::Client::new()
        .get(format!("http://{replayed}/checkout"))
        .header(
            REPLAY_HEADER,
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let log: serde_json::Value =
        serde_json::from_slice(response.headers()[REPLAY_LOG_HEADER].as_bytes()).unwrap();
    assert_eq!(log["found"], false);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the backend was called");
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();

    // A background job still running after the telemetry shut down went
    // to the network: replay mode has ended, and its calls are refused.
    let response = reqwest::get(format!("http://{replayed}/checkout"))
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the backend was called");
}

/// Everything the store in `dir` holds, the key file aside: every file's
/// bytes as written, and, since bodies and header values are base64 in
/// OTLP/JSON, every URL, header value and body of the recordings read back.
fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name() != Some(std::ffi::OsStr::new(tracetape::record::KEY_FILE)) {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    let loaded = RecordingStore::new(dir).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    for stored in &loaded.recordings {
        for exchange in &stored.recording.exchanges {
            all.extend(exchange.request.url.as_bytes());
            let response = exchange.response.iter();
            let headers = exchange
                .request
                .headers
                .iter()
                .chain(response.clone().flat_map(|r| &r.headers));
            for header in headers {
                all.extend(&header.value);
            }
            all.extend(&exchange.request.body.bytes);
            for response in response {
                all.extend(&response.body.bytes);
            }
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A payment front that receives secrets in a header, the query and a
/// JSON body, and passes them on to a backend that answers with a token;
/// plus a health check that must not be recorded at all.
async fn payment_services() -> SocketAddr {
    use axum::Json;
    use axum::routing::post;
    use serde_json::{Value, json};

    let backend = serve(Router::new().route(
        "/charge",
        post(|Json(charge): Json<Value>| async move {
            let card = charge["card"]["number"].as_str().unwrap_or_default();
            Json(json!({"charged": card.len() == 16, "token": "tok-back-6120"}))
        }),
    ))
    .await;
    let client: ClientWithMiddleware = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::new())
        .build();
    let front = Router::new()
        .route(
            "/pay",
            post(
                |State((client, backend)): State<(ClientWithMiddleware, SocketAddr)>,
                 Json(order): Json<Value>| async move {
                    let answer: Value = client
                        .post(format!("http://{backend}/charge?api_key=ak-9931"))
                        .header("x-session", "sess-5521")
                        .header("content-type", "application/json")
                        .body(
                            json!({"card": order["card"], "password": order["password"]})
                                .to_string(),
                        )
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    Json(answer)
                },
            ),
        )
        .route("/health", get(|| async { "ok sess-5521" }))
        .with_state((client, backend))
        .layer(TraceLayer::new());
    serve(front).await
}

async fn redaction_rules_from_tracetape_toml_keep_secrets_out_of_the_store(tmp: &Path) {
    let dir = tmp.join("redacted");
    let config = tmp.join("tracetape.toml");
    std::fs::write(
        &config,
        r#"
        [record]
        mode = "record"
        dir = "redacted"

        [[record.redact]]
        json = "$.card.number"
        action = "mask"
        keep = 4

        [[record.redact]]
        json = "$..password"
        action = "replace"
        with = "***"

        [[record.redact]]
        query = "api_key"
        direction = "outbound"

        [[record.redact]]
        action = "drop"
        routes = ["/health"]
        "#,
    )
    .unwrap();
    let telemetry = init(&[
        ("TRACETAPE_CONFIG", config.to_str().unwrap()),
        ("TRACETAPE_RECORD_REDACT_HEADERS", "x-session"),
        ("TRACETAPE_RECORD_REDACT_JSON", "$.token"),
    ]);
    let front = payment_services().await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{front}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok sess-5521");
    let answer: serde_json::Value = client
        .post(format!("http://{front}/pay?sig=inbound-77&page=3"))
        .header("authorization", "Bearer bearer-4410")
        .json(&serde_json::json!({
            "card": {"number": "4111222233334444"},
            "password": "pw-hunter-2"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The caller gets every secret as the handler produced it.
    assert_eq!(answer["token"], "tok-back-6120");
    assert_eq!(answer["charged"], true);

    let loaded = tokio::task::block_in_place(|| wait_for_recordings(&telemetry, &dir, 1));
    let recorder = telemetry.recorder().unwrap();
    tokio::task::block_in_place(|| telemetry.force_flush()).unwrap();
    // The health check was dropped whole; only the payment is stored.
    assert_eq!(json_files(&dir), 1);
    assert_eq!(recorder.dropped_by_rules(), 1);
    let bytes = store_bytes(&dir);
    for secret in [
        "4111222233334444",
        "pw-hunter-2",
        "ak-9931",
        "sess-5521",
        "bearer-4410",
        "tok-back-6120",
    ] {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "{secret} reached the store"
        );
    }
    let recording = &loaded.recordings[0].recording;
    let call = recording.outbound().next().unwrap();
    assert!(
        call.request.url.contains("api_key=REDACTED:"),
        "{}",
        call.request.url
    );
    let sent: serde_json::Value = serde_json::from_slice(&call.request.body.bytes).unwrap();
    assert_eq!(sent["card"]["number"], "************4444");
    assert_eq!(sent["password"], "***");
    let session = call
        .request
        .headers
        .iter()
        .find(|h| h.name == "x-session")
        .unwrap();
    assert!(session.value.starts_with(b"REDACTED:"));
    // The same token, redacted in the backend's answer and in the front's,
    // is the same hash.
    let token =
        |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap()["token"].clone();
    let inbound = recording.inbound().unwrap();
    assert_eq!(
        token(&call.response.as_ref().unwrap().body.bytes),
        token(&inbound.response.as_ref().unwrap().body.bytes)
    );
    // Credential query keys are hidden inbound too (`sig` once was kept);
    // keys neither a rule nor the defaults name are kept as received.
    assert!(
        inbound.request.url.ends_with("?sig=REDACTED&page=3"),
        "{}",
        inbound.request.url
    );
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
}

async fn an_invalid_rule_turns_recording_off(tmp: &Path) {
    let dir = tmp.join("never");
    let telemetry = init(&[
        ("TRACETAPE_MODE", "record"),
        ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        ("TRACETAPE_RECORD_REDACT_JSON", "card.number"),
    ]);
    assert!(telemetry.recorder().is_none());
    checkout(services().await).await;
    tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
    assert!(!dir.exists());
}

#[test]
fn tracetape_mode_from_the_environment() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        record_mode_records_both_sides_into_one_recording(tmp.path()).await;
        a_later_init_wins_and_an_earlier_guard_does_not_remove_it(tmp.path()).await;
        unwritable_directory_keeps_tracing_without_recording(tmp.path()).await;
        mode_off_records_nothing(tmp.path()).await;
        record_then_replay_answers_calls_from_the_recording(tmp.path()).await;
        redaction_rules_from_tracetape_toml_keep_secrets_out_of_the_store(tmp.path()).await;
        an_invalid_rule_turns_recording_off(tmp.path()).await;
    });
}
