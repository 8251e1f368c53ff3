//! Record mode forwarding its recordings to an `https://` collector
//! (`TRACETAPE_RECORD_OTLP_ENDPOINT`): verified with the trace exporter's
//! TLS files, as the spans are.
use std::collections::HashMap;
use std::path::Path;

use tracetape::TelemetryGuard;
use tracetape::setup::Telemetry;

use crate::tls_collector::{Pki, TlsCollector};

/// Telemetry in record mode, recording into `dir`, forwarding to the
/// collector, with `vars` added; spans and metrics not exported.
fn recording(collector: &TlsCollector, dir: &Path, vars: &[(&str, &Path)]) -> TelemetryGuard {
    let mut env: HashMap<String, String> = HashMap::from([
        ("OTEL_SERVICE_NAME".to_owned(), "forwarder".to_owned()),
        ("OTEL_TRACES_EXPORTER".to_owned(), "none".to_owned()),
        ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
        ("TRACETAPE_MODE".to_owned(), "record".to_owned()),
        ("TRACETAPE_RECORD_DIR".to_owned(), dir.display().to_string()),
        (
            "TRACETAPE_RECORD_OTLP_ENDPOINT".to_owned(),
            format!("{}/v1/traces", collector.url()),
        ),
    ]);
    for (name, path) in vars {
        env.insert((*name).to_owned(), path.display().to_string());
    }
    Telemetry::builder()
        .with_env_lookup(move |name| env.get(name).cloned())
        .try_build()
        .unwrap()
}

/// One recorded request through a server layer with the guard's recorder;
/// returns once its recording is written.
async fn record_one(telemetry: &TelemetryGuard, dir: &Path) {
    let recorder = telemetry.recorder().expect("record mode started").clone();
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .layer(
            tracetape::server::TraceLayer::new()
                .with_tracer_provider(telemetry.tracer_provider().clone())
                .with_recorder(recorder.clone()),
        );
    let addr = crate::support::serve(app).await;
    let response = reqwest::get(format!("http://{addr}/hello")).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        recorder.flush(std::time::Duration::from_secs(10)).unwrap();
        let recordings = tracetape::record::RecordingStore::new(&dir)
            .count()
            .unwrap();
        assert_eq!(recordings, 1, "one recording written");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_reach_an_https_collector_trusting_the_exporters_ca() {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, true).await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = recording(
        &collector,
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &pki.ca),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &pki.client_key),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &pki.client_certificate,
            ),
        ],
    );
    record_one(&telemetry, dir.path()).await;
    // The recording's document holds the SERVER exchange as a span.
    assert_eq!(collector.next_span().await, "GET /hello");
}

/// Without the CA the collector's certificate is not trusted: the
/// recording is written, and never posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_not_posted_to_an_unverified_collector() {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, false).await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = recording(&collector, dir.path(), &[]);
    record_one(&telemetry, dir.path()).await;
    collector.next_refusal().await;
    assert_eq!(collector.received(), Vec::<String>::new());
}
