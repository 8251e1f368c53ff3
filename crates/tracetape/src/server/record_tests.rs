//! Record mode in the server layer: an axum router driven with `oneshot`
//! (and once through a real server), recordings collected in memory and
//! compared with the spans of the SDK's in-memory exporter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Json, Router, http::StatusCode};
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SpanData;
use tower::{Service, ServiceExt};

use super::{RequestBody, TraceLayer};
use crate::record::testing::Collected;
use crate::record::testing::{header, whole};
use crate::record::{
    BodyRecord, ExchangeKind, RecordSettings, Recorder, Recording, TraceRecording,
};
use crate::test_support::Harness;

fn layer(h: &Harness, recorder: Recorder) -> TraceLayer {
    TraceLayer::new()
        .with_tracer_provider(h.tracer_provider.clone())
        .with_meter_provider(&h.meter_provider)
        .with_propagator(TraceContextPropagator::new())
        .with_excluded_urls(["^/health$"])
        .with_recorder(recorder)
}

/// A body that yields its chunks one frame at a time.
struct Chunks(VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|c| Ok(http_body::Frame::data(c))))
    }
}

async fn explode() -> &'static str {
    panic!("handler exploded")
}

async fn order(
    Json(mut order): Json<serde_json::Value>,
) -> (StatusCode, HeaderMap, Json<serde_json::Value>) {
    order["status"] = "accepted".into();
    let mut headers = HeaderMap::new();
    headers.append("x-out", "one".parse().unwrap());
    headers.append("x-out", "two".parse().unwrap());
    (StatusCode::CREATED, headers, Json(order))
}

fn app(h: &Harness, recorder: Recorder) -> Router {
    Router::new()
        .route("/orders/{id}", post(order))
        .route(
            "/echo",
            post(
                |body: Bytes| async move { ([("content-type", "application/octet-stream")], body) },
            ),
        )
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/stream",
            get(|| async {
                let chunks = [&b"first,"[..], b"second,", b"third"].map(Bytes::from_static);
                Body::new(Chunks(chunks.into()))
            }),
        )
        .route(
            "/recording",
            get(|| async {
                let recording = Context::current().get::<TraceRecording>().is_some();
                if recording { "recording" } else { "none" }
            }),
        )
        .route("/panic", get(explode))
        .route("/health", get(|| async { "ok" }))
        .layer(layer(h, recorder))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

fn get_req(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

fn assert_tied_to(recording: &Recording, span: &SpanData) {
    assert_eq!(recording.trace_id, span.span_context.trace_id());
    let exchange = &recording.exchanges[0];
    assert_eq!(exchange.span_id, span.span_context.span_id());
    assert_eq!(exchange.parent_span_id, span.parent_span_id);
    assert_eq!(exchange.name, span.name);
}

#[tokio::test]
async fn json_request_and_response_are_recorded_field_by_field() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let request_body = r#"{"item":"book","qty":2}"#;
    let request = Request::builder()
        .method("POST")
        .uri("/orders/7?dry_run=1&tag=a%20b")
        .header("content-type", "application/json")
        .header("x-tag", "first")
        .header("x-tag", "second")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::from(request_body))
        .unwrap();
    let (status, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::CREATED);
    let response_body = r#"{"item":"book","qty":2,"status":"accepted"}"#;
    assert_eq!(body, response_body);

    let recording = collected.only();
    let span = h.only_span();
    assert_tied_to(&recording, &span);
    assert_eq!(
        recording.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(recording.service_name, "orders");
    assert!(!recording.background);
    assert_eq!(recording.exchanges.len(), 1);
    let exchange = &recording.exchanges[0];
    assert_eq!(exchange.kind, ExchangeKind::Server);
    assert_eq!(exchange.name, "POST /orders/{id}");
    assert_eq!(exchange.route.as_deref(), Some("/orders/{id}"));
    assert_eq!(
        exchange.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert!(exchange.start_unix_nanos > 0);
    assert!(exchange.start_unix_nanos <= exchange.end_unix_nanos);
    assert_eq!(exchange.error, None);

    let request = &exchange.request;
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "/orders/7?dry_run=1&tag=a%20b");
    assert_eq!(
        request.headers,
        [
            header("content-type", "application/json"),
            header("x-tag", "first"),
            header("x-tag", "second"),
            header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            ),
        ]
    );
    assert_eq!(request.body, whole(request_body));

    let response = exchange.response.as_ref().unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(
        response.headers,
        [
            header("content-type", "application/json"),
            header("x-out", "one"),
            header("x-out", "two"),
        ]
    );
    assert_eq!(response.body, whole(response_body));
}

#[tokio::test]
async fn binary_bodies_are_recorded_byte_exact() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let every_byte: Vec<u8> = (0..=255).collect();
    let request = Request::post("/echo")
        .body(Body::from(every_byte.clone()))
        .unwrap();
    let (status, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, every_byte);
    let exchange = collected.only().exchanges.remove(0);
    assert_eq!(exchange.request.body, whole(every_byte.clone()));
    assert_eq!(exchange.response.unwrap().body, whole(every_byte));
}

#[tokio::test]
async fn an_empty_get_is_recorded_with_empty_request_body() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let (status, _) = send(&app, get_req("/users/42")).await;
    assert_eq!(status, StatusCode::OK);
    let recording = collected.only();
    assert_tied_to(&recording, &h.only_span());
    let exchange = &recording.exchanges[0];
    assert_eq!(exchange.parent_span_id, SpanId::INVALID);
    assert_eq!(exchange.request.method, "GET");
    assert_eq!(exchange.request.url, "/users/42");
    assert_eq!(exchange.request.body, BodyRecord::default());
    let response = exchange.response.as_ref().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, whole("user"));
}

#[tokio::test]
async fn a_streamed_response_is_recorded_whole() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let (_, body) = send(&app, get_req("/stream")).await;
    assert_eq!(body, "first,second,third");
    let exchange = collected.only().exchanges.remove(0);
    assert_eq!(exchange.response.unwrap().body, whole("first,second,third"));
    assert_eq!(exchange.error, None);
}

/// Bodies held across requests share one budget: past it a body is kept
/// in part (marked truncated) and counted, and the bytes come back once
/// the recording is handed on, so the next request is kept as the first.
#[tokio::test]
async fn bodies_past_the_held_budget_are_cut_and_the_budget_comes_back() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let settings = RecordSettings {
        max_held_bytes: 150,
        ..RecordSettings::default()
    };
    let recorder = collected.recorder(&settings);
    let app = app(&h, recorder.clone());
    let big: Vec<u8> = (0..100_u8).collect();
    for round in 1..=2_u64 {
        let request = Request::post("/echo")
            .body(Body::from(big.clone()))
            .unwrap();
        let (_, body) = send(&app, request).await;
        assert_eq!(body, big, "the client still receives the whole body");
        let exchange = collected.wait_for_one().await.exchanges.remove(0);
        assert_eq!(exchange.request.body, whole(&big), "round {round}");
        let response = exchange.response.unwrap().body;
        assert_eq!(
            (&response.bytes[..], response.truncated, response.size),
            (&big[..50], true, 100),
            "round {round}: what was left of the budget"
        );
        assert_eq!(recorder.cut_by_budget(), round);
        assert_eq!(recorder.held_bytes(), 0, "given back once handed on");
    }
}

#[tokio::test]
async fn oversized_bodies_are_truncated_but_sent_whole() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let settings = RecordSettings {
        max_body_bytes: 16,
        ..RecordSettings::default()
    };
    let app = app(&h, collected.recorder(&settings));
    let big: Vec<u8> = (0..100_u8).collect();
    let request = Request::post("/echo")
        .body(Body::from(big.clone()))
        .unwrap();
    let (_, body) = send(&app, request).await;
    assert_eq!(body, big, "the client still receives the whole body");
    let exchange = collected.only().exchanges.remove(0);
    let truncated = BodyRecord {
        bytes: Bytes::copy_from_slice(&big[..16]),
        truncated: true,
        size: 100,
    };
    assert_eq!(exchange.request.body, truncated);
    assert_eq!(exchange.response.unwrap().body, truncated);
}

#[tokio::test]
async fn sample_rate_zero_records_nothing() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let settings = RecordSettings {
        sample_rate: 0.0,
        ..RecordSettings::default()
    };
    let app = app(&h, collected.recorder(&settings));
    let (_, body) = send(&app, get_req("/recording")).await;
    assert_eq!(body, "none");
    send(&app, get_req("/users/1")).await;
    assert!(collected.take().is_empty());
    assert_eq!(h.spans().len(), 2, "still traced");
}

#[tokio::test]
async fn a_panicking_handler_records_its_500_and_the_panic() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let (status, _) = send(&app, get_req("/panic")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let recording = collected.only();
    assert_tied_to(&recording, &h.only_span());
    let exchange = &recording.exchanges[0];
    let response = exchange.response.as_ref().unwrap();
    assert_eq!(response.status, 500);
    assert_eq!(response.body, BodyRecord::default());
    assert_eq!(exchange.error.as_deref(), Some("panic: handler exploded"));
}

#[tokio::test]
async fn the_trace_recording_is_current_inside_the_handler() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let (_, body) = send(&app, get_req("/recording")).await;
    assert_eq!(body, "recording");
    assert_eq!(collected.take().len(), 1);
}

#[tokio::test]
async fn excluded_and_suppressed_requests_record_nothing() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let (_, body) = send(&app, get_req("/health")).await;
    assert_eq!(body, "ok");
    let suppressed = Context::current().with_telemetry_suppressed();
    let (_, body) = send(&app, get_req("/recording"))
        .with_context(suppressed)
        .await;
    assert_eq!(body, "none");
    assert!(collected.take().is_empty());
}

#[tokio::test]
async fn a_response_body_cut_short_is_recorded_as_the_client_going_away() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let response = app.oneshot(get_req("/stream")).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first,");
    assert!(collected.take().is_empty(), "the body is still being sent");
    drop(body);
    let exchange = collected.only().exchanges.remove(0);
    let response = exchange.response.unwrap();
    assert_eq!(response.body, whole("first,"));
    assert_eq!(exchange.error.as_deref(), Some("client went away"));
}

#[tokio::test]
async fn a_request_whose_response_never_came_is_recorded_as_abandoned() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let service = tower::service_fn(|_: Request<RequestBody<Body>>| {
        std::future::pending::<Result<http::Response<Body>, Infallible>>()
    });
    let mut service = tower::Layer::layer(
        &layer(&h, collected.recorder(&RecordSettings::default())),
        service,
    );
    let future = service
        .ready()
        .await
        .unwrap()
        .call(Request::post("/slow").body(Body::from("payload")).unwrap());
    assert!(collected.take().is_empty());
    drop(future);
    let exchange = collected.only().exchanges.remove(0);
    assert_eq!(exchange.response, None);
    assert_eq!(exchange.error.as_deref(), Some("abandoned"));
    assert_eq!(exchange.request.url, "/slow");
}

#[tokio::test]
async fn a_real_server_records_what_reqwest_sent_and_received() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let app = app(&h, collected.recorder(&RecordSettings::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let response = reqwest::Client::new()
        .post(format!("http://{addr}/orders/9?x=1"))
        .header("content-type", "application/json")
        .body(r#"{"item":"pen"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body = response.bytes().await.unwrap();
    assert_eq!(body, r#"{"item":"pen","status":"accepted"}"#);

    let recording = collected.wait_for_one().await;
    let exchange = &recording.exchanges[0];
    assert_eq!(exchange.request.method, "POST");
    assert_eq!(exchange.request.url, "/orders/9?x=1");
    assert!(
        exchange
            .request
            .headers
            .contains(&header("content-type", "application/json"))
    );
    assert_eq!(exchange.request.body, whole(r#"{"item":"pen"}"#));
    let response = exchange.response.as_ref().unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.body, whole(body));
    assert_eq!(exchange.error, None);
    // The span ends with the body, which a real server may finish a
    // moment after the client has it all.
    h.wait_for_spans(1).await;
    assert_tied_to(&recording, &h.only_span());
    server.abort();
}

/// Guards the end of an ordinary request now that a context can hold its
/// recording open: the layer's own hold on the handler's context must not
/// keep it lingering once the response body has ended.
#[tokio::test]
async fn a_recording_is_handed_on_when_its_response_body_ends() {
    let h = Harness::new();
    let collected = Collected::new("orders");
    let recorder = collected.recorder(&RecordSettings::default());
    let app = app(&h, recorder.clone());
    let response = app.clone().oneshot(get_req("/stream")).await.unwrap();
    let mut body = response.into_body();
    assert!(collected.take().is_empty(), "the body has not been sent");
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first,");
    assert!(collected.take().is_empty(), "the body has not ended");
    while let Some(frame) = body.frame().await {
        frame.unwrap();
    }
    // At once, and without lingering: once the handler returned, nothing
    // held its context.
    let recording = collected.only();
    assert_eq!(recorder.lingering(), 0);
    assert_eq!(
        recording.inbound().unwrap().response.as_ref().unwrap().body,
        whole("first,second,third")
    );
}
