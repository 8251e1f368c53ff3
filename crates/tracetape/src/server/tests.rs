//! Unit tests of the server layer: an axum router driven with `oneshot`,
//! spans and metrics read from the SDK's in-memory exporters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::routing::{any, get};
use axum::{Router, http::StatusCode};
use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanKind, Status, TraceId, Tracer, TracerProvider};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use tokio::sync::{mpsc, oneshot};
use tower::ServiceExt;

use super::{RequestBody, TraceLayer};
use crate::test_support::{GLOBAL_PROVIDERS, Harness, attr, attr_i64, attr_str};

impl Harness {
    fn layer(&self) -> TraceLayer {
        TraceLayer::new()
            .with_tracer_provider(self.tracer_provider.clone())
            .with_meter_provider(&self.meter_provider)
            .with_propagator(TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]))
            .with_excluded_urls([])
    }
}

async fn explode() -> &'static str {
    panic!("handler exploded")
}

fn strings(values: &[&'static str]) -> Value {
    Value::Array(Array::String(
        values.iter().map(|v| StringValue::from(*v)).collect(),
    ))
}

fn app(h: &Harness) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/any/{id}", any(|| async { "any" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route("/bad", get(|| async { (StatusCode::BAD_REQUEST, "bad") }))
        .route("/panic", get(explode))
        .route("/health", get(|| async { "ok" }))
        .layer(h.layer())
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

#[tokio::test]
async fn route_with_parameters_names_the_span_and_sets_start_attributes() {
    let h = Harness::new();
    let request = Request::builder()
        .uri("/users/42?page=2&sig=secret")
        .header("host", "api.example:8080")
        .header("user-agent", "test-agent/1.0")
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(&app(&h), request).await;
    assert_eq!(status, StatusCode::OK);
    let span = h.only_span();
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.status, Status::Unset);
    assert_eq!(
        attr_str(&span, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(attr(&span, "http.request.method_original"), None);
    assert_eq!(
        attr_str(&span, "http.route").as_deref(),
        Some("/users/{id}")
    );
    assert_eq!(attr_str(&span, "url.path").as_deref(), Some("/users/42"));
    assert_eq!(
        attr_str(&span, "url.query").as_deref(),
        Some("page=2&sig=REDACTED")
    );
    assert_eq!(attr_str(&span, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        attr_str(&span, "server.address").as_deref(),
        Some("api.example")
    );
    assert_eq!(attr_i64(&span, "server.port"), Some(8080));
    assert_eq!(
        attr_str(&span, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(
        attr_str(&span, "user_agent.original").as_deref(),
        Some("test-agent/1.0")
    );
    assert_eq!(attr_i64(&span, "http.response.status_code"), Some(200));
    assert_eq!(attr(&span, "error.type"), None);
    assert_eq!(span.instrumentation_scope.name(), "tracetape");
}

#[tokio::test]
async fn unmatched_path_is_named_by_method_alone() {
    let h = Harness::new();
    let (status, _) = send(&app(&h), get_req("/no/such/thing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let span = h.only_span();
    assert_eq!(span.name, "GET");
    assert_eq!(attr(&span, "http.route"), None);
    assert_eq!(
        attr_str(&span, "url.path").as_deref(),
        Some("/no/such/thing")
    );
    assert_eq!(attr_i64(&span, "http.response.status_code"), Some(404));
    assert_eq!(span.status, Status::Unset, "404 is not a server error");
}

#[tokio::test]
async fn unknown_method_becomes_other() {
    let h = Harness::new();
    let request = Request::builder()
        .method("PURGE")
        .uri("/any/7")
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(&app(&h), request).await;
    assert_eq!(status, StatusCode::OK);
    let span = h.only_span();
    assert_eq!(span.name, "HTTP /any/{id}");
    assert_eq!(
        attr_str(&span, "http.request.method").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        attr_str(&span, "http.request.method_original").as_deref(),
        Some("PURGE")
    );
}

#[tokio::test]
async fn server_errors_are_errors_and_client_errors_are_not() {
    let h = Harness::new();
    let app = app(&h);
    send(&app, get_req("/fail")).await;
    send(&app, get_req("/bad")).await;
    let spans = h.spans();
    let fail = spans.iter().find(|s| s.name == "GET /fail").unwrap();
    assert!(matches!(fail.status, Status::Error { .. }));
    assert_eq!(attr_str(fail, "error.type").as_deref(), Some("503"));
    assert_eq!(attr_i64(fail, "http.response.status_code"), Some(503));
    let bad = spans.iter().find(|s| s.name == "GET /bad").unwrap();
    assert_eq!(bad.status, Status::Unset);
    assert_eq!(attr(bad, "error.type"), None);
}

#[tokio::test]
async fn handler_panic_is_a_500_with_an_exception_and_the_service_keeps_serving() {
    let h = Harness::new();
    let app = app(&h);
    let (status, _) = send(&app, get_req("/panic")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = send(&app, get_req("/users/1")).await;
    assert_eq!(status, StatusCode::OK);
    let spans = h.spans();
    let panicked = spans.iter().find(|s| s.name == "GET /panic").unwrap();
    assert!(matches!(panicked.status, Status::Error { .. }));
    assert_eq!(attr_str(panicked, "error.type").as_deref(), Some("500"));
    let event = panicked
        .events
        .iter()
        .find(|e| e.name == "exception")
        .unwrap();
    let message = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.message")
        .unwrap();
    assert_eq!(message.value.as_str(), "handler exploded");
}

#[tokio::test]
async fn a_panic_while_building_the_future_is_caught_too() {
    // A plain tower service whose `call` itself panics.
    let h = Harness::new();
    let service = tower::service_fn(|request: Request<RequestBody<Body>>| {
        if request.uri().path() == "/boom" {
            panic!("call exploded");
        }
        async { Ok::<_, Infallible>(http::Response::new(Body::from("fine"))) }
    });
    let service = tower::Layer::layer(&h.layer(), service);
    let response = service.clone().oneshot(get_req("/boom")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
    let response = service.oneshot(get_req("/ok")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    let spans = h.spans();
    assert_eq!(spans.len(), 2);
    assert!(spans[0].events.iter().any(|e| e.name == "exception"));
}

#[tokio::test]
async fn hooks_add_attributes_and_a_panicking_hook_changes_nothing() {
    let h = Harness::new();
    let layer = h
        .layer()
        .with_on_request(
            |request: &Request<Body>, span: &opentelemetry::trace::SpanRef<'_>| {
                span.set_attribute(KeyValue::new(
                    "app.path_len",
                    request.uri().path().len() as i64,
                ));
            },
        )
        .with_on_response(
            |response: &http::Response<Body>, span: &opentelemetry::trace::SpanRef<'_>| {
                span.set_attribute(KeyValue::new(
                    "app.status",
                    i64::from(response.status().as_u16()),
                ));
            },
        );
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(layer);
    send(&app, get_req("/x")).await;
    let span = h.only_span();
    assert_eq!(attr_i64(&span, "app.path_len"), Some(2));
    assert_eq!(attr_i64(&span, "app.status"), Some(200));

    let h = Harness::new();
    let layer = h
        .layer()
        .with_on_request(|_: &Request<Body>, _: &opentelemetry::trace::SpanRef<'_>| {
            panic!("bad request hook")
        })
        .with_on_response(
            |_: &http::Response<Body>, _: &opentelemetry::trace::SpanRef<'_>| {
                panic!("bad response hook")
            },
        );
    let app = Router::new()
        .route("/x", get(|| async { "body" }))
        .layer(layer);
    let (status, body) = send(&app, get_req("/x")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"body");
    let span = h.only_span();
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr_i64(&span, "http.response.status_code"), Some(200));
}

#[tokio::test]
async fn excluded_requests_get_no_span_and_no_metric() {
    let h = Harness::new();
    let layer = h
        .layer()
        .with_excluded_urls(["^/health$"])
        .with_exclude(|parts| parts.headers.contains_key("x-synthetic"));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/users/{id}", get(|| async { "user" }))
        .layer(layer);
    let (status, body) = send(&app, get_req("/health")).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    let synthetic = Request::builder()
        .uri("/users/1")
        .header("x-synthetic", "1")
        .body(Body::empty())
        .unwrap();
    send(&app, synthetic).await;
    assert!(h.spans().is_empty());
    assert!(h.metric_points().is_empty());
    send(&app, get_req("/users/2")).await;
    assert_eq!(h.only_span().name, "GET /users/{id}");
}

#[tokio::test]
async fn a_panicking_exclusion_predicate_traces_the_request() {
    let h = Harness::new();
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(h.layer().with_exclude(|_| panic!("predicate exploded")));
    let (status, _) = send(&app, get_req("/x")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.only_span().name, "GET /x");
}

#[tokio::test]
async fn incoming_context_is_the_parent_and_baggage_reaches_the_handler() {
    let h = Harness::new();
    let provider = h.tracer_provider.clone();
    let app = Router::new()
        .route(
            "/work",
            get(move || {
                let provider = provider.clone();
                async move {
                    // A span started in the handler is a child of the SERVER span.
                    let tracer = provider.tracer("handler");
                    tracer.in_span("inner-work", |_| {});
                    let cx = Context::current();
                    let tenant = cx.baggage().get("tenant").map(|v| v.to_string());
                    tenant.unwrap_or_default()
                }
            }),
        )
        .layer(h.layer());
    let request = Request::builder()
        .uri("/work")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("tracestate", "vendor=value")
        .header("baggage", "tenant=acme")
        .body(Body::empty())
        .unwrap();
    let (_, body) = send(&app, request).await;
    assert_eq!(&body[..], b"acme");
    let spans = h.spans();
    let server = spans.iter().find(|s| s.name == "GET /work").unwrap();
    let inner = spans.iter().find(|s| s.name == "inner-work").unwrap();
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    assert_eq!(server.span_context.trace_id(), trace_id);
    assert_eq!(
        format!("{:016x}", server.parent_span_id),
        "00f067aa0ba902b7"
    );
    assert!(server.parent_span_is_remote);
    assert_eq!(server.span_context.trace_state().header(), "vendor=value");
    assert_eq!(inner.span_context.trace_id(), trace_id);
    assert_eq!(inner.parent_span_id, server.span_context.span_id());
}

#[tokio::test]
async fn malformed_context_headers_start_a_new_trace() {
    let bad_parents = [
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
        "",
    ];
    for bad in bad_parents {
        let h = Harness::new();
        let request = Request::builder()
            .uri("/users/1")
            .header("traceparent", bad)
            .header("tracestate", "=,,%%%=,a=b=c")
            .header("baggage", "=;;%zz, key")
            .body(Body::empty())
            .unwrap();
        let (status, _) = send(&app(&h), request).await;
        assert_eq!(status, StatusCode::OK, "{bad}");
        let span = h.only_span();
        assert!(!span.parent_span_is_remote, "{bad}");
        assert_ne!(
            span.span_context.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn forwarded_headers_name_the_client_and_the_server() {
    let h = Harness::new();
    let request = Request::builder()
        .uri("/users/1")
        .header(
            "forwarded",
            "for=\"[2001:db8::9]:4711\";host=shop.example;proto=https",
        )
        .header("x-forwarded-for", "198.51.100.1")
        .header("host", "internal:8080")
        .body(Body::empty())
        .unwrap();
    send(&app(&h), request).await;
    let span = h.only_span();
    assert_eq!(
        attr_str(&span, "client.address").as_deref(),
        Some("2001:db8::9")
    );
    assert_eq!(
        attr_str(&span, "server.address").as_deref(),
        Some("shop.example")
    );
    assert_eq!(attr(&span, "server.port"), None);
    assert_eq!(attr_str(&span, "url.scheme").as_deref(), Some("https"));

    let h = Harness::new();
    let request = Request::builder()
        .uri("/users/1")
        .header("forwarded", "for=unknown;;=\"")
        .header("x-forwarded-for", "198.51.100.1, 10.0.0.1")
        .body(Body::empty())
        .unwrap();
    send(&app(&h), request).await;
    let span = h.only_span();
    assert_eq!(
        attr_str(&span, "client.address").as_deref(),
        Some("198.51.100.1")
    );
}

#[tokio::test]
async fn peer_address_comes_from_the_extension() {
    let h = Harness::new();
    let mut request = get_req("/users/1");
    request
        .extensions_mut()
        .insert(super::PeerAddr("127.0.0.1:51000".parse().unwrap()));
    send(&app(&h), request).await;
    let span = h.only_span();
    assert_eq!(
        attr_str(&span, "network.peer.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(attr_i64(&span, "network.peer.port"), Some(51000));
    assert_eq!(
        attr_str(&span, "client.address").as_deref(),
        Some("127.0.0.1")
    );
}

#[tokio::test]
async fn captured_headers_are_string_arrays_and_sanitised() {
    let h = Harness::new();
    let layer = h
        .layer()
        .with_request_headers(["X-Request-Tag", "Authorization"], ["authorization"])
        .with_response_headers(["content-type"], []);
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(layer);
    let request = Request::builder()
        .uri("/x")
        .header("x-request-tag", "a")
        .header("x-request-tag", "b")
        .header("authorization", "Bearer secret")
        .body(Body::empty())
        .unwrap();
    send(&app, request).await;
    let span = h.only_span();
    assert_eq!(
        attr(&span, "http.request.header.x-request-tag"),
        Some(&strings(&["a", "b"]))
    );
    assert_eq!(
        attr(&span, "http.request.header.authorization"),
        Some(&strings(&["[REDACTED]"]))
    );
    assert_eq!(
        attr(&span, "http.response.header.content-type"),
        Some(&strings(&["text/plain; charset=utf-8"]))
    );
}

/// A response body fed from a channel, to control when it ends.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// A traced response whose body yields what is sent on the returned sender
/// and ends when the sender is dropped.
async fn streamed_response(
    h: &Harness,
) -> (
    mpsc::Sender<Bytes>,
    http::Response<super::ResponseBody<ChannelBody>>,
) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let rx = std::sync::Mutex::new(Some(rx));
    let service = tower::service_fn(move |_: Request<RequestBody<Body>>| {
        let rx = rx.lock().unwrap().take().unwrap();
        async move { Ok::<_, Infallible>(http::Response::new(ChannelBody(rx))) }
    });
    let service = tower::Layer::layer(&h.layer(), service);
    let response = service.oneshot(get_req("/stream")).await.unwrap();
    (tx, response)
}

#[tokio::test]
async fn the_span_ends_when_the_body_has_been_sent_not_when_the_handler_returns() {
    let h = Harness::new();
    let (tx, response) = streamed_response(&h).await;
    assert!(
        h.spans().is_empty(),
        "the handler returned but the body is still streaming"
    );
    let mut body = response.into_body();
    tx.send(Bytes::from_static(b"part")).await.unwrap();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"part"));
    assert!(h.spans().is_empty());
    drop(tx);
    assert!(body.frame().await.is_none());
    let span = h.only_span();
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr_i64(&span, "http.response.status_code"), Some(200));
}

#[tokio::test]
async fn a_body_dropped_mid_stream_ends_the_span_without_error() {
    let h = Harness::new();
    let (tx, response) = streamed_response(&h).await;
    tx.send(Bytes::from_static(b"part")).await.unwrap();
    drop(response);
    let span = h.only_span();
    assert_eq!(span.status, Status::Unset);
}

#[tokio::test]
async fn a_client_that_goes_away_mid_request_is_not_an_error() {
    let h = Harness::new();
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let started_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let started = started_tx.lock().unwrap().take();
                async move {
                    if let Some(started) = started {
                        let _ = started.send(());
                    }
                    std::future::pending::<&'static str>().await
                }
            }),
        )
        .layer(h.layer());
    let call = tokio::spawn(app.oneshot(get_req("/slow")));
    started_rx.await.unwrap();
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    let span = h.only_span();
    assert_eq!(span.name, "GET /slow");
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr(&span, "http.response.status_code"), None);
    assert_eq!(attr(&span, "error.type"), None);
    let active: f64 = h
        .metric_points()
        .iter()
        .filter(|(name, _, _)| name == "http.server.active_requests")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(active, 0.0);
}

#[tokio::test]
async fn request_duration_and_active_requests_are_recorded() {
    let h = Harness::new();
    let app = app(&h);
    send(&app, get_req("/users/1")).await;
    send(&app, get_req("/users/2")).await;
    send(&app, get_req("/fail")).await;
    let points = h.metric_points();
    let durations: Vec<_> = points
        .iter()
        .filter(|(name, _, _)| name == "http.server.request.duration")
        .collect();
    let users = durations
        .iter()
        .find(|(_, attrs, _)| {
            attrs
                .iter()
                .any(|kv| kv.key.as_str() == "http.route" && kv.value.as_str() == "/users/{id}")
        })
        .unwrap();
    assert_eq!(users.2, 2.0);
    let keys: Vec<&str> = users.1.iter().map(|kv| kv.key.as_str()).collect();
    for key in [
        "http.request.method",
        "url.scheme",
        "http.route",
        "network.protocol.version",
        "http.response.status_code",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(
        !keys.contains(&"url.path"),
        "high-cardinality attribute on a metric"
    );
    let fail = durations
        .iter()
        .find(|(_, attrs, _)| {
            attrs
                .iter()
                .any(|kv| kv.key.as_str() == "error.type" && kv.value.as_str() == "503")
        })
        .unwrap();
    assert_eq!(fail.2, 1.0);
    let active: Vec<_> = points
        .iter()
        .filter(|(name, _, _)| name == "http.server.active_requests")
        .collect();
    assert!(!active.is_empty());
    for (_, attrs, value) in active {
        assert_eq!(*value, 0.0);
        assert_eq!(attrs.len(), 2, "{attrs:?}");
    }
}

/// The `http.server.active_requests` points of the latest collection, as
/// (method, scheme, value); earlier collections are forgotten.
fn active_requests(h: &Harness) -> Vec<(String, String, f64)> {
    let points = h.metric_points();
    h.metrics.reset();
    points
        .into_iter()
        .filter(|(name, _, _)| name == "http.server.active_requests")
        .map(|(_, attrs, value)| {
            let get = |key: &str| {
                attrs
                    .iter()
                    .find(|kv| kv.key.as_str() == key)
                    .map(|kv| kv.value.as_str().into_owned())
                    .unwrap_or_default()
            };
            (get("http.request.method"), get("url.scheme"), value)
        })
        .collect()
}

// Guards the active-request counters kept outside the SDK: a request counts
// on its (method, scheme) pair from its start until its body has been sent.
#[tokio::test]
async fn a_request_is_active_until_its_body_has_been_sent() {
    let h = Harness::new();
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let service = tower::service_fn(move |_: Request<RequestBody<Body>>| {
        let rx = rx.lock().unwrap().take().unwrap();
        async move { Ok::<_, Infallible>(http::Response::new(ChannelBody(rx))) }
    });
    // The service stays alive throughout, as a server's does.
    let service = tower::Layer::layer(&h.layer(), service);
    let request = Request::builder()
        .method("POST")
        .uri("/stream")
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let post_https = |value| vec![("POST".to_owned(), "https".to_owned(), value)];
    assert_eq!(active_requests(&h), post_https(1.0));
    let mut body = response.into_body();
    drop(tx);
    assert!(body.frame().await.is_none());
    assert_eq!(active_requests(&h), post_https(0.0));
    drop(service);
}

// Guards the per-request lookup of the global tracer: a layer built before
// `set_tracer_provider` (or before it is called again) must start its spans
// with the provider installed at the time of the request.
#[tokio::test]
async fn spans_go_to_the_global_tracer_provider_of_the_moment() {
    let _global = GLOBAL_PROVIDERS.lock().await;
    let h = Harness::new();
    let layer = TraceLayer::new()
        .with_meter_provider(&h.meter_provider)
        .with_propagator(TraceContextPropagator::new())
        .with_excluded_urls([]);
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(layer);
    let provider = |exporter: &InMemorySpanExporter| {
        SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build()
    };
    let (first, second) = (
        InMemorySpanExporter::default(),
        InMemorySpanExporter::default(),
    );
    // Kept here: a provider dropped by the global shuts its exporter down,
    // which forgets the spans.
    let providers = [provider(&first), provider(&second)];

    opentelemetry::global::set_tracer_provider(providers[0].clone());
    send(&app, get_req("/x")).await;
    opentelemetry::global::set_tracer_provider(providers[1].clone());
    send(&app, get_req("/x")).await;
    send(&app, get_req("/x")).await;

    assert_eq!(first.get_finished_spans().unwrap().len(), 1);
    assert_eq!(second.get_finished_spans().unwrap().len(), 2);
}

#[tokio::test]
async fn a_route_function_names_routes_for_plain_services() {
    let h = Harness::new();
    let service = tower::service_fn(|_: Request<RequestBody<Body>>| async {
        Ok::<_, Infallible>(http::Response::new(Body::from("ok")))
    });
    let layer = h.layer().with_route(|parts| {
        parts
            .uri
            .path()
            .starts_with("/items/")
            .then(|| "/items/:id".to_owned())
    });
    let service = tower::Layer::layer(&layer, service);
    service.clone().oneshot(get_req("/items/9")).await.unwrap();
    service.oneshot(get_req("/other")).await.unwrap();
    let names: Vec<_> = h.spans().into_iter().map(|s| s.name.into_owned()).collect();
    assert_eq!(names, ["GET /items/:id", "GET"]);
}

/// A small deterministic generator, so a failure reproduces exactly.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A header value: a valid sample with a few bytes replaced by any byte
    /// a header may carry, or cut short, or pure noise.
    fn value(&mut self, samples: &[&str]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"0123456789abcdefABCDEF-=;,\"[]:_%@ \t/ff00\x80\xff";
        let mut bytes = samples[self.below(samples.len())].as_bytes().to_vec();
        match self.below(4) {
            0 => {
                let len = self.below(bytes.len() + 1);
                bytes.truncate(len);
            }
            1 => {
                bytes = (0..self.below(80))
                    .map(|_| ALPHABET[self.below(ALPHABET.len())])
                    .collect();
            }
            _ => {
                for _ in 0..=self.below(4) {
                    if !bytes.is_empty() {
                        let at = self.below(bytes.len());
                        bytes[at] = ALPHABET[self.below(ALPHABET.len())];
                    }
                }
            }
        }
        bytes
    }
}

// Guards against a panic (or a lost response) on any malformed context or
// forwarding header: the request must be answered and traced either way.
#[tokio::test]
async fn malformed_headers_never_panic_or_break_the_request() {
    // Always on: a mutated traceparent may validly say "not sampled".
    let h = Harness::with_sampler(Sampler::AlwaysOn);
    let app = app(&h);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let headers: [(&str, &[&str]); 8] = [
        (
            "traceparent",
            &[
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra",
            ],
        ),
        ("tracestate", &["a=1,b@c=2", "x=y,,z=%20"]),
        ("baggage", &["k=v;meta=1,k2=v%202", "a=b"]),
        (
            "forwarded",
            &[
                "for=\"[2001:db8::1]:80\";host=h:1;proto=https, for=1.2.3.4",
                "for=_x",
            ],
        ),
        ("x-forwarded-for", &["1.2.3.4:5, 6.7.8.9", "[::1]:9"]),
        ("x-forwarded-host", &["example.com:8080", "[::1]"]),
        ("host", &["api.example:443", "[fe80::1]:99999"]),
        ("user-agent", &["curl/8.0", ""]),
    ];
    let iterations = 2_000;
    for _ in 0..iterations {
        let mut request = get_req("/users/5");
        for (name, samples) in &headers {
            if rng.below(3) == 0 {
                continue;
            }
            if let Ok(value) = http::HeaderValue::from_bytes(&rng.value(samples)) {
                request.headers_mut().append(*name, value);
            }
        }
        let (status, body) = send(&app, request).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"user"[..]));
    }
    assert_eq!(h.spans().len(), iterations);
}

// Only four signature keys were hidden: `api_key`, `token` and the like
// reached `url.query` (and so the store and the collector) as they were.
#[tokio::test]
async fn credential_query_values_never_reach_url_query() {
    let h = Harness::new();
    let app = Router::new()
        .route("/search", get(|| async { "found" }))
        .layer(
            h.layer()
                .with_redacted_query_keys(["Voucher"])
                .with_request_headers(["cookie", "x-tenant"], [])
                .with_safe_headers(["x-tenant"]),
        );
    let request = Request::builder()
        .uri("/search?q=tea&api_key=k-1&Token=t-2&voucher=v-3&page_token=p-4")
        .header("cookie", "session=c-5")
        .header("x-tenant", "acme")
        .body(Body::empty())
        .unwrap();
    send(&app, request).await;
    let span = h.only_span();
    assert_eq!(
        attr_str(&span, "url.query").as_deref(),
        Some("q=tea&api_key=REDACTED&Token=REDACTED&voucher=REDACTED&page_token=p-4")
    );
    // Captured without a sanitise list: the cookie is hidden all the same.
    assert_eq!(
        attr(&span, "http.request.header.cookie"),
        Some(&strings(&["[REDACTED]"]))
    );
    assert_eq!(
        attr(&span, "http.request.header.x-tenant"),
        Some(&strings(&["acme"]))
    );
    let everything = format!("{span:?}");
    for secret in ["k-1", "t-2", "v-3", "c-5"] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
}
