//! Secrets stay secret: a recorded and traced service receives and makes
//! requests carrying credentials (query keys, URL user information,
//! headers), and each secret is looked for in the recordings, the local
//! span store's files and what a real collector (`rotel-agent`) received,
//! spans and forwarded recordings alike.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use opentelemetry_sdk::trace::SimpleSpanProcessor;
use tracetape::record::{RecordSettings, Recorder, RedactRule};
use tracetape::setup::OtlpProtocol;
use tracetape::store::LocalStore;

use super::export::{Collector, otlp};

/// Each secret, unique to this test.
const QUERY_KEY: &str = "qk-7f3a91-secret";
const VOUCHER: &str = "vc-52be07-secret";
const BEARER: &str = "br-c4d810-secret";
const API_KEY_HEADER: &str = "hk-19e6f2-secret";
const URL_PASSWORD: &str = "pw-a07d3c-secret";
const CALL_TOKEN: &str = "tk-6b2e94-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_spans_the_store_recordings_and_the_collector() {
    let collector = Collector::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::new(tmp.path().join("traces"));
    let telemetry = otlp(OtlpProtocol::HttpProtobuf, collector.http_endpoint());
    // The same spans also go to the local store.
    let provider = telemetry.tracer_provider().clone();
    let stored = LocalStore::new(store.dir());
    let store_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(stored.exporter()))
        .build();

    // A query rule for recordings, which spans must follow too.
    let mut settings = RecordSettings::default();
    settings.dir = tmp.path().join("recordings");
    settings.redact = vec![RedactRule::query("voucher")];
    settings.otlp_endpoint = Some(format!("{}/v1/traces", collector.http_endpoint()));
    let recorder = Recorder::start(&settings, "tracetape-secrets-test").unwrap();

    let dependency = crate::support::serve(
        axum::Router::new().route("/lookup", axum::routing::get(|| async { "found" })),
    )
    .await;
    for provider in [provider.clone(), store_provider.clone()] {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(tracetape::client::TracingMiddleware::from(
                tracetape::client::TraceLayer::new().with_tracer_provider(provider.clone()),
            ))
            .build();
        let call =
            format!("http://svc:{URL_PASSWORD}@{dependency}/lookup?q=tea&token={CALL_TOKEN}");
        let app = axum::Router::new()
            .route(
                "/search",
                axum::routing::get(move || {
                    let (client, call) = (client.clone(), call.clone());
                    async move {
                        // Sent as built: `client.get` would move the user
                        // information into an `Authorization` header.
                        let url = reqwest::Url::parse(&call).unwrap();
                        let request = reqwest::Request::new(reqwest::Method::GET, url);
                        let found = client.execute(request).await.unwrap();
                        found.text().await.unwrap()
                    }
                }),
            )
            .layer(
                tracetape::server::TraceLayer::new()
                    .with_tracer_provider(provider)
                    .with_recorder(recorder.clone())
                    // Asked for, with no sanitise list.
                    .with_request_headers(["authorization", "x-api-key", "x-tenant"], []),
            );
        let (service, server) = crate::support::serve_stoppable(app).await;
        let answer = reqwest::Client::new()
            .get(format!(
                "http://{service}/search?q=tea&api_key={QUERY_KEY}&voucher={VOUCHER}"
            ))
            .header("authorization", format!("Bearer {BEARER}"))
            .header("x-api-key", API_KEY_HEADER)
            .header("x-tenant", "acme")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(answer, "found");
        // The client has the whole answer before the server has seen its
        // body end, which is when the recording is handed on.
        server.stop().await;
    }
    let flushed = recorder.clone();
    let telemetry = tokio::task::spawn_blocking(move || {
        flushed.flush(Duration::from_secs(10)).unwrap();
        telemetry.force_flush().unwrap();
        store_provider.force_flush().unwrap();
        telemetry
    })
    .await
    .unwrap();
    assert_eq!(recorder.written(), 2);
    assert_eq!(recorder.forwarded(), 2);

    // What was kept says what it hid.
    let recordings = read_all(&settings.dir);
    let stored = read_all(store.dir());
    for (what, text) in [("recordings", &recordings), ("the store", &stored)] {
        for redacted in ["api_key=REDACTED", "token=REDACTED", "REDACTED:REDACTED@"] {
            assert!(text.contains(redacted), "{redacted} not in {what}:\n{text}");
        }
    }
    assert!(stored.contains("voucher=REDACTED"), "{stored}");
    assert!(stored.contains("[REDACTED]"), "captured headers: {stored}");
    assert!(
        stored.contains("acme"),
        "a header not listed is captured: {stored}"
    );
    collector.assert_logged(&[
        "api_key=REDACTED",
        "voucher=REDACTED",
        "REDACTED:REDACTED@",
        "http.request.header.authorization",
        "tracetape.recording.version",
    ]);
    tokio::task::spawn_blocking(move || telemetry.shutdown().unwrap())
        .await
        .unwrap();
    let received = collector.output();

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("svc:{URL_PASSWORD}"));
    for secret in [
        QUERY_KEY,
        VOUCHER,
        BEARER,
        API_KEY_HEADER,
        URL_PASSWORD,
        CALL_TOKEN,
        basic.as_str(),
    ] {
        for (what, text) in [
            ("a recording", &recordings),
            ("the span store", &stored),
            ("what the collector received", &received),
        ] {
            assert!(!text.contains(secret), "{secret} is in {what}:\n{text}");
        }
    }
}

/// Every file under `dir`, concatenated (lossily, as text).
fn read_all(dir: &Path) -> String {
    let mut text = String::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
                text.push('\n');
            }
        }
    }
    text
}
