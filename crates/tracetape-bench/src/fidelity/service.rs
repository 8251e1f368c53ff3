//! The service the fidelity benchmark records and replays: a bike-rental
//! depot, written for the benchmark and unlike the examples, with what
//! makes replay hard:
//!
//! - at start-up it fetches its configuration (`GET /config?env=prod`,
//!   signed), and every 200 ms a background task posts a heartbeat (its
//!   instance id, a sequence number, the time);
//! - `GET /quote?depot=D&hours=H`: three concurrent tasks
//!   (`tracetape::context::spawn`) each `GET /rates?kind=K&depot=D&ts=..&sig=..`,
//!   one per bike kind, joined; `GET /availability/{D}` (signed), which the
//!   dependency answers 503 the first time per depot and the client retries
//!   (reqwest-retry above `TracingMiddleware`); answers the options, a
//!   quote id (UUID) and timestamps, with an `x-quote-version` header;
//! - `POST /rentals`: 422 for fewer than one hour; else
//!   `POST /reservations` with a request id (UUID) in the JSON body and in
//!   `x-request-id`; keeps the rental in memory (sequential ids) and
//!   answers 201 with `due_date` (today + 30 days, from the system clock),
//!   `created_at` (now), tax rounded to the nearest cent and a deposit as a
//!   decimal; after the response a task carrying the request's context
//!   posts an audit record;
//! - `GET /rentals?rider=R`: the rider's rentals, from memory, by id;
//! - `GET /forecast?station=S`: `GET /weather` (signed, answered gzip,
//!   decoded here) and six NDJSON lines streamed back
//!   (`application/x-ndjson`), each with a reading id (UUID) and a
//!   timestamp;
//! - `GET /health`, for readiness.
//!
//! `FIDELITY_CHANGE` names one [`Change`] the build makes on purpose.

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use flate2::read::GzDecoder;
use hyper::body::Frame;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, RequestBuilder};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracetape::client::TracingMiddleware;
use tracetape::server::TraceLayer;

use super::change::Change;
use super::dependencies::per_hour_cents;
use super::values::{
    date_in, now_ms, now_rfc3339, query_pairs, query_value, rfc3339, signed, uuid,
};
use crate::child::{stdin_closed, write_port_file};
use crate::server::{runtime, shut_down};

/// The service's `service.name`, which its recordings carry.
pub(crate) const SERVICE_NAME: &str = "tracetape-bench-depot";
/// The bike kinds a quote prices, each with a call of its own.
const KINDS: [&str; 3] = ["city", "cargo", "mountain"];
/// How often the background task posts a heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(200);

/// `tracetape-bench serve-fidelity`: the depot service, run by the
/// fidelity benchmark (record mode) and by `tracetape replay` (replay).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tracetape-bench serve-fidelity")]
pub(crate) struct ServeArgs {
    /// The partners dependency's base URL.
    #[arg(long)]
    pub(crate) partners: String,
    /// The platform dependency's base URL.
    #[arg(long)]
    pub(crate) platform: String,
    /// Listen on a free port, write it here, stop when standard input
    /// closes.
    #[arg(long, conflicts_with = "port", required_unless_present = "port")]
    pub(crate) port_file: Option<PathBuf>,
    /// Listen on this port, stop on SIGTERM or Ctrl-C.
    #[arg(long)]
    pub(crate) port: Option<u16>,
}

/// The configuration fetched at start-up.
#[derive(Debug, Clone)]
struct Config {
    currency: String,
    tax_percent: u64,
    price_list: String,
}

impl Config {
    /// What the service uses when it could not fetch one.
    fn fallback() -> Self {
        Config {
            currency: "EUR".to_owned(),
            tax_percent: 20,
            price_list: "fallback".to_owned(),
        }
    }
}

/// What every request shares.
#[derive(Debug)]
struct Depot {
    /// Retries 5xx answers and transient errors, above tracetape's
    /// middleware (so each attempt is a call of its own).
    retrying: ClientWithMiddleware,
    /// Without retries.
    plain: ClientWithMiddleware,
    partners: String,
    platform: String,
    change: Change,
    config: Config,
    rentals: Mutex<Vec<Value>>,
    next_id: AtomicU64,
}

/// An error answer.
type Failure = (StatusCode, Json<Value>);

fn failure(status: StatusCode, message: impl std::fmt::Display) -> Failure {
    (status, Json(json!({ "error": message.to_string() })))
}

/// The two clients: both through `TracingMiddleware`, one retrying.
fn clients() -> anyhow::Result<(ClientWithMiddleware, ClientWithMiddleware)> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the depot's reqwest client")?;
    let retry = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(5), Duration::from_millis(20))
        .build_with_max_retries(2);
    let retrying = ClientBuilder::new(client.clone())
        .with(RetryTransientMiddleware::new_with_policy(retry))
        .with(TracingMiddleware::new())
        .build();
    let plain = ClientBuilder::new(client)
        .with(TracingMiddleware::new())
        .build();
    Ok((retrying, plain))
}

/// Sends `request`, fails on a non-2xx answer, and reads the JSON answer
/// (gzip-decoded when it says so).
async fn fetch_json(request: RequestBuilder) -> Result<Value, Failure> {
    let bad_gateway = |err: &dyn std::fmt::Display| {
        failure(
            StatusCode::BAD_GATEWAY,
            format!("calling a dependency: {err}"),
        )
    };
    let response = request.send().await.map_err(|err| bad_gateway(&err))?;
    let response = response
        .error_for_status()
        .map_err(|err| bad_gateway(&err))?;
    let gzip = response
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|value| value == "gzip");
    let body = response.bytes().await.map_err(|err| bad_gateway(&err))?;
    let body = if gzip {
        let mut decoded = Vec::new();
        GzDecoder::new(body.as_ref())
            .read_to_end(&mut decoded)
            .map_err(|err| bad_gateway(&err))?;
        Bytes::from(decoded)
    } else {
        body
    };
    serde_json::from_slice(&body).map_err(|err| bad_gateway(&err))
}

impl Depot {
    fn change_is(&self, change: Change) -> bool {
        self.change == change
    }

    /// `GET /rates` for one kind.
    async fn rate(self: Arc<Self>, kind: &'static str, depot: u64) -> Result<Value, Failure> {
        let asked = if kind == "cargo" && self.change_is(Change::QueryChanged) {
            "longtail"
        } else {
            kind
        };
        let url = format!(
            "{}{}",
            self.partners,
            signed("/rates", &format!("kind={asked}&depot={depot}"))
        );
        fetch_json(self.plain.get(url)).await
    }

    /// `GET /availability/{depot}`, retried.
    async fn availability(&self, depot: u64) -> Result<Value, Failure> {
        let url = format!(
            "{}{}",
            self.partners,
            signed(&format!("/availability/{depot}"), "")
        );
        let client = if self.change_is(Change::NoRetry) {
            &self.plain
        } else {
            &self.retrying
        };
        fetch_json(client.get(url)).await
    }
}

/// `GET /quote?depot=D&hours=H`.
async fn quote(State(depot): State<Arc<Depot>>, uri: Uri) -> Result<Response, Failure> {
    let pairs = query_pairs(uri.query());
    let number = |key: &str| query_value(&pairs, key).and_then(|v| v.parse::<u64>().ok());
    let id = number("depot")
        .ok_or_else(|| failure(StatusCode::BAD_REQUEST, "depot must be a number"))?;
    let hours = number("hours").unwrap_or(1);

    let rates = if depot.change_is(Change::ReorderedCalls) {
        let mut rates = Vec::new();
        for kind in KINDS.iter().rev() {
            rates.push(Arc::clone(&depot).rate(kind, id).await?);
        }
        rates.reverse();
        rates
    } else {
        let tasks: Vec<_> = KINDS
            .iter()
            .map(|kind| tracetape::context::spawn(Arc::clone(&depot).rate(kind, id)))
            .collect();
        let mut rates = Vec::new();
        for task in tasks {
            rates.push(
                task.await
                    .map_err(|err| failure(StatusCode::INTERNAL_SERVER_ERROR, err))??,
            );
        }
        rates
    };
    let available = depot.availability(id).await?;
    if depot.change_is(Change::ExtraCall) {
        depot.availability(id).await?;
    }
    if depot.change_is(Change::NewEndpoint) {
        // Best effort: a promotion never stops a quote.
        let url = format!("{}/promotions?depot={id}", depot.partners);
        let _ = fetch_json(depot.plain.get(url)).await;
    }

    let tax = depot.config.tax_percent;
    let mut options: Vec<Value> = KINDS
        .iter()
        .zip(&rates)
        .map(|(kind, rate)| {
            let per_hour = rate["per_hour_cents"].as_u64().unwrap_or(0);
            let total = per_hour * hours;
            json!({
                "kind": kind,
                "per_hour_cents": per_hour,
                "total_cents": total,
                "tax_cents": (total * tax + 50) / 100,
            })
        })
        .collect();
    if depot.change_is(Change::ArrayOrder) {
        options.sort_by_key(|option| std::cmp::Reverse(option["total_cents"].as_u64()));
    } else {
        options.sort_by(|a, b| a["kind"].as_str().cmp(&b["kind"].as_str()));
    }
    let mut bikes = available["bikes"].as_u64().unwrap_or(0);
    if depot.change_is(Change::FieldValue) {
        bikes += 1;
    }
    let body = json!({
        "depot": id,
        "hours": hours,
        "currency": depot.config.currency,
        "price_list": depot.config.price_list,
        "options": options,
        "bikes_available": bikes,
        "quote_id": uuid(),
        "quoted_at": now_rfc3339(),
        "valid_until": rfc3339(SystemTime::now() + Duration::from_secs(15 * 60)),
    });
    let version = if depot.change_is(Change::HeaderValue) {
        "3"
    } else {
        "2"
    };
    Ok(([("x-quote-version", version)], Json(body)).into_response())
}

/// `POST /rentals`.
async fn create_rental(
    State(depot): State<Arc<Depot>>,
    Json(body): Json<Value>,
) -> Result<Response, Failure> {
    let hours = body["hours"].as_u64().unwrap_or(0);
    if hours < 1 {
        let status = if depot.change_is(Change::ErrorStatus) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let message = if depot.change_is(Change::ErrorMessage) {
            "hours must be a positive number"
        } else {
            "hours must be at least 1"
        };
        return Ok((status, Json(json!({ "error": message, "field": "hours" }))).into_response());
    }
    let rider = body["rider"].as_str().unwrap_or("anonymous").to_owned();
    let kind = body["kind"].as_str().unwrap_or("city").to_owned();
    let station = body["depot"].as_u64().unwrap_or(1);

    let (confirmation, per_hour) = if depot.change_is(Change::SkippedCall) {
        ("unconfirmed".to_owned(), per_hour_cents(&kind, station))
    } else {
        let request_id = uuid();
        let sent_kind = if depot.change_is(Change::OutboundBody) {
            kind.to_uppercase()
        } else {
            kind.clone()
        };
        let version = if depot.change_is(Change::DependencyHeader) {
            "4"
        } else {
            "3"
        };
        let reservation = fetch_json(
            depot
                .plain
                .post(format!("{}/reservations", depot.partners))
                .header(CONTENT_TYPE, "application/json")
                .header("x-request-id", &request_id)
                .header("x-client-version", version)
                .body(
                    json!({
                        "request_id": request_id,
                        "rider": rider,
                        "kind": sent_kind,
                        "hours": hours,
                        "depot": station,
                        "requested_at": now_ms(),
                    })
                    .to_string(),
                ),
        )
        .await?;
        (
            reservation["confirmation"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
            reservation["per_hour_cents"].as_u64().unwrap_or(0),
        )
    };

    let total = per_hour * hours;
    let tax_percent = depot.config.tax_percent;
    let tax = if depot.change_is(Change::Rounding) {
        total * tax_percent / 100
    } else {
        (total * tax_percent + 50) / 100
    };
    let id = depot.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let due_in = if depot.change_is(Change::DateArithmetic) {
        14
    } else {
        30
    };
    let created = if depot.change_is(Change::TimestampShift) {
        SystemTime::now() + Duration::from_secs(3 * 3600)
    } else {
        SystemTime::now()
    };
    let mut rental = json!({
        "id": id,
        "rider": rider,
        "kind": kind,
        "hours": if depot.change_is(Change::IntToFloat) { json!(hours as f64) } else { json!(hours) },
        "depot": station,
        "due_date": date_in(due_in),
        "created_at": rfc3339(created),
        "confirmation": confirmation,
        "total_cents": total,
        "tax_cents": tax,
        "deposit": (total as f64 * 0.15).round() / 100.0,
        "currency": depot.config.currency,
    });
    if let Some(fields) = rental.as_object_mut() {
        if depot.change_is(Change::FieldRemoved) {
            fields.remove("confirmation");
        }
        if depot.change_is(Change::FieldAdded) {
            fields.insert("insurance".to_owned(), json!("basic"));
        }
    }
    if let Ok(mut rentals) = depot.rentals.lock() {
        rentals.push(rental.clone());
    }

    // After the response, in the request's context.
    let audit = Arc::clone(&depot);
    tracetape::context::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let action = if audit.change_is(Change::AuditChanged) {
            "rental.opened"
        } else {
            "rental.created"
        };
        let record = json!({ "action": action, "rental": id, "rider": rider, "at": now_ms() });
        let _ = fetch_json(
            audit
                .plain
                .post(format!("{}/audit", audit.platform))
                .header(CONTENT_TYPE, "application/json")
                .body(record.to_string()),
        )
        .await;
    });

    let status = if depot.change_is(Change::Status) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(rental)).into_response())
}

/// `GET /rentals?rider=R`.
async fn list_rentals(State(depot): State<Arc<Depot>>, uri: Uri) -> Response {
    let pairs = query_pairs(uri.query());
    let rider = query_value(&pairs, "rider").unwrap_or_default();
    let mut items: Vec<Value> = depot
        .rentals
        .lock()
        .map(|rentals| {
            rentals
                .iter()
                .filter(|rental| rental["rider"] == rider)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    items.sort_by_key(|item| item["id"].as_u64());
    if depot.change_is(Change::ListOrder) {
        items.reverse();
    }
    let content_type = if depot.change_is(Change::ContentType) {
        "application/vnd.depot+json"
    } else {
        "application/json"
    };
    let body = json!({ "rider": rider, "count": items.len(), "items": items });
    ([(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

/// A response body streamed from a channel, one frame per message.
struct Lines(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|line| Ok(Frame::data(line))))
    }
}

/// `GET /forecast?station=S`: NDJSON, streamed.
async fn forecast(State(depot): State<Arc<Depot>>, uri: Uri) -> Result<Response, Failure> {
    let pairs = query_pairs(uri.query());
    let station = query_value(&pairs, "station").unwrap_or("st-0").to_owned();
    let query = if depot.change_is(Change::QueryDropped) {
        format!("station={station}")
    } else {
        format!("station={station}&units=metric")
    };
    let weather = fetch_json(
        depot
            .plain
            .get(format!("{}{}", depot.platform, signed("/weather", &query)))
            .header(ACCEPT_ENCODING, "gzip"),
    )
    .await?;
    let hourly = weather["hourly"].as_array().cloned().unwrap_or_default();
    let hours = if depot.change_is(Change::LineDropped) {
        hourly.len().saturating_sub(1)
    } else {
        hourly.len()
    };
    let changed = depot.change_is(Change::LineChanged);
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        for (hour, reading) in hourly.iter().take(hours).enumerate() {
            let mut wind = reading["wind_ms"].as_f64().unwrap_or(0.0);
            if changed && hour == 3 {
                wind += 1.0;
            }
            let line = json!({
                "station": station,
                "hour": hour,
                "wind_ms": wind,
                "temp_c": reading["temp_c"],
                "reading_id": uuid(),
                "at": now_rfc3339(),
            });
            if tx.send(Bytes::from(format!("{line}\n"))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    Ok((
        [(CONTENT_TYPE, "application/x-ndjson")],
        Body::new(Lines(rx)),
    )
        .into_response())
}

/// The start-up call: the configuration, or the fallback when it fails.
async fn fetch_config(client: &ClientWithMiddleware, platform: &str, change: Change) -> Config {
    if change == Change::StartupMissing {
        return Config::fallback();
    }
    let env = if change == Change::StartupChanged {
        "staging"
    } else {
        "prod"
    };
    let url = format!("{platform}{}", signed("/config", &format!("env={env}")));
    match fetch_json(client.get(url)).await {
        Ok(config) => Config {
            currency: config["currency"].as_str().unwrap_or("EUR").to_owned(),
            tax_percent: config["tax_percent"].as_u64().unwrap_or(20),
            price_list: config["price_list"].as_str().unwrap_or("?").to_owned(),
        },
        Err((_, Json(why))) => {
            eprintln!(
                "depot: no configuration ({}), using the fallback",
                why["error"]
            );
            Config::fallback()
        }
    }
}

/// The background heartbeat, every [`HEARTBEAT`], with no request's
/// context.
async fn heartbeat(client: ClientWithMiddleware, platform: String, change: Change) {
    let instance = uuid();
    let status = if change == Change::BackgroundChanged {
        "busy"
    } else {
        "ok"
    };
    let mut ticks = tokio::time::interval(HEARTBEAT);
    for seq in 0u64.. {
        ticks.tick().await;
        let beat = json!({ "instance": instance, "seq": seq, "at": now_ms(), "status": status });
        let _ = fetch_json(
            client
                .post(format!("{platform}/heartbeat"))
                .header(CONTENT_TYPE, "application/json")
                .body(beat.to_string()),
        )
        .await;
    }
}

/// The service, its start-up call made and its heartbeat started.
async fn depot_app(args: &ServeArgs, change: Change) -> anyhow::Result<Router> {
    let (retrying, plain) = clients()?;
    let partners = args.partners.trim_end_matches('/').to_owned();
    let platform = args.platform.trim_end_matches('/').to_owned();
    let config = fetch_config(&plain, &platform, change).await;
    tokio::spawn(heartbeat(plain.clone(), platform.clone(), change));
    let depot = Depot {
        retrying,
        plain,
        partners,
        platform,
        change,
        config,
        rentals: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(0),
    };
    Ok(Router::new()
        .route("/quote", get(quote))
        .route("/rentals", get(list_rentals).post(create_rental))
        .route("/forecast", get(forecast))
        .route("/health", get(|| async { "ok" }))
        .with_state(Arc::new(depot))
        .layer(TraceLayer::new()))
}

/// Completes on SIGTERM or Ctrl-C.
async fn terminated() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// `serve-fidelity`: the depot with `tracetape::init()` (whose mode the
/// caller sets) until stopped; then the recorder is flushed and its
/// counters printed, as `serve` does.
pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let change = Change::from_env()?;
    runtime()?.block_on(async {
        let telemetry = tracetape::init();
        let app = depot_app(args, change).await?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.port.unwrap_or(0)))
            .await
            .context("binding the depot's port")?;
        let stop: Pin<Box<dyn std::future::Future<Output = ()> + Send>> = match &args.port_file {
            Some(port_file) => {
                let port = listener.local_addr().context("local address")?.port();
                let stdin = stdin_closed();
                write_port_file(port_file, port)?;
                Box::pin(async {
                    let _ = stdin.await;
                })
            }
            None => Box::pin(terminated()),
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .context("serving")?;
        shut_down(telemetry).await
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::fidelity::dependencies;
    use crate::server::tests::spawn_app;

    /// The depot, without telemetry set up (nothing recorded), against its
    /// dependencies on loopback, built with `change`; returns its base URL.
    async fn depot(change: Change) -> anyhow::Result<String> {
        let partners = spawn_app(dependencies::partners()).await?;
        let platform = spawn_app(dependencies::platform(Arc::new(AtomicU64::new(0)))).await?;
        let args = ServeArgs {
            partners: format!("http://127.0.0.1:{partners}"),
            platform: format!("http://127.0.0.1:{platform}"),
            port_file: None,
            port: Some(0),
        };
        let port = spawn_app(depot_app(&args, change).await?).await?;
        Ok(format!("http://127.0.0.1:{port}"))
    }

    fn rental(hours: u64) -> String {
        json!({ "rider": "r-01", "kind": "cargo", "hours": hours, "depot": 2 }).to_string()
    }

    /// Every endpoint answers through its dependencies: the quote after a
    /// retried 503 with its three rates, the configuration from start-up,
    /// the rental with its date 30 days on, the list from memory, the
    /// forecast as six NDJSON lines decoded from the gzip answer.
    #[tokio::test]
    async fn the_depot_answers_every_endpoint_through_its_dependencies() -> anyhow::Result<()> {
        let base = depot(Change::None).await?;
        let client = reqwest::Client::builder().no_proxy().build()?;

        let response = client
            .get(format!("{base}/quote?depot=3&hours=2"))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-quote-version"], "2");
        let quote: Value = response.json().await?;
        assert_eq!(quote["currency"], "NOK");
        assert_eq!(quote["price_list"], "spring-2026");
        assert_eq!(quote["bikes_available"], (3 * 7) % 11 + 2);
        let kinds: Vec<&str> = quote["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["cargo", "city", "mountain"]);
        assert_eq!(
            quote["options"][0]["per_hour_cents"],
            per_hour_cents("cargo", 3)
        );

        let response = client
            .post(format!("{base}/rentals"))
            .header(CONTENT_TYPE, "application/json")
            .body(rental(3))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await?;
        assert_eq!(created["id"], 1);
        assert_eq!(created["due_date"], date_in(30));
        assert!(
            created["confirmation"]
                .as_str()
                .is_some_and(|c| c.starts_with("RSV-"))
        );
        let total = per_hour_cents("cargo", 2) * 3;
        assert_eq!(created["total_cents"], total);
        assert_eq!(created["tax_cents"], (total * 25 + 50) / 100);

        let response = client
            .post(format!("{base}/rentals"))
            .header(CONTENT_TYPE, "application/json")
            .body(rental(0))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let list: Value = client
            .get(format!("{base}/rentals?rider=r-01"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(list["count"], 1);
        assert_eq!(list["items"][0]["id"], 1);

        let response = client
            .get(format!("{base}/forecast?station=st-1"))
            .send()
            .await?;
        assert_eq!(response.headers()[CONTENT_TYPE], "application/x-ndjson");
        let text = response.text().await?;
        let lines: Vec<Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[5]["hour"], 5);
        assert_ne!(lines[0]["reading_id"], lines[1]["reading_id"]);
        Ok(())
    }

    /// A change is made where it says: here, the date arithmetic and the
    /// start-up call.
    #[tokio::test]
    async fn a_changed_build_changes_what_it_names() -> anyhow::Result<()> {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let base = depot(Change::DateArithmetic).await?;
        let created: Value = client
            .post(format!("{base}/rentals"))
            .header(CONTENT_TYPE, "application/json")
            .body(rental(2))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(created["due_date"], date_in(14));

        let base = depot(Change::StartupMissing).await?;
        let quote: Value = client
            .get(format!("{base}/quote?depot=1&hours=1"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(quote["currency"], "EUR");
        Ok(())
    }
}
