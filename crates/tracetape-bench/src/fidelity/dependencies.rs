//! The fidelity service's dependencies, served by the benchmark while it
//! records and gone while it replays: `partners` (rates, availability,
//! reservations, promotions) and `platform` (configuration, heartbeats,
//! audit, weather). Both check the signatures of signed queries and the
//! request id of reservations, so a service that sends them wrong is
//! refused while recording. Also the [`Sink`] that holds their ports
//! during replay, accepting and counting connections, never answering.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::values::{query_pairs, query_value, signature_holds};

/// A bike kind's price per hour, in cents (odd, so that tax rounds).
pub(crate) fn per_hour_cents(kind: &str, depot: u64) -> u64 {
    let base = match kind {
        "city" => 1199,
        "cargo" => 2399,
        "mountain" => 1799,
        _ => 2999,
    };
    base + depot * 38
}

/// The partners' API.
pub(crate) fn partners() -> Router {
    Router::new()
        .route("/rates", get(rates))
        .route("/availability/{depot}", get(availability))
        .route("/reservations", post(reserve))
        .route(
            "/promotions",
            get(|| async { Json(json!({ "promos": [] })) }),
        )
        .with_state(Arc::new(Mutex::new(HashSet::new())))
}

/// The platform's API; `audits` counts the audit records it received.
pub(crate) fn platform(audits: Arc<AtomicU64>) -> Router {
    Router::new()
        .route("/config", get(config))
        .route("/heartbeat", post(|| async { Json(json!({ "ok": true })) }))
        .route(
            "/audit",
            post(move || {
                audits.fetch_add(1, Ordering::Relaxed);
                async { (StatusCode::ACCEPTED, Json(json!({ "accepted": true }))) }
            }),
        )
        .route("/weather", get(weather))
}

fn unsigned() -> Response {
    (StatusCode::UNAUTHORIZED, "bad or missing signature").into_response()
}

fn signed_ok(uri: &Uri) -> bool {
    uri.path_and_query()
        .is_some_and(|pq| signature_holds(pq.as_str()))
}

async fn rates(uri: Uri) -> Response {
    if !signed_ok(&uri) {
        return unsigned();
    }
    let pairs = query_pairs(uri.query());
    let kind = query_value(&pairs, "kind").unwrap_or("city").to_owned();
    let depot = query_value(&pairs, "depot")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    Json(json!({ "kind": kind, "depot": depot, "per_hour_cents": per_hour_cents(&kind, depot) }))
        .into_response()
}

/// 503 the first time each depot is asked for, then its bikes.
async fn availability(
    State(seen): State<Arc<Mutex<HashSet<u64>>>>,
    UrlPath(depot): UrlPath<u64>,
    uri: Uri,
) -> Response {
    if !signed_ok(&uri) {
        return unsigned();
    }
    let first = seen
        .lock()
        .map(|mut seen| seen.insert(depot))
        .unwrap_or(false);
    if first {
        return (StatusCode::SERVICE_UNAVAILABLE, "warming up, try again").into_response();
    }
    Json(json!({ "depot": depot, "bikes": (depot * 7) % 11 + 2 })).into_response()
}

async fn reserve(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    if request_id.is_none() || request_id != body["request_id"].as_str() {
        return (
            StatusCode::BAD_REQUEST,
            "x-request-id must match request_id",
        )
            .into_response();
    }
    let kind = body["kind"].as_str().unwrap_or("city");
    let depot = body["depot"].as_u64().unwrap_or(0);
    let key = format!("{}/{kind}/{}", body["rider"], body["hours"]);
    let code = key.bytes().fold(0x811C_9DC5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    Json(json!({
        "confirmation": format!("RSV-{code:08X}"),
        "hold_minutes": 15,
        "per_hour_cents": per_hour_cents(kind, depot),
    }))
    .into_response()
}

async fn config(uri: Uri) -> Response {
    if !signed_ok(&uri) {
        return unsigned();
    }
    let pairs = query_pairs(uri.query());
    let price_list = match query_value(&pairs, "env") {
        Some("prod") => "spring-2026",
        _ => "staging",
    };
    Json(json!({ "currency": "NOK", "tax_percent": 25, "price_list": price_list })).into_response()
}

/// Six hours of weather, gzip-compressed.
async fn weather(uri: Uri) -> Response {
    if !signed_ok(&uri) {
        return unsigned();
    }
    let pairs = query_pairs(uri.query());
    let station = query_value(&pairs, "station").unwrap_or("st-0").to_owned();
    let metric = query_value(&pairs, "units") == Some("metric");
    let seed = station.bytes().map(u64::from).sum::<u64>();
    let hourly: Vec<Value> = (0..6)
        .map(|h| {
            let wind = ((seed + h * 3) % 13) as f64 + 0.5;
            let temp = ((seed + h * 5) % 17) as i64 - 3;
            if metric {
                json!({ "wind_ms": wind, "temp_c": temp })
            } else {
                json!({ "wind_ms": wind * 2.237, "temp_c": temp * 9 / 5 + 32 })
            }
        })
        .collect();
    let body = json!({ "station": station, "hourly": hourly }).to_string();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let compressed = gz.write_all(body.as_bytes()).and_then(|()| gz.finish());
    match compressed {
        Ok(bytes) => (
            [
                (CONTENT_TYPE, "application/json"),
                (CONTENT_ENCODING, "gzip"),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// A listener on a dependency's recorded port during replay: accepts
/// connections, holds them open without answering, and counts them.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    accepted: AtomicU64,
}

impl Sink {
    /// Accepts on `listener` until the task is dropped.
    pub(crate) async fn hold(self: Arc<Self>, listener: tokio::net::TcpListener) {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            held.push(stream);
        }
    }

    /// The connections accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}
