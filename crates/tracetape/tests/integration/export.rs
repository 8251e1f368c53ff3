//! OTLP export against a real collector: `rotel-agent` from PyPI
//! (`pip install rotel`), which logs the spans it receives.
//!
//! The binary is `$ROTEL_AGENT`, or `rotel-agent` inside the installed
//! `rotel` Python package. When neither exists these tests fail, on
//! purpose: run `pip install rotel`.
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use tracetape::TelemetryGuard;
use tracetape::setup::{MetricsExporter, OtlpProtocol, Telemetry, TracesExporter};

/// How long the collector may take to start, and to log a span.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running `rotel-agent`, killed when dropped.
pub(super) struct Collector {
    child: Child,
    output: Arc<Output>,
    grpc_port: u16,
    http_port: u16,
    _dir: tempfile::TempDir,
}

impl Collector {
    pub(super) fn start() -> Collector {
        let binary = rotel_agent();
        let dir = tempfile::tempdir().unwrap();
        let (grpc_port, http_port) = (free_port(), free_port());
        let mut child = Command::new(&binary)
            .arg("start")
            .args(["--exporter", "blackhole"])
            .args(["--debug-log", "traces"])
            .args(["--debug-log-verbosity", "detailed"])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
            // Its own files, so that collectors of parallel tests do not meet.
            .arg("--pid-file")
            .arg(dir.path().join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.path().join("rotel.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("failed to start {}: {err}", binary.display()));

        let output = Arc::new(Output::default());
        collect(child.stdout.take().unwrap(), &output);
        collect(child.stderr.take().unwrap(), &output);
        let mut collector = Collector {
            child,
            output,
            grpc_port,
            http_port,
            _dir: dir,
        };
        collector.wait_until_listening();
        collector
    }

    fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub(super) fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub(super) fn output(&self) -> String {
        self.output.text.lock().unwrap().clone()
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        for port in [self.grpc_port, self.http_port] {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("rotel-agent exited with {status}:\n{}", self.output());
                }
                assert!(
                    Instant::now() < deadline,
                    "rotel-agent did not listen on port {port} within {PATIENCE:?}:\n{}",
                    self.output()
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Waits until the collector's log contains every one of `needles`,
    /// woken by each line it logs.
    pub(super) fn assert_logged(&self, needles: &[&str]) {
        let deadline = Instant::now() + PATIENCE;
        let mut text = self.output.text.lock().unwrap();
        while !needles.iter().all(|needle| text.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the collector did not log {needles:?} within {PATIENCE:?}; its output:\n{text}"
            );
            text = self.output.grew.wait_timeout(text, left).unwrap().0;
        }
    }
}

/// What the collector has printed so far, and a signal for each new line.
#[derive(Default)]
struct Output {
    text: Mutex<String>,
    grew: Condvar,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends everything `stream` produces to `output`, on a thread.
fn collect(stream: impl Read + Send + 'static, output: &Arc<Output>) {
    let output = Arc::clone(output);
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = output.text.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
            output.grew.notify_all();
        }
    });
}

/// The `rotel-agent` binary: `$ROTEL_AGENT`, else the one shipped in the
/// `rotel` Python package.
fn rotel_agent() -> PathBuf {
    const HELP: &str = "run `pip install rotel` (or set ROTEL_AGENT to a rotel-agent binary)";
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "ROTEL_AGENT={} does not exist; {HELP}",
            path.display()
        );
        return path;
    }
    let found = Command::new("python3")
        .args([
            "-c",
            "import rotel, os; print(os.path.dirname(rotel.__file__))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("rotel-agent"))
        .filter(|path| path.is_file());
    match found {
        Some(path) => path,
        None => panic!("rotel-agent was not found; {HELP}"),
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A value that appears in no other test's spans.
fn marker(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{label}-{}-{nanos}", std::process::id())
}

pub(super) fn otlp(protocol: OtlpProtocol, endpoint: String) -> TelemetryGuard {
    Telemetry::builder()
        .with_service_name("tracetape-export-test")
        .with_traces_exporter(TracesExporter::Otlp)
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_protocol(protocol)
        .with_otlp_endpoint(endpoint)
        .with_otlp_timeout(Duration::from_secs(5))
        .build()
}

fn record_span(telemetry: &TelemetryGuard, name: &'static str, marker: &str) {
    let mut span = telemetry
        .tracer_provider()
        .tracer("tracetape-export-test")
        .start(name);
    span.set_attribute(KeyValue::new("test.marker", marker.to_owned()));
    span.set_attribute(KeyValue::new("test.answer", 42));
    span.end();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_over_grpc() {
    let collector = Collector::start();
    let telemetry = otlp(OtlpProtocol::Grpc, collector.grpc_endpoint());
    let marker = marker("grpc");
    record_span(&telemetry, "grpc-export-span", &marker);

    // Flushing blocks until the export is done, so off the runtime's workers.
    let counts = tokio::task::spawn_blocking(move || {
        telemetry.force_flush().unwrap();
        let counts = telemetry.span_counts();
        telemetry.shutdown().unwrap();
        counts
    })
    .await
    .unwrap();
    collector.assert_logged(&["grpc-export-span", &marker, "tracetape-export-test"]);
    assert_eq!(
        (
            counts.ended,
            counts.exported,
            counts.failed,
            counts.dropped()
        ),
        (1, 1, 0, 0)
    );
}

/// `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` compresses the gRPC message, and
/// the headers are sent as metadata; the collector decodes the span.
#[test]
fn grpc_export_with_gzip_and_headers_reaches_the_collector() {
    let collector = Collector::start();
    let env = std::collections::HashMap::from([
        ("OTEL_SERVICE_NAME", "tracetape-export-test".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-tracetape-test=1".to_owned(),
        ),
    ]);
    let telemetry = Telemetry::builder()
        .with_env_lookup(move |name| env.get(name).cloned())
        .try_build()
        .unwrap();
    let marker = marker("gzip");
    record_span(&telemetry, "gzip-export-span", &marker);
    telemetry.force_flush().unwrap();
    collector.assert_logged(&["gzip-export-span", &marker]);
    assert_eq!(telemetry.span_counts().exported, 1);
    telemetry.shutdown().unwrap();
}

#[test]
fn spans_reach_the_collector_over_http_protobuf() {
    let collector = Collector::start();
    // No runtime needed: http/protobuf uses a blocking client.
    let telemetry = otlp(OtlpProtocol::HttpProtobuf, collector.http_endpoint());
    let marker = marker("http");
    record_span(&telemetry, "http-export-span", &marker);
    telemetry.force_flush().unwrap();
    collector.assert_logged(&["http-export-span", &marker, "tracetape-export-test"]);
    let counts = telemetry.span_counts();
    assert_eq!(
        (
            counts.ended,
            counts.exported,
            counts.failed,
            counts.dropped()
        ),
        (1, 1, 0, 0)
    );
    telemetry.shutdown().unwrap();
}

#[test]
fn http_export_with_headers_from_code_reaches_the_collector() {
    let collector = Collector::start();
    let telemetry = Telemetry::builder()
        .with_traces_exporter(TracesExporter::Otlp)
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_protocol(OtlpProtocol::HttpProtobuf)
        .with_otlp_endpoint(collector.http_endpoint())
        .with_otlp_headers([("x-tracetape-test", "1")])
        .build();
    let marker = marker("headers");
    record_span(&telemetry, "headers-export-span", &marker);
    telemetry.force_flush().unwrap();
    collector.assert_logged(&["headers-export-span", &marker]);
}

/// Exporting to a port nothing listens on must neither panic nor hang:
/// flushing and dropping return within the export timeout (plus the SDK's
/// own bounds).
fn closed_port_returns_in_time(protocol: OtlpProtocol) {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let telemetry = Telemetry::builder()
        .with_traces_exporter(TracesExporter::Otlp)
        .with_metrics_exporter(MetricsExporter::Otlp)
        .with_otlp_protocol(protocol)
        .with_otlp_endpoint(endpoint)
        .with_otlp_timeout(Duration::from_millis(500))
        .build();
    record_span(&telemetry, "lost-span", "lost");

    let started = Instant::now();
    let flushed = telemetry.force_flush();
    assert!(flushed.is_err(), "flushing to a closed port succeeded");
    // Lost, and counted as lost.
    let counts = telemetry.span_counts();
    assert_eq!(
        (
            counts.ended,
            counts.exported,
            counts.failed,
            counts.dropped()
        ),
        (1, 0, 1, 0)
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "force_flush took {:?}",
        started.elapsed()
    );

    record_span(&telemetry, "lost-on-drop", "lost");
    let started = Instant::now();
    drop(telemetry);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "drop took {:?}",
        started.elapsed()
    );
}

#[test]
fn http_export_to_a_closed_port_returns_in_time() {
    closed_port_returns_in_time(OtlpProtocol::HttpProtobuf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_to_a_closed_port_returns_in_time() {
    // Built inside the runtime, so gRPC really is used.
    let telemetry_test = tokio::task::spawn_blocking(|| {
        closed_port_returns_in_time(OtlpProtocol::Grpc);
    });
    telemetry_test.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_reach_the_collector_with_their_attributes() {
    let collector = Collector::start();
    let telemetry = otlp(OtlpProtocol::HttpProtobuf, collector.http_endpoint());
    let app = axum::Router::new()
        .route("/items/{id}", axum::routing::get(|| async { "item" }))
        .layer(
            tracetape::server::TraceLayer::new()
                .with_tracer_provider(telemetry.tracer_provider().clone()),
        );
    let addr = crate::support::serve(app).await;
    let marker = marker("server");
    let response = reqwest::get(format!("http://{addr}/items/{marker}"))
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "item");
    tokio::task::spawn_blocking(move || {
        // The span ends just after the body is sent; shutting down flushes it.
        telemetry.shutdown().unwrap();
    })
    .await
    .unwrap();
    collector.assert_logged(&[
        "GET /items/{id}",
        &format!("/items/{marker}"),
        "http.route",
        "http.response.status_code",
        "tracetape-export-test",
    ]);
}

/// Record mode's recordings, forwarded to the collector when asked for.
#[cfg(feature = "record-replay")]
mod recordings {
    use super::*;

    /// A traced server recording with `recorder`, its spans exported to the
    /// collector; sends one POST whose path carries `marker` and returns once
    /// it is answered.
    async fn recorded_request(
        telemetry: &TelemetryGuard,
        recorder: tracetape::record::Recorder,
        marker: &str,
    ) {
        let app = axum::Router::new()
            .route(
                "/orders/{id}",
                axum::routing::post(|body: String| async move { format!("got {body}") }),
            )
            .layer(
                tracetape::server::TraceLayer::new()
                    .with_tracer_provider(telemetry.tracer_provider().clone())
                    .with_recorder(recorder),
            );
        let addr = crate::support::serve(app).await;
        let answer = reqwest::Client::new()
            .post(format!("http://{addr}/orders/{marker}"))
            .body("payload-body")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(answer, "got payload-body");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recordings_reach_the_collector_only_when_forwarding_is_asked_for() {
        use tracetape::record::{RecordSettings, Recorder};

        let collector = Collector::start();
        let tmp = tempfile::tempdir().unwrap();
        let telemetry = otlp(OtlpProtocol::HttpProtobuf, collector.http_endpoint());

        // Recording to files only: the spans reach the collector, the payload
        // does not.
        let mut settings = RecordSettings::default();
        settings.dir = tmp.path().join("files-only");
        let files_only = Recorder::start(&settings, "tracetape-export-test").unwrap();
        let quiet = marker("files-only");
        recorded_request(&telemetry, files_only.clone(), &quiet).await;
        let flushed = files_only.clone();
        tokio::task::spawn_blocking(move || flushed.flush(Duration::from_secs(10)).unwrap())
            .await
            .unwrap();
        assert_eq!(files_only.written(), 1);
        assert_eq!(files_only.forwarded(), 0);

        // Forwarding: the same document the file holds is posted as OTLP/JSON.
        settings.dir = tmp.path().join("forwarded");
        settings.otlp_endpoint = Some(format!("{}/v1/traces", collector.http_endpoint()));
        let forwarding = Recorder::start(&settings, "tracetape-export-test").unwrap();
        let loud = marker("forwarded");
        recorded_request(&telemetry, forwarding.clone(), &loud).await;
        let telemetry = tokio::task::spawn_blocking(move || {
            telemetry.force_flush().unwrap();
            telemetry
        })
        .await
        .unwrap();
        collector.assert_logged(&[
            &format!("/orders/{loud}"),
            "tracetape.recording.version",
            "tracetape.http.request.body",
            "tracetape.http.response.headers",
        ]);
        // Both requests were traced; only the forwarded one's payload arrived.
        collector.assert_logged(&[&format!("/orders/{quiet}")]);
        let output = collector.output();
        let payload_lines: Vec<&str> = output
            .lines()
            .filter(|line| line.contains("tracetape.http.request.body:"))
            .collect();
        assert_eq!(payload_lines.len(), 1, "{output}");
        tokio::task::spawn_blocking(move || telemetry.shutdown().unwrap())
            .await
            .unwrap();
    }
}
