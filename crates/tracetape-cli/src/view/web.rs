//! The web UI: its page and scripts (embedded in the executable, from
//! `web/`), and the JSON API they read.
//!
//! - `GET /api/services`: the service names seen.
//! - `GET /api/traces?service=&name=&errors=1&min_duration=&attr=KEY=VALUE&from=&to=&limit=&after=`:
//!   a page of traces, newest first (`attr` repeatable; `from`/`to` in
//!   milliseconds since the Unix epoch; `min_duration` as `10ms`).
//! - `GET /api/traces/{id}`: the trace as a waterfall; `/otlp`: as an
//!   OTLP/JSON file to download; `/recording`: its recording as
//!   `tracetape show` prints it.
//! - `GET /api/replays`: the replay reports; `/api/replays/report?file=`:
//!   one, with the recorded calls of its recordings.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tracetape::record::{RecordingStore, StoredRecording};

use super::otlp_json::traces_data;
use super::replays::Reports;
use super::store::{Query, Store, StoredTrace};
use super::waterfall::Waterfall;
use crate::units;

/// What the handlers share.
pub(crate) struct View {
    pub(crate) store: Arc<Store>,
    pub(crate) recordings: RecordingStore,
    pub(crate) reports: Reports,
}

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");

/// Traces per page unless `limit` says otherwise, and at most.
const PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// The routes. On a loopback address only requests naming a loopback
/// host are answered: a web page elsewhere cannot read recordings
/// through a DNS name it points at 127.0.0.1 (DNS rebinding).
pub(crate) fn router(view: Arc<View>, loopback: bool) -> Router {
    let router = Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/services", get(services))
        .route("/api/traces", get(traces))
        .route("/api/traces/{id}", get(trace))
        .route("/api/traces/{id}/otlp", get(download))
        .route("/api/traces/{id}/recording", get(recording))
        .route("/api/replays", get(replays))
        .route("/api/replays/report", get(report))
        .with_state(view);
    if loopback {
        router.layer(axum::middleware::from_fn(loopback_hosts_only))
    } else {
        router
    }
}

async fn loopback_hosts_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        next.run(request).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "tracetape view answers requests for localhost, 127.0.0.1 or [::1] only",
        )
            .into_response()
    }
}

/// `localhost`, an IPv4 loopback address or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A JSON answer, or the error as text with its status.
type Answer = Result<Response, (StatusCode, String)>;

fn json(value: &impl Serialize) -> Answer {
    let body = serde_json::to_vec(value).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn internal(err: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}"))
}

fn bad_request(why: String) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, why)
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    view: &Arc<View>,
    call: impl FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, (StatusCode, String)> {
    let store = Arc::clone(&view.store);
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(internal)?
        .map_err(internal)
}

async fn services(State(view): State<Arc<View>>) -> Answer {
    json(&blocking(&view, Store::services).await?)
}

async fn traces(State(view): State<Arc<View>>, RawQuery(raw): RawQuery) -> Answer {
    let query = parse_query(raw.as_deref().unwrap_or("")).map_err(bad_request)?;
    json(&blocking(&view, move |store| store.search(&query)).await?)
}

/// The search form's fields as a [`Query`].
fn parse_query(raw: &str) -> Result<Query, String> {
    let mut query = Query {
        limit: PAGE,
        ..Query::default()
    };
    let millis = |value: &str, name: &str| -> Result<u64, String> {
        value
            .parse::<u64>()
            .map(|ms| ms.saturating_mul(1_000_000))
            .map_err(|_| {
                format!("{name}: expected milliseconds since the Unix epoch, got {value:?}")
            })
    };
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "service" => query.service = Some(value.to_owned()),
            "name" => query.name = Some(value.to_owned()),
            "errors" => query.errors = value != "0" && value != "false",
            "min_duration" => {
                query.min_duration = Some(
                    units::duration(value)
                        .map_err(|why| format!("min_duration {value:?}: {why}"))?,
                );
            }
            "attr" => {
                let (name, wanted) = value
                    .split_once('=')
                    .ok_or_else(|| format!("attr {value:?}: expected KEY=VALUE"))?;
                query
                    .attributes
                    .push((name.trim().to_owned(), wanted.trim().to_owned()));
            }
            "from" => query.from = Some(millis(value, "from")?),
            "to" => query.to = Some(millis(value, "to")?),
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .map_err(|_| format!("limit {value:?}: expected a number"))?
                    .clamp(1, MAX_PAGE);
            }
            "after" => query.after = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(query)
}

/// The trace named in the path, or 404.
async fn stored(view: &Arc<View>, id: &str) -> Result<(String, StoredTrace), (StatusCode, String)> {
    let id = id.trim().to_ascii_lowercase();
    let bytes = super::store::unhex(&id)
        .filter(|bytes| bytes.len() == 16)
        .ok_or_else(|| bad_request(format!("{id:?} is not a trace id (32 hex digits)")))?;
    match blocking(view, move |store| store.trace(&bytes)).await? {
        Some(trace) => Ok((id, trace)),
        None => Err((StatusCode::NOT_FOUND, format!("no trace {id} in the store"))),
    }
}

async fn trace(State(view): State<Arc<View>>, Path(id): Path<String>) -> Answer {
    let (id, trace) = stored(&view, &id).await?;
    let recorded = !recordings_of(&view, &id).await.is_empty();
    json(&Waterfall::new(&id, &trace, recorded))
}

async fn download(State(view): State<Arc<View>>, Path(id): Path<String>) -> Answer {
    let (id, trace) = stored(&view, &id).await?;
    let body = serde_json::to_vec_pretty(&traces_data(&trace)).map_err(internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"trace-{id}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The recordings of trace `id` (none when the directory cannot be read).
async fn recordings_of(view: &Arc<View>, id: &str) -> Vec<StoredRecording> {
    let recordings = view.recordings.clone();
    let id = id.to_owned();
    let mine = tokio::task::spawn_blocking(move || {
        let Ok(loaded) = recordings.load() else {
            return Vec::new();
        };
        loaded
            .recordings
            .into_iter()
            .filter(|stored| stored.recording.trace_id.to_string() == id)
            .collect()
    });
    mine.await.unwrap_or_default()
}

async fn recording(State(view): State<Arc<View>>, Path(id): Path<String>) -> Answer {
    let id = id.to_ascii_lowercase();
    let mine = recordings_of(&view, &id).await;
    if mine.is_empty() {
        return Err((StatusCode::NOT_FOUND, format!("no recording of trace {id}")));
    }
    let text = crate::show::recorded_text(&id, &mine);
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

async fn replays(State(view): State<Arc<View>>) -> Answer {
    let reports = view.reports.clone();
    let listed = tokio::task::spawn_blocking(move || reports.list())
        .await
        .map_err(internal)?;
    json(&listed)
}

async fn report(State(view): State<Arc<View>>, RawQuery(raw): RawQuery) -> Answer {
    let file = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "file")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| bad_request("file: which report".to_owned()))?;
    let reports = view.reports.clone();
    let wanted = file.clone();
    let opened = tokio::task::spawn_blocking(move || reports.open(&wanted))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    match opened {
        Some(opened) => json(&opened),
        None => Err((StatusCode::NOT_FOUND, format!("no report {file} is listed"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_answered_on_loopback() {
        for host in [
            "localhost:4320",
            "127.0.0.1:4320",
            "127.0.0.1",
            "[::1]:4320",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:4320",
            "",
            "10.0.0.1:4320",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_search_form_becomes_a_query() {
        let query = parse_query("service=checkout&errors=1&min_duration=10ms&attr=sku%3Dtea&attr=a%3Db%3Dc&from=1000&limit=9999")
            .unwrap();
        assert_eq!(query.service.as_deref(), Some("checkout"));
        assert!(query.errors);
        assert_eq!(
            query.min_duration,
            Some(std::time::Duration::from_millis(10))
        );
        assert_eq!(
            query.attributes,
            [
                ("sku".to_owned(), "tea".to_owned()),
                ("a".to_owned(), "b=c".to_owned())
            ]
        );
        assert_eq!(query.from, Some(1_000_000_000));
        assert_eq!(query.limit, MAX_PAGE);
        assert!(parse_query("attr=novalue").is_err());
        assert!(parse_query("min_duration=soon").is_err());
        assert!(parse_query("from=yesterday").is_err());
    }
}
