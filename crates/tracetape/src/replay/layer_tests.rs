//! Replay through the layers: a server layer given a [`Replayer`] and
//! both client integrations inside its handler, against recordings made
//! by hand. Every recorded call names a closed port, so a call that
//! reached the network would fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanId, TraceId};
use reqwest_middleware::ClientBuilder;
use tower::{Layer, ServiceExt};

use super::{REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId, Replayer};
use crate::client::{RequestBody, TraceLayer as ClientLayer, TracingMiddleware};
use crate::record::testing::header;
use crate::record::{
    BodyRecord, Exchange, ExchangeKind, RecordSettings, Recording, RequestRecord, ResponseRecord,
};

/// Nothing listens here.
const CLOSED: &str = "http://127.0.0.1:9";

fn exchange(
    kind: ExchangeKind,
    span: u64,
    method: &str,
    url: &str,
    status: u16,
    body: &[u8],
) -> Exchange {
    Exchange {
        kind,
        span_id: SpanId::from(span),
        parent_span_id: SpanId::from(1),
        name: method.to_owned(),
        route: None,
        start_unix_nanos: span,
        end_unix_nanos: span + 1,
        request: RequestRecord {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: BodyRecord::default(),
        },
        response: Some(ResponseRecord {
            status,
            headers: vec![
                header("content-type", "application/octet-stream"),
                header("content-length", "999"),
            ],
            body: BodyRecord {
                bytes: Bytes::copy_from_slice(body),
                truncated: false,
                size: body.len() as u64,
            },
            trailers: Vec::new(),
        }),
        error: None,
    }
}

/// A store with one recorded `/run` (two calls: a large body and a 201)
/// and one background recording (a start-up call).
fn store(dir: &std::path::Path, large: &[u8]) -> (Replayer, ReplayId) {
    let mut inbound = exchange(ExchangeKind::Server, 1, "GET", "/run", 200, b"ok");
    inbound.parent_span_id = SpanId::INVALID;
    let run = Recording {
        trace_id: TraceId::from(7),
        service_name: "front".to_owned(),
        background: false,
        exchanges: vec![
            inbound,
            exchange(
                ExchangeKind::Client,
                2,
                "GET",
                &format!("{CLOSED}/items?id=1"),
                200,
                large,
            ),
            exchange(
                ExchangeKind::Client,
                3,
                "GET",
                &format!("{CLOSED}/made"),
                201,
                b"made",
            ),
        ],
    };
    let startup = Recording {
        trace_id: TraceId::from(8),
        service_name: "front".to_owned(),
        background: true,
        exchanges: vec![exchange(
            ExchangeKind::Client,
            4,
            "GET",
            &format!("{CLOSED}/config"),
            200,
            b"cfg",
        )],
    };
    std::fs::create_dir_all(dir).unwrap();
    for (name, recording) in [("1-run.json", &run), ("2-startup.json", &startup)] {
        std::fs::write(dir.join(name), recording.to_otlp_json().unwrap()).unwrap();
    }
    let settings = RecordSettings {
        dir: dir.to_owned(),
        ..RecordSettings::default()
    };
    (
        Replayer::load(&settings, "front").unwrap(),
        ReplayId::of(&run).unwrap(),
    )
}

/// One GET of `url` through the tower client layer: status and body.
async fn via_tower(layer: &ClientLayer, url: &str) -> Result<(u16, Bytes), String> {
    let client =
        layer.layer(Client::builder(TokioExecutor::new()).build_http::<RequestBody<Full<Bytes>>>());
    let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let response = client
        .oneshot(request)
        .await
        .map_err(|err| err.to_string())?;
    let status = response.status().as_u16();
    assert_eq!(response.headers().get("content-length"), None);
    Ok((
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    ))
}

/// The same through the reqwest middleware.
async fn via_reqwest(layer: &ClientLayer, url: &str) -> Result<(u16, Bytes), String> {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::from(layer.clone()))
        .build();
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|err| err.to_string())?;
    assert_eq!(response.url().as_str(), url);
    Ok((response.status().as_u16(), response.bytes().await.unwrap()))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn calls_of_a_replayed_request_are_answered_from_its_recording_through_both_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let large: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (replayer, id) = store(tmp.path(), &large);
    let client_layer = ClientLayer::from_lookup(|_| None).with_replayer(replayer.clone());
    let app = Router::new()
        .route(
            "/run",
            get(
                |State(layer): State<ClientLayer>, headers: http::HeaderMap| async move {
                    // The replay header went no further than the layer.
                    assert!(headers.get(REPLAY_HEADER).is_none());
                    let tower = via_tower(&layer, &format!("{CLOSED}/items?id=1"))
                        .await
                        .unwrap();
                    let reqwest = via_reqwest(&layer, &format!("{CLOSED}/made"))
                        .await
                        .unwrap();
                    let missing = via_reqwest(&layer, &format!("{CLOSED}/never"))
                        .await
                        .unwrap_err();
                    format!(
                        "{} {} {} {} | {missing}",
                        tower.0,
                        tower.1.len(),
                        reqwest.0,
                        String::from_utf8_lossy(&reqwest.1)
                    )
                },
            ),
        )
        .with_state(client_layer.clone())
        .layer(crate::server::TraceLayer::new().with_replayer(replayer));
    let addr = serve(app).await;
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/run"))
        .header(REPLAY_HEADER, id.to_string())
        .send()
        .await
        .unwrap();
    let log: serde_json::Value =
        serde_json::from_slice(response.headers()[REPLAY_LOG_HEADER].as_bytes()).unwrap();
    let body = response.text().await.unwrap();
    let (answers, missing) = body.split_once(" | ").unwrap();
    assert_eq!(answers, "200 100000 201 made");
    assert!(
        missing.contains("no recorded call matches GET http://127.0.0.1:9/never"),
        "{missing}"
    );
    assert_eq!(log["recording"], id.to_string());
    let levels: Vec<&str> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| call["level"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(levels, ["exact", "exact", "none"], "{log}");
    assert_eq!(log["unused"], serde_json::json!([]));

    // Outside any replayed request: the background recordings answer.
    let (status, body) = via_tower(&client_layer, &format!("{CLOSED}/config"))
        .await
        .unwrap();
    assert_eq!((status, &body[..]), (200, &b"cfg"[..]));
    let err = via_tower(&client_layer, &format!("{CLOSED}/items?id=1"))
        .await
        .unwrap_err();
    assert!(err.contains("the background recordings"), "{err}");
}
