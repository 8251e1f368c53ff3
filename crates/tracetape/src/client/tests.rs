//! Unit tests of the client core through both integrations: a real axum
//! server on 127.0.0.1:0, called with hyper-util's client under the tower
//! layer and with reqwest under the middleware; spans and metrics read from
//! the SDK's in-memory exporters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{Extensions, Request};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{Value as Json, json};
use tokio::sync::Notify;
use tower::{Layer, ServiceBuilder, ServiceExt};

use super::{
    CountResendsLayer, FollowRedirects, RedirectError, ResendCount, TraceLayer, TracingMiddleware,
    UrlTemplate,
};
use crate::propagation::{BaggagePropagator, TraceContextPropagator};
use crate::test_support::{GLOBAL_PROVIDERS, Harness, attr_i64, attr_str};

/// The server the clients call. Every answer that has a body echoes the
/// propagation headers and `x-custom` it received.
#[derive(Clone, Default)]
struct Upstream {
    /// Requests to `/flaky` so far: the first of each run is a 503.
    flaky: Arc<AtomicUsize>,
    /// Told when `/hang` has received its request.
    hanging: Arc<Notify>,
}

fn echo(headers: &HeaderMap) -> Json {
    let all = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    json!({
        "traceparent": all("traceparent"),
        "baggage": all("baggage"),
        "x-custom": all("x-custom"),
    })
}

async fn serve(upstream: Upstream) -> SocketAddr {
    let app = Router::new()
        .route(
            "/items/{id}",
            get(|headers: HeaderMap| async move { axum::Json(echo(&headers)) }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>, headers: HeaderMap| async move {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
                (status, axum::Json(echo(&headers)))
            }),
        )
        .route(
            "/flaky",
            any(
                |State(up): State<Upstream>, headers: HeaderMap| async move {
                    if up.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        axum::Json(echo(&headers)).into_response()
                    }
                },
            ),
        )
        .route(
            "/redirect",
            get(|| async {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", "/items/1")
                    .body(axum::body::Body::empty())
                    .unwrap()
            }),
        )
        .route(
            "/hang",
            get(|State(up): State<Upstream>| async move {
                up.hanging.notify_one();
                std::future::pending::<()>().await;
            }),
        )
        .with_state(upstream);
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

impl Harness {
    fn client_layer(&self) -> TraceLayer {
        TraceLayer::from_lookup(|_| None)
            .with_tracer_provider(self.tracer_provider.clone())
            .with_meter_provider(&self.meter_provider)
            .with_propagator(propagator())
    }

    fn only_client_span(&self) -> SpanData {
        let mut spans: Vec<SpanData> = self
            .spans()
            .into_iter()
            .filter(|s| s.span_kind == SpanKind::Client)
            .collect();
        assert_eq!(spans.len(), 1, "{spans:#?}");
        spans.remove(0)
    }

    fn client_spans(&self) -> Vec<SpanData> {
        let mut spans: Vec<SpanData> = self
            .spans()
            .into_iter()
            .filter(|s| s.span_kind == SpanKind::Client)
            .collect();
        spans.sort_by_key(|s| s.start_time);
        spans
    }
}

fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The two integrations, driven the same way.
#[derive(Debug, Clone, Copy)]
enum Via {
    Tower,
    Reqwest,
}

const BOTH: [Via; 2] = [Via::Tower, Via::Reqwest];

/// What came back: the status and the echoed headers, or the error text.
type Sent = Result<(StatusCode, Json), String>;

fn get_req(url: String) -> Request<String> {
    Request::get(url).body(String::new()).unwrap()
}

async fn send(via: Via, layer: &TraceLayer, request: Request<String>) -> Sent {
    match via {
        Via::Tower => {
            let client =
                Client::builder(TokioExecutor::new()).build_http::<super::RequestBody<String>>();
            let response = layer
                .layer(client)
                .oneshot(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Ok((status, serde_json::from_slice(&body).unwrap_or(Json::Null)))
        }
        Via::Reqwest => {
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(TracingMiddleware::from(layer.clone()))
                .build();
            send_reqwest(&client, request).await
        }
    }
}

async fn send_reqwest(
    client: &reqwest_middleware::ClientWithMiddleware,
    request: Request<String>,
) -> Sent {
    let (mut parts, body) = request.into_parts();
    let mut extensions = std::mem::take(&mut parts.extensions);
    let request = reqwest::Request::try_from(Request::from_parts(parts, body)).unwrap();
    let response = client
        .execute_with_extensions(request, &mut extensions)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.unwrap();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Json::Null)))
}

#[tokio::test]
async fn a_call_is_one_client_span_with_the_start_and_end_attributes() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let mut request = Request::get(format!("http://{addr}/items/7?id=1&sig=secret"))
            .header("user-agent", "tracetape-test/1")
            .body(String::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(UrlTemplate::new("/items/{id}"));
        let (status, _) = send(via, &h.client_layer(), request).await.unwrap();
        assert_eq!(status, StatusCode::OK);

        let span = h.only_client_span();
        assert_eq!(span.name, "GET /items/{id}", "{via:?}");
        assert_eq!(span.status, Status::Unset, "{via:?}");
        let s = |key| attr_str(&span, key);
        assert_eq!(s("http.request.method").as_deref(), Some("GET"));
        assert_eq!(
            s("url.full"),
            Some(format!("http://{addr}/items/7?id=1&sig=REDACTED")),
            "{via:?}"
        );
        assert_eq!(s("server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attr_i64(&span, "server.port"), Some(i64::from(addr.port())));
        assert_eq!(s("url.scheme").as_deref(), Some("http"));
        assert_eq!(s("network.protocol.version").as_deref(), Some("1.1"));
        assert_eq!(
            s("user_agent.original").as_deref(),
            Some("tracetape-test/1")
        );
        assert_eq!(s("url.template").as_deref(), Some("/items/{id}"));
        assert_eq!(attr_i64(&span, "http.response.status_code"), Some(200));
        assert_eq!(s("error.type"), None);
        assert_eq!(attr_i64(&span, "http.request.resend_count"), None);
    }
}

#[tokio::test]
async fn without_a_template_the_span_is_named_by_the_method_and_unknown_methods_are_other() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        send(
            via,
            &h.client_layer(),
            get_req(format!("http://{addr}/items/1")),
        )
        .await
        .unwrap();
        let request = Request::builder()
            .method("PURGE")
            .uri(format!("http://user:pw@{addr}/items/1"))
            .body(String::new())
            .unwrap();
        send(via, &h.client_layer(), request).await.unwrap();
        let spans = h.client_spans();
        assert_eq!(spans[0].name, "GET", "{via:?}");
        assert_eq!(spans[1].name, "HTTP", "{via:?}");
        assert_eq!(
            attr_str(&spans[1], "http.request.method").as_deref(),
            Some("_OTHER")
        );
        assert_eq!(
            attr_str(&spans[1], "http.request.method_original").as_deref(),
            Some("PURGE")
        );
        assert_eq!(
            attr_str(&spans[1], "url.full"),
            Some(format!("http://REDACTED:REDACTED@{addr}/items/1")),
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn client_and_server_error_statuses_are_errors() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        for (code, error) in [
            (200, None),
            (302, None),
            (404, Some("404")),
            (503, Some("503")),
        ] {
            let h = Harness::new();
            let url = format!("http://{addr}/status/{code}");
            let (status, _) = send(via, &h.client_layer(), get_req(url)).await.unwrap();
            assert_eq!(status.as_u16(), code);
            let span = h.only_client_span();
            assert_eq!(
                attr_i64(&span, "http.response.status_code"),
                Some(i64::from(code))
            );
            assert_eq!(
                attr_str(&span, "error.type").as_deref(),
                error,
                "{via:?} {code}"
            );
            let expected = if error.is_some() {
                Status::error("")
            } else {
                Status::Unset
            };
            assert_eq!(span.status, expected, "{via:?} {code}");
            assert!(span.events.is_empty());
        }
    }
}

#[tokio::test]
async fn a_refused_connection_is_an_error_with_an_exception_event() {
    let closed = closed_port().await;
    for via in BOTH {
        let h = Harness::new();
        let sent = send(
            via,
            &h.client_layer(),
            get_req(format!("http://{closed}/x")),
        )
        .await;
        assert!(sent.is_err(), "{via:?}");
        let span = h.only_client_span();
        assert_eq!(
            attr_str(&span, "error.type").as_deref(),
            Some("connect"),
            "{via:?}"
        );
        assert!(matches!(span.status, Status::Error { .. }), "{via:?}");
        assert_eq!(attr_i64(&span, "http.response.status_code"), None);
        let event = span.events.iter().find(|e| e.name == "exception").unwrap();
        let message = event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "exception.message")
            .map(|kv| kv.value.as_str().into_owned())
            .unwrap();
        assert!(!message.is_empty());
    }
}

#[tokio::test]
async fn a_timeout_is_an_error_of_kind_timeout() {
    let addr = serve(Upstream::default()).await;
    let url = format!("http://{addr}/hang");
    // tower: the timeout below the traced layer fails the attempt.
    let h = Harness::new();
    let client = Client::builder(TokioExecutor::new()).build_http::<super::RequestBody<String>>();
    let service = ServiceBuilder::new()
        .layer(h.client_layer())
        .timeout(Duration::from_millis(100))
        .service(client);
    assert!(service.oneshot(get_req(url.clone())).await.is_err());
    let span = h.only_client_span();
    assert_eq!(attr_str(&span, "error.type").as_deref(), Some("timeout"));
    assert!(matches!(span.status, Status::Error { .. }));

    // reqwest: its own per-request timeout.
    let h = Harness::new();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::from(h.client_layer()))
        .build();
    let sent = client
        .get(&url)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(sent.is_err());
    let span = h.only_client_span();
    assert_eq!(attr_str(&span, "error.type").as_deref(), Some("timeout"));
}

#[tokio::test]
async fn a_caller_that_drops_the_request_ends_the_span_without_error() {
    for via in BOTH {
        let upstream = Upstream::default();
        let addr = serve(upstream.clone()).await;
        let h = Harness::new();
        let layer = h.client_layer();
        let request = get_req(format!("http://{addr}/hang"));
        let call = tokio::spawn(async move { send(via, &layer, request).await });
        // The server has the request: the attempt is in flight.
        upstream.hanging.notified().await;
        call.abort();
        assert!(call.await.unwrap_err().is_cancelled());
        let span = h.only_client_span();
        assert_eq!(span.status, Status::Unset, "{via:?}");
        assert_eq!(attr_str(&span, "error.type"), None);
        assert_eq!(attr_i64(&span, "http.response.status_code"), None);
    }
}

/// Retries a 503 once, as a user's tower retry policy would.
#[derive(Clone)]
pub(super) struct RetryOnce(pub(super) usize);

type TowerResponse = http::Response<super::ResponseBody<hyper::body::Incoming>>;

impl<B: Clone> tower::retry::Policy<Request<B>, TowerResponse, super::BoxError> for RetryOnce {
    type Future = std::future::Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<B>,
        result: &mut Result<TowerResponse, super::BoxError>,
    ) -> Option<Self::Future> {
        let unavailable = matches!(result, Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE);
        (unavailable && self.0 > 0).then(|| {
            self.0 -= 1;
            std::future::ready(())
        })
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        let mut clone = Request::new(request.body().clone());
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.headers_mut() = request.headers().clone();
        Some(clone)
    }
}

/// Runs the rest of the chain again after a 503, with the same
/// extensions, as reqwest-retry does.
pub(super) struct RetryMiddleware;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for RetryMiddleware {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let again = request.try_clone().unwrap();
        let first = next.clone().run(request, extensions).await?;
        if first.status() != StatusCode::SERVICE_UNAVAILABLE {
            return Ok(first);
        }
        next.run(again, extensions).await
    }
}

fn resend_counts(h: &Harness) -> Vec<(Option<i64>, Option<i64>)> {
    h.client_spans()
        .iter()
        .map(|s| {
            (
                attr_i64(s, "http.response.status_code"),
                attr_i64(s, "http.request.resend_count"),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_retry_and_redirect_is_its_own_span_with_a_resend_count() {
    // tower: retries below a CountResendsLayer.
    let addr = serve(Upstream::default()).await;
    let h = Harness::new();
    let client = Client::builder(TokioExecutor::new()).build_http::<super::RequestBody<String>>();
    let service = ServiceBuilder::new()
        .layer(CountResendsLayer::new())
        .retry(RetryOnce(1))
        .layer(h.client_layer())
        .service(client);
    let response = service
        .oneshot(get_req(format!("http://{addr}/flaky")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(resend_counts(&h), [(Some(503), None), (Some(200), Some(1))]);

    // tower: redirects followed by tower-http's layer.
    let h = Harness::new();
    let client = Client::builder(TokioExecutor::new()).build_http::<super::RequestBody<String>>();
    let service = ServiceBuilder::new()
        .layer(CountResendsLayer::new())
        .layer(tower_http::follow_redirect::FollowRedirectLayer::new())
        .layer(h.client_layer())
        .service(client);
    let response = service
        .oneshot(get_req(format!("http://{addr}/redirect")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(resend_counts(&h), [(Some(302), None), (Some(200), Some(1))]);
    let spans = h.client_spans();
    assert!(
        attr_str(&spans[1], "url.full")
            .unwrap()
            .ends_with("/items/1")
    );

    // reqwest: retry middleware that runs the rest of the chain again.
    let addr = serve(Upstream::default()).await;
    let h = Harness::new();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware)
        .with(TracingMiddleware::from(h.client_layer()))
        .build();
    let response = client
        .get(format!("http://{addr}/flaky"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(resend_counts(&h), [(Some(503), None), (Some(200), Some(1))]);

    // reqwest: redirects followed above the tracing middleware.
    let h = Harness::new();
    let reqwest = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest)
        .with(FollowRedirects::new())
        .with(TracingMiddleware::from(h.client_layer()))
        .build();
    let response = client
        .get(format!("http://{addr}/redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(resend_counts(&h), [(Some(302), None), (Some(200), Some(1))]);

    // A count the caller sets wins, for both.
    for via in BOTH {
        let h = Harness::new();
        let mut request = get_req(format!("http://{addr}/items/1"));
        request.extensions_mut().insert(ResendCount(3));
        send(via, &h.client_layer(), request).await.unwrap();
        assert_eq!(resend_counts(&h), [(Some(200), Some(3))], "{via:?}");
    }
}

#[tokio::test]
async fn the_client_span_is_the_child_of_the_current_span_and_the_parent_of_what_it_injects() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let tracer = h.tracer_provider.tracer("test");
        let parent = tracer.start("handler");
        let cx = Context::current_with_span(parent).with_baggage([KeyValue::new("tenant", "acme")]);
        let parent_id = cx.span().span_context().span_id();
        let trace_id = cx.span().span_context().trace_id();
        let mut request = Request::get(format!("http://{addr}/items/1"))
            .header("x-custom", "one")
            .header("x-custom", "two")
            .header("baggage", "caller=1")
            .body(String::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(UrlTemplate::new("/items/{id}"));
        let layer = h.client_layer();
        let sent = {
            use opentelemetry::context::FutureExt;
            send(via, &layer, request).with_context(cx.clone()).await
        };
        let (_, echoed) = sent.unwrap();
        cx.span().end();

        let span = h.only_client_span();
        assert_eq!(span.parent_span_id, parent_id, "{via:?}");
        assert_eq!(span.span_context.trace_id(), trace_id);
        let traceparent = echoed["traceparent"][0].as_str().unwrap();
        assert_eq!(
            traceparent,
            format!("00-{trace_id}-{}-01", span.span_context.span_id()),
            "{via:?}"
        );
        // The caller's headers stay, both values of a repeated one too;
        // its baggage and the context's travel side by side.
        assert_eq!(echoed["x-custom"], json!(["one", "two"]), "{via:?}");
        assert_eq!(
            echoed["baggage"],
            json!(["caller=1", "tenant=acme"]),
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn hooks_see_the_attempt_and_a_panicking_hook_changes_nothing() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let layer = h
            .client_layer()
            .with_on_request(|span, request| {
                span.set_attribute(KeyValue::new("hook.url", request.url.to_owned()));
            })
            .with_on_response(|span, outcome| {
                let status = outcome.map(|r| r.status.as_u16()).unwrap_or(0);
                span.set_attribute(KeyValue::new("hook.status", i64::from(status)));
            });
        send(via, &layer, get_req(format!("http://{addr}/items/1")))
            .await
            .unwrap();
        let span = h.only_client_span();
        assert_eq!(
            attr_str(&span, "hook.url"),
            Some(format!("http://{addr}/items/1"))
        );
        assert_eq!(attr_i64(&span, "hook.status"), Some(200));

        let h = Harness::new();
        let layer = h
            .client_layer()
            .with_on_request(|_, _| panic!("request hook"))
            .with_on_response(|_, _| panic!("response hook"))
            .with_url_filter(|_| panic!("url filter"))
            .with_exclude(|_| panic!("exclude"));
        let (status, echoed) = send(via, &layer, get_req(format!("http://{addr}/items/1")))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{via:?}");
        assert_eq!(echoed["traceparent"].as_array().unwrap().len(), 1);
        let span = h.only_client_span();
        assert_eq!(attr_i64(&span, "http.response.status_code"), Some(200));
        // A filter that panicked leaves the redacted URL.
        assert_eq!(
            attr_str(&span, "url.full"),
            Some(format!("http://{addr}/items/1"))
        );
    }
}

#[tokio::test]
async fn the_url_filter_rewrites_url_full_and_redaction_still_applies() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let layer = h
            .client_layer()
            .with_url_filter(|url| url.replace("/items/42", "/items/{id}"));
        let url = format!("http://u:p@{addr}/items/42?Signature=s");
        send(via, &layer, get_req(url)).await.unwrap();
        let span = h.only_client_span();
        assert_eq!(
            attr_str(&span, "url.full"),
            Some(format!(
                "http://REDACTED:REDACTED@{addr}/items/{{id}}?Signature=REDACTED"
            )),
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn excluded_requests_get_no_span_no_metric_and_no_header() {
    let addr = serve(Upstream::default()).await;
    let env = |side: Option<&'static str>, shared: Option<&'static str>| {
        move |name: &str| match name {
            "TRACETAPE_CLIENT_EXCLUDED_URLS" => side.map(str::to_owned),
            "TRACETAPE_EXCLUDED_URLS" => shared.map(str::to_owned),
            _ => None,
        }
    };
    for via in BOTH {
        let cases: [(&str, MakeLayer); 4] = [
            (
                "predicate",
                Box::new(|h: &Harness| {
                    h.client_layer()
                        .with_exclude(|request| request.url.contains("/items/9"))
                }),
            ),
            (
                "side variable",
                Box::new(move |h: &Harness| {
                    let layer = TraceLayer::from_lookup(env(Some("/items/9$"), Some("nothing")));
                    with_harness(layer, h)
                }),
            ),
            (
                "shared variable",
                Box::new(move |h: &Harness| {
                    let layer = TraceLayer::from_lookup(env(None, Some("^http://[^/]+/items/9")));
                    with_harness(layer, h)
                }),
            ),
            (
                "code",
                Box::new(|h: &Harness| h.client_layer().with_excluded_urls(["items/9"])),
            ),
        ];
        for (case, layer) in cases {
            let h = Harness::new();
            let layer = layer(&h);
            let (_, echoed) = send(via, &layer, get_req(format!("http://{addr}/items/9")))
                .await
                .unwrap();
            assert_eq!(echoed["traceparent"], json!([]), "{via:?} {case}");
            assert!(h.spans().is_empty(), "{via:?} {case}");
            assert!(h.metric_points().is_empty(), "{via:?} {case}");
            // Other URLs are still traced.
            send(via, &layer, get_req(format!("http://{addr}/items/1")))
                .await
                .unwrap();
            assert_eq!(h.client_spans().len(), 1, "{via:?} {case}");
        }
    }
}

type MakeLayer = Box<dyn Fn(&Harness) -> TraceLayer>;

fn with_harness(layer: TraceLayer, h: &Harness) -> TraceLayer {
    layer
        .with_tracer_provider(h.tracer_provider.clone())
        .with_meter_provider(&h.meter_provider)
        .with_propagator(propagator())
}

#[tokio::test]
async fn captured_headers_are_recorded_and_sanitised() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let layer = h
            .client_layer()
            .with_request_headers(["x-custom", "authorization"], ["authorization"])
            .with_response_headers(["content-type"], []);
        let request = Request::get(format!("http://{addr}/items/1"))
            .header("x-custom", "a")
            .header("authorization", "Bearer secret")
            .body(String::new())
            .unwrap();
        send(via, &layer, request).await.unwrap();
        let span = h.only_client_span();
        let array = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(
            array("http.request.header.x-custom").as_deref(),
            Some("[\"a\"]"),
            "{via:?}"
        );
        assert_eq!(
            array("http.request.header.authorization").as_deref(),
            Some("[\"[REDACTED]\"]")
        );
        assert_eq!(
            array("http.response.header.content-type").as_deref(),
            Some("[\"application/json\"]"),
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn request_duration_is_recorded_with_the_low_cardinality_attributes() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let layer = h.client_layer();
        send(via, &layer, get_req(format!("http://{addr}/items/1")))
            .await
            .unwrap();
        send(via, &layer, get_req(format!("http://{addr}/status/500")))
            .await
            .unwrap();
        let mut points: Vec<(Vec<KeyValue>, f64)> = h
            .metric_points()
            .into_iter()
            .filter(|(name, _, _)| name == "http.client.request.duration")
            .map(|(_, mut attributes, count)| {
                attributes.sort_by(|a, b| a.key.cmp(&b.key));
                (attributes, count)
            })
            .collect();
        points.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
        let port = i64::from(addr.port());
        let expected = |status: i64, error: Option<&'static str>| {
            let mut attributes = vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", status),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", port),
                KeyValue::new("url.scheme", "http"),
            ];
            if let Some(error) = error {
                attributes.push(KeyValue::new("error.type", error));
            }
            attributes.sort_by(|a, b| a.key.cmp(&b.key));
            (attributes, 1.0)
        };
        let mut want = vec![expected(200, None), expected(500, Some("500"))];
        want.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
        assert_eq!(points, want, "{via:?}");
    }
}

#[tokio::test]
async fn spans_go_to_the_global_tracer_provider_installed_after_the_client_was_built() {
    let _global = GLOBAL_PROVIDERS.lock().await;
    let addr = serve(Upstream::default()).await;
    let h = Harness::new();
    // No tracer provider set in code: the global one, looked up per call.
    let layer = TraceLayer::from_lookup(|_| None)
        .with_meter_provider(&h.meter_provider)
        .with_propagator(propagator());
    let tower_client = layer
        .layer(Client::builder(TokioExecutor::new()).build_http::<super::RequestBody<String>>());
    let reqwest_client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::from(layer.clone()))
        .build();

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let url = format!("http://{addr}/items/1");
    tower_client.oneshot(get_req(url.clone())).await.unwrap();
    send_reqwest(&reqwest_client, get_req(url)).await.unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.span_kind == SpanKind::Client));
    assert!(
        spans
            .iter()
            .all(|s| s.instrumentation_scope.name() == "tracetape")
    );
}

#[tokio::test]
async fn suppressed_telemetry_is_not_traced_or_propagated() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let layer = h.client_layer();
        let sent = {
            use opentelemetry::context::FutureExt;
            send(via, &layer, get_req(format!("http://{addr}/items/1")))
                .with_context(Context::current().with_telemetry_suppressed())
                .await
        };
        let (_, echoed) = sent.unwrap();
        assert_eq!(echoed["traceparent"], json!([]), "{via:?}");
        assert!(h.spans().is_empty(), "{via:?}");
    }
}

#[tokio::test]
async fn followed_redirects_change_method_drop_credentials_across_origins_and_stop_at_the_limit() {
    // One origin redirects to another (127.0.0.1 vs localhost) that echoes.
    let target = serve(Upstream::default()).await;
    let to_other = format!("http://localhost:{}/items/1", target.port());
    let redirector = Router::new()
        .route(
            "/see-other",
            any(|| async { (StatusCode::SEE_OTHER, [("location", "/same")]) }),
        )
        .route(
            "/same",
            any(|method: http::Method, headers: HeaderMap| async move {
                axum::Json(json!({
                    "method": method.as_str(),
                    "authorization": headers.contains_key("authorization"),
                    "content-type": headers.contains_key("content-type"),
                }))
            }),
        )
        .route(
            "/elsewhere",
            any(move || {
                let to = to_other.clone();
                async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]) }
            }),
        )
        .route(
            "/loop",
            any(|| async { (StatusCode::FOUND, [("location", "/loop")]) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirector).await });
    let reqwest = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest)
        .with(FollowRedirects::with_limit(3))
        .build();

    // 303 after a POST: a GET without the body, credentials kept in-origin.
    let seen: Json = client
        .post(format!("http://{addr}/see-other"))
        .header("authorization", "Bearer t")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!({"method": "GET", "authorization": true, "content-type": false})
    );

    // 307 to another origin: the credentials stay behind.
    let response = client
        .get(format!("http://{addr}/elsewhere"))
        .header("authorization", "Bearer t")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(response.url().host_str(), Some("localhost"));
    let echoed: Json = response.json().await.unwrap();
    assert_eq!(echoed["x-custom"], json!(["kept"]));

    // A loop ends with an error naming the limit, not a hang.
    let error = client
        .get(format!("http://{addr}/loop"))
        .send()
        .await
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("expected the redirect error, got {error:?}");
    };
    let error = error.downcast_ref::<RedirectError>().unwrap();
    assert!(
        matches!(error, RedirectError::TooMany { limit: 3, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_call_outside_any_span_starts_a_trace_flagged_random() {
    let addr = serve(Upstream::default()).await;
    for via in BOTH {
        let h = Harness::new();
        let (_, echoed) = send(
            via,
            &h.client_layer(),
            get_req(format!("http://{addr}/items/1")),
        )
        .await
        .unwrap();
        let span = h.only_client_span();
        assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        let traceparent = echoed["traceparent"][0].as_str().unwrap();
        assert_eq!(
            traceparent,
            format!(
                "00-{}-{}-03",
                span.span_context.trace_id(),
                span.span_context.span_id()
            ),
            "{via:?}: sampled and random-trace-id"
        );
    }
}

// `api_key`, `token` and passwords reached `url.full` as they were, and
// reqwest's error message quoted the URL with them on the span.
#[tokio::test]
async fn credential_query_values_never_reach_url_full_or_an_error_message() {
    let addr = serve(Upstream::default()).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for via in BOTH {
        let h = Harness::new();
        let layer = h.client_layer().with_redacted_query_keys(["voucher"]);
        let query = "q=tea&api_key=k-1&access_token=t-2&voucher=v-3";
        let url = format!("http://user:pw-4@{addr}/items/1?{query}");
        send(via, &layer, get_req(url)).await.unwrap();
        let span = h.only_client_span();
        assert_eq!(
            attr_str(&span, "url.full"),
            Some(format!(
                "http://REDACTED:REDACTED@{addr}/items/1?q=tea&api_key=REDACTED\
                 &access_token=REDACTED&voucher=REDACTED"
            )),
            "{via:?}"
        );

        let h = Harness::new();
        let layer = h.client_layer();
        let url = format!("http://{closed}/items/1?token=t-5");
        assert!(send(via, &layer, get_req(url)).await.is_err(), "{via:?}");
        let span = h.only_client_span();
        let everything = format!("{span:?}");
        assert!(everything.contains("exception"), "{via:?}: {everything}");
        for secret in ["k-1", "t-2", "v-3", "pw-4", "t-5"] {
            assert!(
                !everything.contains(secret),
                "{via:?}: {secret} in {everything}"
            );
        }
        if matches!(via, Via::Reqwest) {
            // reqwest's message names the URL: the redacted one.
            assert!(everything.contains("token=REDACTED"), "{everything}");
        }
    }
}
