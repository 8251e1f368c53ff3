//! What record mode keeps out of tracing: the request and response
//! payloads live only in recordings, never on the spans the tracing
//! exporter sees, whatever the recording holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use opentelemetry::Value;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

use crate::client::TracingMiddleware;
use crate::record::RecordSettings;
use crate::record::testing::Collected;
use crate::test_support::Harness;

/// Markers that stand for payload: in headers, bodies and an inbound
/// query, both ways.
const MARKERS: [&str; 5] = [
    "req-body-marker",
    "resp-body-marker",
    "req-header-marker",
    "call-body-marker",
    "query-marker",
];

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn value_text(value: &Value) -> String {
    value.as_str().into_owned()
}

#[tokio::test]
async fn payloads_are_recorded_but_never_put_on_spans() {
    let h = Harness::new();
    let collected = Collected::new("front");
    let recorder = collected.recorder(&RecordSettings::default());
    let backend = serve(Router::new().route(
        "/store",
        post(|body: Bytes| async move { [b"stored ".as_slice(), &body].concat() }),
    ))
    .await;
    let client: ClientWithMiddleware = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::from(
            crate::client::TraceLayer::from_lookup(|_| None)
                .with_tracer_provider(h.tracer_provider.clone())
                .with_meter_provider(&h.meter_provider)
                .with_propagator(TraceContextPropagator::new()),
        ))
        .build();
    let front = Router::new()
        .route(
            "/orders",
            post(
                |State((client, backend)): State<(ClientWithMiddleware, SocketAddr)>,
                 _body: Bytes| async move {
                    let stored = client
                        .post(format!("http://{backend}/store"))
                        .body("call-body-marker")
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    format!("resp-body-marker {stored}")
                },
            ),
        )
        .with_state((client, backend))
        .layer(
            crate::server::TraceLayer::new()
                .with_tracer_provider(h.tracer_provider.clone())
                .with_meter_provider(&h.meter_provider)
                .with_propagator(TraceContextPropagator::new())
                .with_recorder(recorder),
        );
    let front = serve(front).await;
    let answer = reqwest::Client::new()
        .post(format!("http://{front}/orders?q=query-marker"))
        .header("x-note", "req-header-marker")
        .body("req-body-marker")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "resp-body-marker stored call-body-marker");

    // The recording holds every marker...
    let recording = collected.wait_for_one().await;
    let recorded = format!("{recording:?}");
    let spans = h.wait_until(|spans| spans.len() >= 2).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for marker in MARKERS {
        // `Bytes` debug-prints printable ASCII as is.
        assert!(recorded.contains(marker), "{marker} not recorded");
    }
    // ...and no span carries any of them, nor any recording attribute.
    // (`url.query` on the SERVER span is the semantic conventions' own
    // attribute, and the query marker is in it; that is tracing, not
    // payload capture, and `url_filter`/query redaction govern it.)
    for span in &spans {
        for attribute in &span.attributes {
            let key = attribute.key.as_str();
            assert!(
                !key.starts_with("tracetape."),
                "{key} on span {}",
                span.name
            );
            let text = value_text(&attribute.value);
            for marker in MARKERS.iter().filter(|m| **m != "query-marker") {
                assert!(!text.contains(marker), "{marker} in {key} on {}", span.name);
            }
        }
        for event in span.events.iter() {
            assert!(!format!("{event:?}").contains("marker"), "{event:?}");
        }
    }
}
