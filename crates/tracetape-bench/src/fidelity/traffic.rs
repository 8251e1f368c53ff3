//! Recording: the dependencies served by this process, the depot service
//! in record mode, a few hundred requests over all of its endpoints (some
//! sent one at a time, some ten at once), then the recordings checked.

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::header::CONTENT_TYPE;
use serde_json::json;
use tokio::task::JoinSet;
use tracetape::record::RecordingStore;

use super::dependencies;
use super::service::SERVICE_NAME;
use super::service_env;
use crate::child::{ServedFiles, start_served};
use crate::recordings::RecorderCounts;
use crate::run::{SERVE_START_TIMEOUT, SERVE_STOP_TIMEOUT};
use crate::server::{listen, runtime};

/// Requests sent one after the other, then as many at once, by turns.
const BATCH: usize = 10;
/// How long the audit records may take to arrive after the last response.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The riders the requests name.
const RIDERS: u64 = 13;

/// One request of the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Quote {
        depot: u64,
        hours: u64,
    },
    Rent {
        rider: u64,
        kind: &'static str,
        hours: u64,
        depot: u64,
    },
    List {
        rider: u64,
    },
    Forecast {
        station: u64,
    },
}

/// The `i`-th request of the mix: three quotes, three rentals (one in 25
/// asking for 0 hours: a 422), two lists and two forecasts in ten.
fn request(i: u64) -> Request {
    let kinds = ["city", "cargo", "mountain"];
    match i % 10 {
        0..=2 => Request::Quote {
            depot: 1 + i % 7,
            hours: 1 + i % 5,
        },
        3..=5 => Request::Rent {
            rider: i % RIDERS,
            kind: kinds[(i % 3) as usize],
            hours: if i % 25 == 3 { 0 } else { 1 + i % 6 },
            depot: 1 + i % 7,
        },
        6 | 7 => Request::List { rider: i % RIDERS },
        _ => Request::Forecast { station: i % 4 },
    }
}

impl Request {
    fn route(&self) -> &'static str {
        match self {
            Request::Quote { .. } => "GET /quote",
            Request::Rent { .. } => "POST /rentals",
            Request::List { .. } => "GET /rentals",
            Request::Forecast { .. } => "GET /forecast",
        }
    }

    /// Sends it and checks the status (and reads the whole body).
    async fn send(&self, client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
        let (response, expected) = match self {
            Request::Quote { depot, hours } => (
                client
                    .get(format!("{base}/quote?depot={depot}&hours={hours}"))
                    .send()
                    .await?,
                200,
            ),
            Request::Rent {
                rider,
                kind,
                hours,
                depot,
            } => {
                let body = json!({ "rider": format!("r-{rider:02}"), "kind": kind,
                                   "hours": hours, "depot": depot });
                let expected = if *hours == 0 { 422 } else { 201 };
                (
                    client
                        .post(format!("{base}/rentals"))
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.to_string())
                        .send()
                        .await?,
                    expected,
                )
            }
            Request::List { rider } => (
                client
                    .get(format!("{base}/rentals?rider=r-{rider:02}"))
                    .send()
                    .await?,
                200,
            ),
            Request::Forecast { station } => (
                client
                    .get(format!("{base}/forecast?station=st-{station}"))
                    .send()
                    .await?,
                200,
            ),
        };
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        if status != expected {
            bail!(
                "{} answered {status}, not {expected}: {}",
                self.route(),
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }
}

/// What recording made.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) dir: PathBuf,
    pub(crate) partners: String,
    pub(crate) platform: String,
    pub(crate) partners_port: u16,
    pub(crate) platform_port: u16,
    /// Recordings of requests, by `METHOD route`.
    pub(crate) requests: Vec<(String, u64)>,
    /// Recordings of calls outside requests (start-up, heartbeats).
    pub(crate) background: u64,
    /// Audit calls (made after the response) in a request's recording, and
    /// in a background one.
    pub(crate) audits_in_requests: u64,
    pub(crate) audits_in_background: u64,
    pub(crate) elapsed: Duration,
}

impl Recorded {
    pub(crate) fn total(&self) -> u64 {
        self.requests.iter().map(|(_, n)| n).sum()
    }

    pub(crate) fn describe(&self) -> String {
        let by_route: Vec<String> = self
            .requests
            .iter()
            .map(|(route, n)| format!("{route} {n}"))
            .collect();
        format!(
            "recorded: {} requests ({}) in {:.1} s, plus {} background recordings (start-up \
             config, heartbeats); the audit call after each rental's response is in its \
             request's recording {} times, in a background one {} times",
            self.total(),
            by_route.join(", "),
            self.elapsed.as_secs_f64(),
            self.background,
            self.audits_in_requests,
            self.audits_in_background
        )
    }
}

/// Records `count` requests into `{dir}/recordings`.
pub(crate) fn record(count: u64, dir: &Path) -> anyhow::Result<Recorded> {
    let runtime = runtime()?;
    // Served until `runtime` drops at the end of this function.
    let audits = Arc::new(AtomicU64::new(0));
    let (partners_port, platform_port) = runtime.block_on(async {
        let (partners, partners_port) = listen().await?;
        let (platform, platform_port) = listen().await?;
        let platform_app = dependencies::platform(Arc::clone(&audits));
        tokio::spawn(axum::serve(partners, dependencies::partners()).into_future());
        tokio::spawn(axum::serve(platform, platform_app).into_future());
        anyhow::Ok((partners_port, platform_port))
    })?;
    let partners = format!("http://127.0.0.1:{partners_port}");
    let platform = format!("http://127.0.0.1:{platform_port}");
    let record_dir = dir.join("recordings");

    let files = ServedFiles::new(dir, "record")?;
    let mut env = service_env("record", &record_dir, None);
    env.push(("TRACETAPE_RECORD_SAMPLE_RATE", "1".into()));
    let (mut service, port) = start_served(
        "depot service (record mode)".to_owned(),
        &[
            "serve-fidelity",
            "--partners",
            &partners,
            "--platform",
            &platform,
        ],
        &files,
        env,
        SERVE_START_TIMEOUT,
    )?;
    let started = Instant::now();
    runtime
        .block_on(send_all(port, count))
        .context("recording")?;
    // The audit calls go out a few milliseconds after each response: wait
    // for the dependency to have them all before stopping the service.
    let rentals = (0..count)
        .filter(|&i| matches!(request(i), Request::Rent { hours, .. } if hours > 0))
        .count() as u64;
    let deadline = Instant::now() + AUDIT_TIMEOUT;
    while audits.load(Ordering::Relaxed) < rentals {
        if Instant::now() >= deadline {
            bail!(
                "{rentals} rentals made, but the platform received {} audit records",
                audits.load(Ordering::Relaxed)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    service.ensure_running()?;
    service.stop_cleanly(SERVE_STOP_TIMEOUT, &files.stderr)?;
    drop(runtime);

    let stdout = std::fs::read_to_string(&files.stdout).unwrap_or_default();
    let stderr = std::fs::read_to_string(&files.stderr).unwrap_or_default();
    let counts = RecorderCounts::parse(&stdout)
        .with_context(|| format!("the recording service printed no recorder counts:\n{stderr}"))?;
    if counts.written < count || counts.dropped > 0 || counts.failed > 0 || !counts.flushed {
        bail!("{count} requests sent, but the recorder says {counts}; its stderr:\n{stderr}");
    }
    let mut recorded = inspect(&record_dir)?;
    if recorded.total() != count {
        bail!(
            "{count} requests sent, but {} were recorded",
            recorded.total()
        );
    }
    recorded.partners = partners;
    recorded.platform = platform;
    recorded.partners_port = partners_port;
    recorded.platform_port = platform_port;
    recorded.elapsed = elapsed;
    Ok(recorded)
}

/// Sends requests `0..count`: in batches of [`BATCH`], one at a time and
/// all at once by turns.
async fn send_all(port: u16, count: u64) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the recording client")?;
    let base = format!("http://127.0.0.1:{port}");
    let all: Vec<Request> = (0..count).map(request).collect();
    for (batch, requests) in all.chunks(BATCH).enumerate() {
        if batch % 2 == 0 {
            for request in requests {
                request.send(&client, &base).await?;
            }
        } else {
            let mut set = JoinSet::new();
            for request in requests {
                let (request, client, base) = (request.clone(), client.clone(), base.clone());
                set.spawn(async move { request.send(&client, &base).await });
            }
            while let Some(joined) = set.join_next().await {
                joined.context("a sending task failed")??;
            }
        }
    }
    Ok(())
}

/// Counts the recordings in `dir`, by request and background.
fn inspect(dir: &Path) -> anyhow::Result<Recorded> {
    let loaded = RecordingStore::new(dir)
        .load()
        .with_context(|| format!("reading the recordings in {}", dir.display()))?;
    if let Some(error) = loaded.errors.first() {
        bail!(
            "{} recordings cannot be read; the first: {error}",
            loaded.errors.len()
        );
    }
    let mut requests: Vec<(String, u64)> = Vec::new();
    let (mut background, mut in_requests, mut in_background) = (0, 0, 0);
    for stored in &loaded.recordings {
        let recording = &stored.recording;
        if recording.service_name != SERVICE_NAME {
            continue;
        }
        let audits = recording
            .outbound()
            .filter(|call| call.request.url.contains("/audit"))
            .count() as u64;
        match recording.inbound() {
            Some(inbound) => {
                in_requests += audits;
                let route = format!(
                    "{} {}",
                    inbound.request.method,
                    inbound.route.as_deref().unwrap_or("?")
                );
                match requests.iter_mut().find(|(r, _)| *r == route) {
                    Some((_, n)) => *n += 1,
                    None => requests.push((route, 1)),
                }
            }
            None => {
                background += 1;
                in_background += audits;
            }
        }
    }
    requests.sort();
    Ok(Recorded {
        dir: dir.to_owned(),
        partners: String::new(),
        platform: String::new(),
        partners_port: 0,
        platform_port: 0,
        requests,
        background,
        audits_in_requests: in_requests,
        audits_in_background: in_background,
        elapsed: Duration::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_covers_every_endpoint_and_one_bad_rental() {
        let mix: Vec<Request> = (0..100).map(request).collect();
        for route in [
            "GET /quote",
            "POST /rentals",
            "GET /rentals",
            "GET /forecast",
        ] {
            assert!(mix.iter().any(|r| r.route() == route), "{route}");
        }
        assert!(
            mix.iter()
                .any(|r| matches!(r, Request::Rent { hours: 0, .. }))
        );
    }
}
