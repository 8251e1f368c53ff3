//! Streaming bodies, recorded and replayed through real servers: a
//! service that streams its answer while its own upstream streams to it.
//! Recorded, then replayed with the upstream gone, the replayed answer
//! is the recorded one byte for byte, and the upstream's recorded body
//! reaches the handler in pieces, as a stream would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, ServiceExt};

use super::{REPLAY_HEADER, ReplayId, ReplayedBody, Replayer};
use crate::client::{RequestBody, TraceLayer as ClientLayer};
use crate::record::{RecordSettings, Recorder, RecordingStore, ResponseRecord, header_records};
use crate::server::TraceLayer;
use crate::test_support::Harness;

/// 60 KiB: streamed (by [`ReplayedBody`], which yields 16 KiB pieces) in
/// four frames.
fn payload(seed: u8) -> Bytes {
    (0..60 * 1024)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect::<Vec<u8>>()
        .into()
}

async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// The front: reads the upstream's streamed body frame by frame through
/// the tower client layer, then streams back how many frames it got and
/// everything it read.
fn front(h: &Harness, layer: TraceLayer, client: ClientLayer, upstream: SocketAddr) -> Router {
    let layer = layer.with_tracer_provider(h.tracer_provider.clone());
    let client = client.with_tracer_provider(h.tracer_provider.clone());
    Router::new()
        .route(
            "/relay",
            get(
                |State((client, upstream)): State<(ClientLayer, SocketAddr)>| async move {
                    let http = client.layer(
                        Client::builder(TokioExecutor::new())
                            .build_http::<RequestBody<Full<Bytes>>>(),
                    );
                    let request = Request::get(format!("http://{upstream}/data"))
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let mut body = http.oneshot(request).await.unwrap().into_body();
                    let (mut frames, mut all) = (0, Vec::new());
                    while let Some(frame) = body.frame().await {
                        frames += 1;
                        all.extend_from_slice(&frame.unwrap().into_data().unwrap());
                    }
                    let mut answer = format!("{frames} frames\n").into_bytes();
                    answer.extend_from_slice(&all);
                    Body::new(ReplayedBody::new(answer.into()))
                },
            ),
        )
        .with_state((client, upstream))
        .layer(layer)
}

/// The front's whole answer, as a response record.
async fn relay(front: SocketAddr, replay: Option<&ReplayId>) -> ResponseRecord {
    let mut request = reqwest::Client::new().get(format!("http://{front}/relay"));
    if let Some(id) = replay {
        request = request.header(REPLAY_HEADER, id.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = header_records(response.headers());
    let bytes = response.bytes().await.unwrap();
    ResponseRecord {
        status,
        headers,
        body: crate::record::BodyRecord {
            size: bytes.len() as u64,
            bytes,
            truncated: false,
        },
        trailers: Vec::new(),
    }
}

#[tokio::test]
async fn streamed_bodies_are_recorded_and_replayed_without_the_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = RecordSettings {
        dir: tmp.path().join("recordings"),
        ..RecordSettings::default()
    };
    let upstream_body = payload(7);

    // Record: the upstream streams, the front streams.
    let (upstream_listener, upstream) = listen().await;
    let served = upstream_body.clone();
    let upstream_task = tokio::spawn(async move {
        let app = Router::new().route(
            "/data",
            get(move || {
                let served = served.clone();
                async move { Body::new(ReplayedBody::new(served)) }
            }),
        );
        axum::serve(upstream_listener, app).await.unwrap();
    });
    let recorder = Recorder::start(&settings, "front").unwrap();
    let (listener, addr) = listen().await;
    let h = Harness::new();
    let app = front(
        &h,
        TraceLayer::new().with_recorder(recorder.clone()),
        ClientLayer::from_lookup(|_| None),
        upstream,
    );
    let recording_server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let recorded = relay(addr, None).await;
    assert!(
        recorded.body.bytes.starts_with(b"4 frames\n"),
        "the upstream streamed in pieces"
    );
    assert_eq!(&recorded.body.bytes[9..], &upstream_body[..]);
    // The recording is handed on once the answer's body has been sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while recorder.written() == 0 {
        let flushed = recorder.clone();
        tokio::task::spawn_blocking(move || flushed.flush(Duration::from_secs(1)))
            .await
            .unwrap()
            .unwrap();
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was recorded"
        );
        tokio::task::yield_now().await;
    }
    upstream_task.abort();
    recording_server.abort();
    let _ = upstream_task.await;
    let loaded = RecordingStore::new(&settings.dir).load().unwrap();
    let recording = &loaded.recordings[0].recording;
    let inbound = recording.inbound().unwrap().response.clone().unwrap();
    assert_eq!(
        inbound.body.bytes, recorded.body.bytes,
        "the streamed answer was recorded whole"
    );
    let id = ReplayId::of(recording).unwrap();

    // Replay, with nothing listening upstream any more.
    assert!(tokio::net::TcpStream::connect(upstream).await.is_err());
    let replayer = Replayer::load(&settings, "front").unwrap();
    let (listener, addr) = listen().await;
    let app = front(
        &h,
        TraceLayer::new().with_replayer(replayer.clone()),
        ClientLayer::from_lookup(|_| None).with_replayer(replayer),
        upstream,
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let replayed = relay(addr, Some(&id)).await;
    assert_eq!(replayed.status, 200);
    // The same answer, byte for byte, streamed in pieces again.
    assert_eq!(replayed.status, inbound.status);
    assert_eq!(replayed.body.bytes, inbound.body.bytes);
    assert!(replayed.body.bytes.starts_with(b"4 frames\n"));
}
