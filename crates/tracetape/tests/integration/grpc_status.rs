//! OTLP/gRPC export to a collector that answers with a status of its
//! choosing: a plaintext HTTP/2 server on 127.0.0.1 that reads each
//! `TraceService/Export` call and answers it with the given `grpc-status`
//! (in trailers, after the headers, as a collector does) and the given
//! response message.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tracetape::setup::{MetricsExporter, OtlpProtocol, Telemetry, TracesExporter};

const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// What the collector answers every call with.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    response: ExportTraceServiceResponse,
}

/// Starts the collector; returns its address and the number of spans it
/// has decoded so far.
async fn collector(answer: Answer) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let spans = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&spans);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = answer.clone();
                    let seen = Arc::clone(&seen);
                    async move { Ok::<_, Infallible>(respond(request, &answer, &seen).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, spans)
}

type Body = BoxBody<Bytes, Infallible>;

async fn respond(
    request: http::Request<hyper::body::Incoming>,
    answer: &Answer,
    seen: &AtomicUsize,
) -> http::Response<Body> {
    assert_eq!(request.uri().path(), EXPORT);
    assert_eq!(request.headers()["content-type"], "application/grpc");
    let body = request.into_body().collect().await.unwrap().to_bytes();
    // Uncompressed, one message: the flag, four bytes of length, the message.
    assert_eq!(body[0], 0, "compressed without being asked to");
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    assert_eq!(len, body.len() - 5);
    let export = ExportTraceServiceRequest::decode(body.slice(5..)).unwrap();
    let spans: usize = export
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    seen.fetch_add(spans, Ordering::SeqCst);

    let message = answer.response.encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", answer.status.parse().unwrap());
    trailers.insert("grpc-message", "not today".parse().unwrap());
    let body = Full::new(Bytes::from(framed))
        .with_trailers(async move { Some(Ok(trailers)) })
        .boxed();
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

/// Ends one span through a traced axum server exporting to `collector` and
/// returns the span counts (ended, exported, failed, queue full) once it
/// is shut down; the request itself must be answered as usual.
async fn traced_request_exported_to(collector: SocketAddr) -> (u64, u64, u64, u64) {
    let telemetry = Telemetry::builder()
        .with_service_name("tracetape-grpc-status-test")
        .with_traces_exporter(TracesExporter::Otlp)
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_protocol(OtlpProtocol::Grpc)
        .with_otlp_endpoint(format!("http://{collector}"))
        .with_otlp_timeout(Duration::from_secs(5))
        .try_build()
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
    tokio::task::spawn_blocking(move || {
        // The SERVER span ends just after the body is sent; shutting down
        // exports it (and reports success whatever the export did).
        let _ = telemetry.shutdown();
        let counts = telemetry.span_counts();
        (
            counts.ended,
            counts.exported,
            counts.failed,
            counts.queue_full,
        )
    })
    .await
    .unwrap()
}

/// A collector that refuses the call (`PERMISSION_DENIED` in the trailers,
/// after an ordinary 200 response): the export fails and is counted as
/// failed, the request was answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ok_grpc_status_is_a_failed_export() {
    let (collector, received) = collector(Answer {
        status: "7",
        response: ExportTraceServiceResponse::default(),
    })
    .await;
    let counts = traced_request_exported_to(collector).await;
    assert_eq!(received.load(Ordering::SeqCst), 1, "the call was made");
    assert_eq!(counts, (1, 0, 1, 0));
}

/// The same collector with `grpc-status: 0` takes the span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_status_ok_is_a_delivered_export() {
    let (collector, received) = collector(Answer {
        status: "0",
        response: ExportTraceServiceResponse::default(),
    })
    .await;
    let counts = traced_request_exported_to(collector).await;
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert_eq!(counts, (1, 1, 0, 0));
}

/// A partial success is still a success (the OTLP specification says not
/// to retry it); the answer is decoded, not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_success_is_delivered() {
    let (collector, received) = collector(Answer {
        status: "0",
        response: ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 1,
                error_message: "span too old".to_owned(),
            }),
        },
    })
    .await;
    let counts = traced_request_exported_to(collector).await;
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert_eq!(counts, (1, 1, 0, 0));
}

/// A gRPC exporter built outside any Tokio runtime (it brings its own)
/// exports over gRPC, not over a fallback.
#[test]
fn grpc_export_needs_no_runtime_of_the_caller() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (collector, received) = runtime.block_on(collector(Answer {
        status: "0",
        response: ExportTraceServiceResponse::default(),
    }));
    // Built and used on this thread, which is not in the runtime.
    let telemetry = Telemetry::builder()
        .with_traces_exporter(TracesExporter::Otlp)
        .with_metrics_exporter(MetricsExporter::None)
        .with_otlp_protocol(OtlpProtocol::Grpc)
        .with_otlp_endpoint(format!("http://{collector}"))
        .try_build()
        .unwrap();
    telemetry
        .tracer_provider()
        .tracer("no-runtime")
        .in_span("outside", |_cx| {});
    telemetry.force_flush().unwrap();
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert_eq!(telemetry.span_counts().exported, 1);
    telemetry.shutdown().unwrap();
}
