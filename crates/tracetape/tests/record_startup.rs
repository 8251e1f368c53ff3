//! Start-up calls in record mode: telemetry set up with `tracetape::init`
//! semantics from an (injected) environment with `TRACETAPE_MODE=record`,
//! and outbound calls made before the service has received any request,
//! through client layers that have no recorder of their own. Each becomes
//! a background recording of the process-wide recorder.
//!
//! Record mode installs that recorder for the whole process, so this is a
//! test target of its own with a single test.

#![cfg(all(feature = "record-replay", feature = "axum", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::init;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::SpanId;
use reqwest_middleware::ClientBuilder;
use tower::{Layer as _, ServiceExt as _};
use tracetape::client::{RequestBody, TracingMiddleware};
use tracetape::record::{BodyRecord, ExchangeKind, Recording, RecordingStore};

/// A plain configuration service, not traced.
async fn config_service() -> SocketAddr {
    let app = Router::new()
        .route(
            "/settings",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"currency":"EUR"}"#,
                )
            }),
        )
        .route("/register", post(|body: Bytes| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn whole(bytes: &[u8]) -> BodyRecord {
    BodyRecord {
        bytes: Bytes::copy_from_slice(bytes),
        truncated: false,
        size: bytes.len() as u64,
    }
}

#[test]
fn calls_made_before_any_request_are_background_recordings() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    runtime.block_on(async {
        let telemetry = init(&[
            ("TRACETAPE_MODE", "record"),
            ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        ]);
        let recorder = telemetry.recorder().expect("record mode starts a recorder");
        let config = config_service().await;

        // At start-up, before serving: reqwest fetches settings...
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TracingMiddleware::new())
            .build();
        let settings = client
            .get(format!("http://{config}/settings"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(settings, r#"{"currency":"EUR"}"#);

        // ...and hyper-util registers the service.
        let tower = tracetape::client::TraceLayer::new()
            .layer(Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>());
        let request = Request::post(format!("http://{config}/register"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"service":"checkout"}"#)))
            .unwrap();
        let response = tower.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, r#"{"service":"checkout"}"#);

        // Each call was handed on when the caller read its body to the
        // end, before the reads above returned.
        let recorder = recorder.clone();
        tokio::task::spawn_blocking(move || recorder.flush(Duration::from_secs(10)).unwrap())
            .await
            .unwrap();
        let loaded = RecordingStore::new(&dir).load().unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let mut recordings: Vec<Recording> =
            loaded.recordings.into_iter().map(|s| s.recording).collect();
        recordings.reverse();
        assert_eq!(recordings.len(), 2, "{recordings:#?}");

        for recording in &recordings {
            assert!(recording.background, "{recording:#?}");
            assert_eq!(recording.service_name, "checkout");
            assert!(recording.inbound().is_none());
            assert_eq!(recording.exchanges.len(), 1);
            let exchange = &recording.exchanges[0];
            assert_eq!(exchange.kind, ExchangeKind::Client);
            // A root: no request was being served.
            assert_eq!(exchange.parent_span_id, SpanId::INVALID);
            assert_ne!(exchange.span_id, SpanId::INVALID);
            assert_eq!(exchange.error, None);
        }
        let distinct: HashSet<_> = recordings.iter().map(|r| r.trace_id).collect();
        assert_eq!(distinct.len(), 2, "each call is a trace of its own");

        let fetched = &recordings[0].exchanges[0];
        assert_eq!(fetched.request.method, "GET");
        assert_eq!(fetched.request.url, format!("http://{config}/settings"));
        let response = fetched.response.as_ref().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, whole(br#"{"currency":"EUR"}"#));

        let registered = &recordings[1].exchanges[0];
        assert_eq!(registered.request.method, "POST");
        assert_eq!(registered.request.url, format!("http://{config}/register"));
        assert_eq!(registered.request.body, whole(br#"{"service":"checkout"}"#));
        let response = registered.response.as_ref().unwrap();
        assert_eq!(response.body, whole(br#"{"service":"checkout"}"#));

        tokio::task::block_in_place(|| telemetry.shutdown()).unwrap();
    });
}
