//! Record mode in the client layers: a traced, recorded axum server whose
//! handler calls a second real server through each client integration,
//! and calls made outside any request; recordings collected in memory and
//! compared with the spans of the SDK's in-memory exporter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::trace::SpanData;
use tower::{Layer, ServiceBuilder, ServiceExt};

use super::tests::{RetryMiddleware, RetryOnce};
use super::{RequestBody, TraceLayer, TracingMiddleware};
use crate::propagation::TraceContextPropagator;
use crate::record::testing::Collected;
use crate::record::testing::{header, whole};
use crate::record::{BodyRecord, Exchange, ExchangeKind, HeaderRecord, RecordSettings, Recorder};
use crate::test_support::Harness;

/// The two integrations, driven the same way.
#[derive(Debug, Clone, Copy)]
enum Via {
    Tower,
    Reqwest,
}

const BOTH: [Via; 2] = [Via::Tower, Via::Reqwest];

/// The server the clients call; not traced.
async fn upstream() -> SocketAddr {
    let flaky = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                let content_type = headers
                    .get("content-type")
                    .cloned()
                    .unwrap_or_else(|| "application/octet-stream".parse().unwrap());
                ([("content-type", content_type)], body)
            }),
        )
        .route("/items", get(|| async { "item" }))
        .route(
            "/big",
            get(|| async { (0..100_u8).collect::<Vec<u8>>().into_response() }),
        )
        .route(
            "/flaky",
            any(|State(flaky): State<Arc<AtomicUsize>>| async move {
                if flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
                } else {
                    "done".into_response()
                }
            }),
        )
        .with_state(flaky);
    serve(app).await
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn client_layer(h: &Harness) -> TraceLayer {
    TraceLayer::from_lookup(|_| None)
        .with_tracer_provider(h.tracer_provider.clone())
        .with_meter_provider(&h.meter_provider)
        .with_propagator(TraceContextPropagator::new())
}

type Scenario = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<u8>> + Send>> + Send + Sync>;

/// A traced server recording every request, whose `/run` handler runs
/// `scenario` (the outbound calls) and answers with what it returns.
async fn traced_server(h: &Harness, recorder: Recorder, scenario: Scenario) -> SocketAddr {
    let layer = crate::server::TraceLayer::new()
        .with_tracer_provider(h.tracer_provider.clone())
        .with_meter_provider(&h.meter_provider)
        .with_propagator(TraceContextPropagator::new())
        .with_recorder(recorder);
    let app = Router::new()
        .route(
            "/run",
            get(|State(scenario): State<Scenario>| async move { scenario().await }),
        )
        .with_state(scenario)
        .layer(layer);
    serve(app).await
}

async fn run(addr: SocketAddr) -> Bytes {
    let response = reqwest::get(format!("http://{addr}/run")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap()
}

/// What one call came back with: the status, the body read to its end,
/// and the URL the response reports (the request's, for tower).
type Called = Result<(StatusCode, Bytes, String), String>;

async fn call(via: Via, layer: &TraceLayer, method: Method, url: &str, body: Bytes) -> Called {
    match via {
        Via::Tower => {
            let client =
                Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>();
            let request = Request::builder()
                .method(method)
                .uri(url)
                .header("content-type", "application/json")
                .body(Full::new(body))
                .unwrap();
            let response = layer
                .layer(client)
                .oneshot(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Ok((status, body, url.to_owned()))
        }
        Via::Reqwest => {
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(TracingMiddleware::from(layer.clone()))
                .build();
            let response = client
                .request(method, url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let url = response.url().to_string();
            let body = response.bytes().await.unwrap();
            Ok((status, body, url))
        }
    }
}

/// One GET through `layer`, retried once on a 503.
async fn call_retrying(via: Via, layer: &TraceLayer, url: &str) -> Bytes {
    match via {
        Via::Tower => {
            let client =
                Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>();
            let service = ServiceBuilder::new()
                .retry(RetryOnce(1))
                .layer(layer.clone())
                .service(client);
            let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
            let response = service.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.into_body().collect().await.unwrap().to_bytes()
        }
        Via::Reqwest => {
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(RetryMiddleware)
                .with(TracingMiddleware::from(layer.clone()))
                .build();
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap()
        }
    }
}

fn spans_of(h: &Harness, kind: SpanKind) -> Vec<SpanData> {
    let mut spans: Vec<SpanData> = h
        .spans()
        .into_iter()
        .filter(|s| s.span_kind == kind)
        .collect();
    spans.sort_by_key(|s| s.start_time);
    spans
}

/// Waits for the spans a real server ends a moment after its client has
/// the whole response.
async fn wait_for_spans(h: &Harness, kind: SpanKind, count: usize) -> Vec<SpanData> {
    h.wait_until(|spans| spans.iter().filter(|s| s.span_kind == kind).count() >= count)
        .await;
    spans_of(h, kind)
}

fn assert_tied_to(exchange: &Exchange, span: &SpanData) {
    assert_eq!(exchange.span_id, span.span_context.span_id());
    assert_eq!(exchange.parent_span_id, span.parent_span_id);
    assert_eq!(exchange.name, span.name);
}

/// Whether `headers` carry a `traceparent` naming `span` as the parent
/// (its flags may add the `random-trace-id` bit the SDK does not keep).
fn carries_traceparent_of(headers: &[HeaderRecord], span: &SpanData) -> bool {
    let prefix = format!(
        "00-{}-{}-",
        span.span_context.trace_id(),
        span.span_context.span_id()
    );
    headers
        .iter()
        .any(|h| h.name == "traceparent" && h.value.starts_with(prefix.as_bytes()))
}

#[tokio::test]
async fn calls_inside_a_recorded_request_are_client_exchanges_of_its_recording() {
    let upstream = upstream().await;
    for via in BOTH {
        let h = Harness::new();
        let collected = Collected::new("checkout");
        let layer = client_layer(&h);
        let json = r#"{"item":"book","qty":2}"#;
        let every_byte: Vec<u8> = (0..=255).collect();
        let scenario: Scenario = {
            let every_byte = every_byte.clone();
            Arc::new(move || {
                let layer = layer.clone();
                let every_byte = every_byte.clone();
                Box::pin(async move {
                    let url = format!("http://{upstream}/echo?step=1");
                    let (status, body, _) = call(via, &layer, Method::POST, &url, json.into())
                        .await
                        .unwrap();
                    assert_eq!(status, StatusCode::OK);
                    assert_eq!(body, json);
                    let url = format!("http://{upstream}/echo?step=2");
                    let (_, body, _) =
                        call(via, &layer, Method::POST, &url, every_byte.clone().into())
                            .await
                            .unwrap();
                    assert_eq!(body, every_byte);
                    b"done".to_vec()
                })
            })
        };
        let addr =
            traced_server(&h, collected.recorder(&RecordSettings::default()), scenario).await;
        assert_eq!(run(addr).await, "done");

        let recording = collected.wait_for_one().await;
        let server_span = wait_for_spans(&h, SpanKind::Server, 1).await.remove(0);
        let client_spans = spans_of(&h, SpanKind::Client);
        assert_eq!(client_spans.len(), 2, "{via:?}");
        assert!(!recording.background);
        assert_eq!(recording.trace_id, server_span.span_context.trace_id());
        assert_eq!(recording.exchanges.len(), 3, "{via:?}: {recording:#?}");
        let inbound = recording.inbound().unwrap();
        assert_tied_to(inbound, &server_span);
        assert_eq!(inbound.request.url, "/run");
        assert_eq!(inbound.response.as_ref().unwrap().body, whole("done"));

        let outbound: Vec<&Exchange> = recording.outbound().collect();
        for (exchange, span) in outbound.iter().zip(&client_spans) {
            assert_eq!(exchange.kind, ExchangeKind::Client);
            assert_tied_to(exchange, span);
            assert_eq!(exchange.parent_span_id, server_span.span_context.span_id());
            assert_eq!(exchange.name, "POST");
            assert_eq!(exchange.route, None);
            assert_eq!(exchange.request.method, "POST");
            assert!(exchange.start_unix_nanos <= exchange.end_unix_nanos);
            assert_eq!(exchange.error, None, "{via:?}");
            assert!(
                carries_traceparent_of(&exchange.request.headers, span),
                "{via:?}: {:?}",
                exchange.request.headers
            );
            assert!(
                exchange
                    .request
                    .headers
                    .contains(&header("content-type", "application/json"))
            );
            assert_eq!(exchange.response.as_ref().unwrap().status, 200);
        }
        let (json_call, binary_call) = (outbound[0], outbound[1]);
        assert_eq!(
            json_call.request.url,
            format!("http://{upstream}/echo?step=1")
        );
        assert_eq!(json_call.request.body, whole(json));
        let response = json_call.response.as_ref().unwrap();
        assert_eq!(response.body, whole(json));
        assert!(
            response
                .headers
                .contains(&header("content-type", "application/json"))
        );
        assert_eq!(
            binary_call.request.url,
            format!("http://{upstream}/echo?step=2")
        );
        assert_eq!(binary_call.request.body, whole(every_byte.clone()));
        assert_eq!(
            binary_call.response.as_ref().unwrap().body,
            whole(every_byte)
        );
    }
}

#[tokio::test]
async fn a_retried_call_records_two_client_exchanges() {
    for via in BOTH {
        let upstream = upstream().await;
        let h = Harness::new();
        let collected = Collected::new("checkout");
        let layer = client_layer(&h);
        let scenario: Scenario = Arc::new(move || {
            let layer = layer.clone();
            Box::pin(async move {
                let url = format!("http://{upstream}/flaky");
                call_retrying(via, &layer, &url).await.to_vec()
            })
        });
        let addr =
            traced_server(&h, collected.recorder(&RecordSettings::default()), scenario).await;
        assert_eq!(run(addr).await, "done");
        let recording = collected.wait_for_one().await;
        let outbound: Vec<&Exchange> = recording.outbound().collect();
        let statuses: Vec<u16> = outbound
            .iter()
            .map(|e| e.response.as_ref().unwrap().status)
            .collect();
        assert_eq!(statuses, [503, 200], "{via:?}");
        // The retry drops the 503's body unread.
        assert_eq!(
            outbound[0].response.as_ref().unwrap().body,
            BodyRecord::default()
        );
        assert_eq!(
            outbound[0].error.as_deref(),
            Some(super::recording::NOT_READ)
        );
        assert_eq!(outbound[1].response.as_ref().unwrap().body, whole("done"));
        assert_eq!(outbound[1].error, None);
        assert_ne!(outbound[0].span_id, outbound[1].span_id);
        let server = recording.inbound().unwrap();
        assert!(outbound.iter().all(|e| e.parent_span_id == server.span_id));
    }
}

#[tokio::test]
async fn a_refused_connection_records_the_request_with_an_error() {
    let closed = closed_port().await;
    for via in BOTH {
        let h = Harness::new();
        let collected = Collected::new("checkout");
        let layer = client_layer(&h);
        let scenario: Scenario = Arc::new(move || {
            let layer = layer.clone();
            Box::pin(async move {
                let url = format!("http://{closed}/items");
                let result = call(via, &layer, Method::GET, &url, Bytes::new()).await;
                assert!(result.is_err());
                b"failed".to_vec()
            })
        });
        let addr =
            traced_server(&h, collected.recorder(&RecordSettings::default()), scenario).await;
        assert_eq!(run(addr).await, "failed");
        let recording = collected.wait_for_one().await;
        let outbound: Vec<&Exchange> = recording.outbound().collect();
        assert_eq!(outbound.len(), 1, "{via:?}");
        let exchange = outbound[0];
        assert_eq!(exchange.request.method, "GET");
        assert_eq!(exchange.request.url, format!("http://{closed}/items"));
        assert_eq!(exchange.response, None);
        let error = exchange.error.as_deref().unwrap();
        assert!(error.starts_with("connect: "), "{via:?}: {error}");
    }
}

#[tokio::test]
async fn an_oversized_response_is_truncated_in_the_recording_but_read_whole() {
    let upstream = upstream().await;
    let settings = RecordSettings {
        max_body_bytes: 16,
        ..RecordSettings::default()
    };
    for via in BOTH {
        let h = Harness::new();
        let collected = Collected::new("checkout");
        let layer = client_layer(&h).with_recorder(collected.recorder(&settings));
        let big: Vec<u8> = (0..100_u8).collect();
        let url = format!("http://{upstream}/echo");
        let (_, body, _) = call(via, &layer, Method::POST, &url, big.clone().into())
            .await
            .unwrap();
        assert_eq!(body, big, "{via:?}: the caller still reads the whole body");
        let exchange = collected.only().exchanges.remove(0);
        let truncated = BodyRecord {
            bytes: Bytes::copy_from_slice(&big[..16]),
            truncated: true,
            size: 100,
        };
        assert_eq!(exchange.request.body, truncated, "{via:?}");
        assert_eq!(exchange.response.unwrap().body, truncated, "{via:?}");
    }
}

#[tokio::test]
async fn a_call_outside_any_request_is_a_background_recording() {
    let upstream = upstream().await;
    for via in BOTH {
        let h = Harness::new();
        let collected = Collected::new("checkout");
        let layer = client_layer(&h).with_recorder(collected.recorder(&RecordSettings::default()));
        let url = format!("http://{upstream}/items?page=2");
        let (status, body, reported_url) = call(via, &layer, Method::GET, &url, Bytes::new())
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "item");
        // The reqwest response is rebuilt around the teed body; it must
        // still report where it came from.
        assert_eq!(reported_url, url, "{via:?}");

        let recording = collected.only();
        let span = spans_of(&h, SpanKind::Client).remove(0);
        assert!(recording.background);
        assert_eq!(recording.service_name, "checkout");
        assert_eq!(recording.trace_id, span.span_context.trace_id());
        assert_eq!(recording.exchanges.len(), 1);
        let exchange = &recording.exchanges[0];
        assert_eq!(exchange.kind, ExchangeKind::Client);
        assert_tied_to(exchange, &span);
        assert_eq!(exchange.parent_span_id, SpanId::INVALID);
        assert_eq!(exchange.request.url, url);
        assert_eq!(exchange.request.body, BodyRecord::default());
        assert_eq!(exchange.response.as_ref().unwrap().body, whole("item"));
        assert_eq!(exchange.error, None);
    }
}

#[tokio::test]
async fn a_client_layer_without_a_recorder_records_nothing_outside_a_request() {
    let upstream = upstream().await;
    for via in BOTH {
        let h = Harness::new();
        let url = format!("http://{upstream}/items");
        call(via, &client_layer(&h), Method::GET, &url, Bytes::new())
            .await
            .unwrap();
        assert_eq!(spans_of(&h, SpanKind::Client).len(), 1, "still traced");
    }
}

#[tokio::test]
async fn suppressed_and_excluded_calls_record_nothing() {
    let upstream = upstream().await;
    for via in BOTH {
        let h = Harness::new();
        let collected = Collected::new("checkout");
        let layer = client_layer(&h)
            .with_excluded_urls(["/items$"])
            .with_recorder(collected.recorder(&RecordSettings::default()));
        let url = format!("http://{upstream}/items");
        call(via, &layer, Method::GET, &url, Bytes::new())
            .await
            .unwrap();
        let suppressed = Context::current().with_telemetry_suppressed();
        let echo = format!("http://{upstream}/echo");
        call(via, &layer, Method::POST, &echo, "{}".into())
            .with_context(suppressed)
            .await
            .unwrap();
        assert!(collected.take().is_empty(), "{via:?}");

        // Inside a recorded request, the excluded call is left out of its
        // recording.
        let inner_layer = layer.clone();
        let scenario: Scenario = Arc::new(move || {
            let layer = inner_layer.clone();
            let url = url.clone();
            Box::pin(async move {
                call(via, &layer, Method::GET, &url, Bytes::new())
                    .await
                    .unwrap();
                b"ok".to_vec()
            })
        });
        let server_recorder = collected.recorder(&RecordSettings::default());
        let addr = traced_server(&h, server_recorder, scenario).await;
        run(addr).await;
        let recording = collected.wait_for_one().await;
        assert_eq!(recording.exchanges.len(), 1, "{via:?}: {recording:#?}");
        assert!(recording.inbound().is_some());
    }
}

#[tokio::test]
async fn calls_inside_a_request_left_unrecorded_are_not_background_recordings() {
    let upstream = upstream().await;
    for via in BOTH {
        let h = Harness::new();
        let collected = Collected::new("checkout");
        // The client layer has a recorder that would record background
        // calls; the server's recorder samples nothing.
        let layer = client_layer(&h).with_recorder(collected.recorder(&RecordSettings::default()));
        let scenario: Scenario = Arc::new(move || {
            let layer = layer.clone();
            Box::pin(async move {
                let url = format!("http://{upstream}/items");
                call(via, &layer, Method::GET, &url, Bytes::new())
                    .await
                    .unwrap();
                b"done".to_vec()
            })
        });
        let never = RecordSettings {
            sample_rate: 0.0,
            ..RecordSettings::default()
        };
        let addr = traced_server(&h, collected.recorder(&never), scenario).await;
        assert_eq!(run(addr).await, "done");
        // Both spans ended (the client's inside the handler, then the
        // server's): by then a recording would have been handed on.
        wait_for_spans(&h, SpanKind::Server, 1).await;
        assert_eq!(spans_of(&h, SpanKind::Client).len(), 1);
        assert!(collected.take().is_empty(), "{via:?}");
    }
}

/// Regression: a call made after the response by a task spawned with the
/// request's context was in the trace but left out of the recording (the
/// recording was handed on when the response body ended).
#[tokio::test]
async fn a_call_after_the_response_from_a_task_with_the_request_context_is_in_its_recording() {
    let upstream = upstream().await;
    let h = Harness::new();
    let collected = Collected::new("checkout");
    // The client layer records background calls too.
    let layer = client_layer(&h).with_recorder(collected.recorder(&RecordSettings::default()));
    // Lets the spawned tasks make their calls once the response is read.
    let (go, wait) = tokio::sync::watch::channel(false);
    let scenario: Scenario = Arc::new(move || {
        let layer = layer.clone();
        let wait = wait.clone();
        Box::pin(async move {
            let mut in_context = wait.clone();
            let audit_layer = layer.clone();
            crate::context::spawn(async move {
                in_context.wait_for(|go| *go).await.unwrap();
                let url = format!("http://{upstream}/echo?audit");
                call(Via::Reqwest, &audit_layer, Method::POST, &url, "{}".into())
                    .await
                    .unwrap();
            });
            let mut plain = wait;
            tokio::spawn(async move {
                plain.wait_for(|go| *go).await.unwrap();
                let url = format!("http://{upstream}/items?plain");
                call(Via::Reqwest, &layer, Method::GET, &url, Bytes::new())
                    .await
                    .unwrap();
            });
            b"accepted".to_vec()
        })
    });
    let addr = traced_server(&h, collected.recorder(&RecordSettings::default()), scenario).await;
    assert_eq!(run(addr).await, "accepted");
    // The response body has ended: the server's span, and its exchange,
    // are done. The recording waits for the task holding the context.
    let server_span = wait_for_spans(&h, SpanKind::Server, 1).await.remove(0);
    assert!(collected.take().is_empty());

    go.send(true).unwrap();
    let mut recordings = collected.wait_for(2).await;
    recordings.sort_by_key(|recording| recording.background);
    let [request, background] = <[_; 2]>::try_from(recordings).unwrap();

    assert!(!request.background);
    assert_eq!(request.trace_id, server_span.span_context.trace_id());
    let inbound = request.inbound().unwrap();
    assert_eq!(inbound.request.url, "/run");
    let outbound: Vec<&Exchange> = request.outbound().collect();
    assert_eq!(outbound.len(), 1, "{request:#?}");
    let audit = outbound[0];
    assert_eq!(audit.request.url, format!("http://{upstream}/echo?audit"));
    assert_eq!(audit.parent_span_id, inbound.span_id);
    assert!(audit.start_unix_nanos > inbound.end_unix_nanos);
    assert_eq!(audit.response.as_ref().unwrap().body, whole("{}"));

    // The task spawned without the context made a call outside any
    // request: a background recording of its own.
    assert!(background.background);
    assert_ne!(background.trace_id, request.trace_id);
    assert_eq!(background.exchanges.len(), 1);
    let plain = &background.exchanges[0];
    assert_eq!(plain.request.url, format!("http://{upstream}/items?plain"));
    assert_eq!(plain.parent_span_id, SpanId::INVALID);
}
