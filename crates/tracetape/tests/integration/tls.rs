//! OTLP export to https endpoints: a real TLS collector on 127.0.0.1 with
//! a CA the test makes, configured through the `OTEL_EXPORTER_OTLP_*`
//! variables (fed with `with_env_lookup`, so no test touches the process
//! environment).
use std::collections::HashMap;
use std::path::Path;

use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use tracetape::TelemetryGuard;
use tracetape::setup::{SetupError, Telemetry, TlsError};
use tracetape::store::LocalStore;

use crate::tls_collector::{Pki, TlsCollector};

const HTTP: &str = "http/protobuf";
const GRPC: &str = "grpc";

/// The telemetry of a service sending spans over `protocol` to `endpoint`,
/// with `vars` added to its environment; metrics off.
fn telemetry(
    protocol: &str,
    endpoint: &str,
    vars: &[(&str, &Path)],
) -> Result<TelemetryGuard, SetupError> {
    telemetry_with_store(protocol, endpoint, vars, None)
}

fn telemetry_with_store(
    protocol: &str,
    endpoint: &str,
    vars: &[(&str, &Path)],
    store: Option<LocalStore>,
) -> Result<TelemetryGuard, SetupError> {
    let mut env: HashMap<String, String> = HashMap::from([
        (
            "OTEL_SERVICE_NAME".to_owned(),
            "tracetape-tls-test".to_owned(),
        ),
        ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
            protocol.to_owned(),
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            endpoint.to_owned(),
        ),
        ("OTEL_EXPORTER_OTLP_TIMEOUT".to_owned(), "5000".to_owned()),
    ]);
    for (name, path) in vars {
        env.insert((*name).to_owned(), path.display().to_string());
    }
    let builder = Telemetry::builder().with_env_lookup(move |name| env.get(name).cloned());
    match store {
        Some(store) => builder.with_local_store(store).try_build(),
        None => builder.try_build(),
    }
}

fn span(telemetry: &TelemetryGuard, name: &'static str) {
    telemetry
        .tracer_provider()
        .tracer("tracetape-tls-test")
        .in_span(name, |_cx| {});
}

/// Flushes off the runtime's workers (the export blocks) and returns
/// whether it succeeded, with the span counts (ended, exported, failed).
async fn flush(telemetry: TelemetryGuard) -> (bool, (u64, u64, u64)) {
    tokio::task::spawn_blocking(move || {
        let flushed = telemetry.force_flush().is_ok();
        let counts = telemetry.span_counts();
        let _ = telemetry.shutdown();
        (flushed, (counts.ended, counts.exported, counts.failed))
    })
    .await
    .unwrap()
}

async fn spans_reach_a_tls_collector_trusting_its_ca(protocol: &str) {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, false).await;
    let telemetry = telemetry(
        protocol,
        &collector.url(),
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.ca)],
    )
    .unwrap();
    span(&telemetry, "over-tls");
    assert_eq!(flush(telemetry).await, (true, (1, 1, 0)));
    assert_eq!(collector.next_span().await, "over-tls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_tls_collector_over_http_protobuf() {
    spans_reach_a_tls_collector_trusting_its_ca(HTTP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_tls_collector_over_grpc() {
    spans_reach_a_tls_collector_trusting_its_ca(GRPC).await;
}

/// Without OTEL_EXPORTER_OTLP_CERTIFICATE the platform's roots are used,
/// which do not hold the test's CA: the certificate really is verified.
async fn a_collector_signed_by_an_unknown_ca_is_refused(protocol: &str) {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, false).await;
    let telemetry = telemetry(protocol, &collector.url(), &[]).unwrap();
    span(&telemetry, "unverified");
    assert_eq!(flush(telemetry).await, (false, (1, 0, 1)));
    // The client gave up during the handshake.
    collector.next_refusal().await;
    assert_eq!(collector.received(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_refuses_a_collector_signed_by_an_unknown_ca() {
    a_collector_signed_by_an_unknown_ca_is_refused(HTTP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_refuses_a_collector_signed_by_an_unknown_ca() {
    a_collector_signed_by_an_unknown_ca_is_refused(GRPC).await;
}

async fn mtls_with_a_client_identity_exports(protocol: &str) {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, true).await;
    // The per-signal variable wins over the generic one, which names
    // nothing usable.
    let missing = pki.missing_file();
    let telemetry = telemetry(
        protocol,
        &collector.url(),
        &[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &missing),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &pki.ca),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &pki.client_key),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &pki.client_certificate,
            ),
        ],
    )
    .unwrap();
    span(&telemetry, "mutual");
    assert_eq!(flush(telemetry).await, (true, (1, 1, 0)));
    assert_eq!(collector.next_span().await, "mutual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_a_client_identity_exports_over_http_protobuf() {
    mtls_with_a_client_identity_exports(HTTP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_a_client_identity_exports_over_grpc() {
    mtls_with_a_client_identity_exports(GRPC).await;
}

/// A collector that requires a client certificate refuses an exporter
/// without one: the export fails and is counted, and the traced request
/// is answered as usual.
async fn mtls_without_a_client_identity_fails_only_the_export(protocol: &str) {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, true).await;
    let telemetry = telemetry(
        protocol,
        &collector.url(),
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.ca)],
    )
    .unwrap();
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .layer(
            tracetape::server::TraceLayer::new()
                .with_tracer_provider(telemetry.tracer_provider().clone()),
        );
    let addr = crate::support::serve(app).await;
    let response = reqwest::get(format!("http://{addr}/hello")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");

    // The SERVER span ends just after the body is sent; shutting down
    // exports it.
    let counts = tokio::task::spawn_blocking(move || {
        let _ = telemetry.shutdown();
        telemetry.span_counts()
    })
    .await
    .unwrap();
    assert_eq!((counts.ended, counts.exported, counts.failed), (1, 0, 1));
    let refusal = collector.next_refusal().await;
    assert!(refusal.to_lowercase().contains("certificate"), "{refusal}");
    assert_eq!(collector.received(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_without_a_client_identity_fails_only_the_export_over_http_protobuf() {
    mtls_without_a_client_identity_fails_only_the_export(HTTP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_without_a_client_identity_fails_only_the_export_over_grpc() {
    mtls_without_a_client_identity_fails_only_the_export(GRPC).await;
}

/// A certificate path that cannot be read is an error at start for
/// `try_build`; `build` reports it and exports nothing, and never writes
/// the spans to the local store instead.
async fn a_missing_certificate_file_is_an_error_at_start(protocol: &str) {
    let pki = Pki::new();
    let missing = pki.missing_file();
    let vars = [("OTEL_EXPORTER_OTLP_CERTIFICATE", missing.as_path())];
    let err = telemetry(protocol, "https://127.0.0.1:4318", &vars).unwrap_err();
    let SetupError::Tls {
        signal,
        err: TlsError::Read { var, path, .. },
        ..
    } = &err
    else {
        panic!("unexpected error: {err:?}");
    };
    assert_eq!(
        (*signal, var.as_str(), path.as_path()),
        (
            "traces",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            missing.as_path()
        )
    );

    // `build`: reported, not exported, not stored locally.
    let store_dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(store_dir.path().join("traces"));
    let mut env: HashMap<&str, String> = HashMap::from([
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://127.0.0.1:4318".to_owned(),
        ),
    ]);
    env.insert(
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        missing.display().to_string(),
    );
    let telemetry = Telemetry::builder()
        .with_env_lookup(move |name| env.get(name).cloned())
        .with_local_store(store)
        .build();
    span(&telemetry, "nowhere");
    let (flushed, counts) = flush(telemetry).await;
    assert!(flushed);
    assert_eq!(counts, (0, 0, 0), "no exporting pipeline was set up");
    assert!(
        !store_dir.path().join("traces").exists(),
        "spans went to the local store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_certificate_file_is_an_error_at_start_over_http_protobuf() {
    a_missing_certificate_file_is_an_error_at_start(HTTP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_certificate_file_is_an_error_at_start_over_grpc() {
    a_missing_certificate_file_is_an_error_at_start(GRPC).await;
}

#[test]
fn a_client_key_without_its_certificate_is_an_error_at_start() {
    let pki = Pki::new();
    let err = telemetry(
        HTTP,
        "https://127.0.0.1:4318",
        &[("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", &pki.client_key)],
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            SetupError::Tls {
                err: TlsError::KeyWithoutCertificate { var },
                ..
            } if var == "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"
        ),
        "{err:?}"
    );
}

/// The TLS files only matter for https: with an http endpoint an
/// unreadable one is not an error.
#[test]
fn tls_files_are_not_read_for_an_http_endpoint() {
    let pki = Pki::new();
    let missing = pki.missing_file();
    let telemetry = telemetry(
        HTTP,
        "http://127.0.0.1:4318",
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &missing)],
    );
    assert!(telemetry.is_ok());
}

/// The TLS files set in code win over the environment's: the generic and
/// per-signal variables name nothing usable, the builder names the CA and
/// the client identity, and a collector asking for a client certificate
/// gets the span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_files_set_in_code_win_over_the_environment() {
    let pki = Pki::new();
    let mut collector = TlsCollector::start(&pki, true).await;
    let missing = pki.missing_file();
    let env: HashMap<&str, String> = HashMap::from([
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            missing.display().to_string(),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            missing.display().to_string(),
        ),
    ]);
    let telemetry = Telemetry::builder()
        .with_env_lookup(move |name| env.get(name).cloned())
        .with_otlp_endpoint(collector.url())
        .with_otlp_certificate(&pki.ca)
        .with_otlp_client_identity(&pki.client_certificate, &pki.client_key)
        .try_build()
        .unwrap();
    span(&telemetry, "configured-in-code");
    assert_eq!(flush(telemetry).await, (true, (1, 1, 0)));
    assert_eq!(collector.next_span().await, "configured-in-code");
}

/// A file set in code that cannot be read is an error at start that names
/// the method it came from.
#[test]
fn a_missing_certificate_set_in_code_names_the_method() {
    let pki = Pki::new();
    let missing = pki.missing_file();
    let err = Telemetry::builder()
        .with_env_lookup(|name| (name == "OTEL_METRICS_EXPORTER").then(|| "none".to_owned()))
        .with_otlp_endpoint("https://127.0.0.1:4318")
        .with_otlp_certificate(&missing)
        .try_build()
        .unwrap_err();
    let SetupError::Tls {
        err: TlsError::Read { var, path, .. },
        ..
    } = &err
    else {
        panic!("unexpected error: {err:?}");
    };
    assert_eq!(
        (var.as_str(), path.as_path()),
        ("TelemetryBuilder::with_otlp_certificate", missing.as_path())
    );
    assert!(
        err.to_string().contains("traces"),
        "the message names the signal: {err}"
    );
}
