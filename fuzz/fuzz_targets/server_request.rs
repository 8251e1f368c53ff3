//! A whole request through the server layer, with whatever method, target
//! and headers a client can send: trace context, baggage and B3,
//! `Forwarded` and `X-Forwarded-*`, `Host`, `User-Agent`, captured
//! headers. The layer must answer every request its inner service answers,
//! with the inner service's status, and never panic.
#![no_main]

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::{ServiceBuilder, ServiceExt as _};
use tracetape::propagation::{B3Propagator, BaggagePropagator, TraceContextPropagator};
use tracetape::server::TraceLayer;

/// The header each field of the input after the method and the target
/// goes to, in turn.
const NAMES: [&str; 14] = [
    "host",
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "user-agent",
    "content-type",
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
];

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0);
    let method = fields.next().unwrap_or_default();
    let target = fields.next().unwrap_or_default();
    let mut builder = Request::builder().method(method).uri(target);
    for (n, field) in fields.enumerate() {
        if let Ok(value) = HeaderValue::from_bytes(field) {
            builder = builder.header(HeaderName::from_static(NAMES[n % NAMES.len()]), value);
        }
    }
    let Ok(request) = builder.body(Full::new(Bytes::from_static(b"{}"))) else {
        return;
    };

    let propagator = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
        Box::new(B3Propagator::new()),
    ]);
    let layer = TraceLayer::new()
        .with_tracer_provider(SdkTracerProvider::builder().build())
        .with_propagator(propagator)
        .with_request_headers(
            ["x-request-id", "user-agent", "forwarded"],
            ["x-request-id"],
        )
        .with_response_headers(["content-type"], []);
    let service = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|_request| async {
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            *response.status_mut() = StatusCode::ACCEPTED;
            Ok::<_, Infallible>(response)
        });
    let response = futures_executor::block_on(service.oneshot(request)).expect("infallible");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body = futures_executor::block_on(response.into_body().collect()).expect("infallible");
    assert_eq!(body.to_bytes(), Bytes::from_static(b"ok"));
});
