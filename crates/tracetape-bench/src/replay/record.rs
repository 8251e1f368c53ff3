//! The recordings the replay benchmark replays, made by recording: the
//! orders service in record mode, its dependency served by this process,
//! one distinct order per recording; then checked, file by file.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;
use tokio::task::JoinSet;
use tracetape::record::RecordingStore;

use super::service_env;
use crate::child::{ServedFiles, start_served};
use crate::cli::ReplayArgs;
use crate::memory::megabytes;
use crate::orders::{self, CALLS_PER_ORDER, REQUEST_LINE, SERVICE_NAME};
use crate::recordings::{self, RecorderCounts};
use crate::run::{SERVE_START_TIMEOUT, SERVE_STOP_TIMEOUT};
use crate::server::{listen, runtime};

/// The recordings, and what the service needs to be replayed over them.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// The recordings directory.
    pub(crate) dir: PathBuf,
    /// The dependency's base URL when recording: the service is started
    /// with it again in replay, where nothing listens there any more.
    pub(crate) dependency: String,
    pub(crate) count: u64,
    pub(crate) bytes: u64,
    /// How long sending the orders took (not part of any figure).
    pub(crate) elapsed: Duration,
}

impl Recorded {
    /// One line: how many, how large, how long it took.
    pub(crate) fn describe(&self) -> String {
        format!(
            "recorded: {} recordings ({:.1} MB, one file each) in {:.1} s, each a {REQUEST_LINE} \
             answered 200 with its {CALLS_PER_ORDER} outbound calls, no two alike",
            self.count,
            megabytes(self.bytes),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Records `args.recordings` orders into `{dir}/recordings` and checks
/// them.
pub(crate) fn record(args: &ReplayArgs, dir: &Path) -> anyhow::Result<Recorded> {
    let runtime = runtime()?;
    // Served until `runtime` drops at the end of this function, before
    // anything is replayed.
    let dependency_port = runtime.block_on(async {
        let (listener, port) = listen().await?;
        tokio::spawn(axum::serve(listener, orders::dependency_app()).into_future());
        anyhow::Ok(port)
    })?;
    let dependency = format!("http://127.0.0.1:{dependency_port}");
    let record_dir = dir.join("recordings");

    let files = ServedFiles::new(dir, "record")?;
    let mut env = service_env("record", &record_dir, args.traces);
    env.push(("TRACETAPE_RECORD_SAMPLE_RATE", "1".into()));
    // Room for every recording: none may be dropped.
    let queue = args.recordings.max(1024);
    env.push(("TRACETAPE_RECORD_QUEUE", queue.to_string().into()));
    let (mut service, port) = start_served(
        "orders service (record mode)".to_owned(),
        &["serve-orders", "--dependency", &dependency],
        &files,
        env,
        SERVE_START_TIMEOUT,
    )?;

    let started = Instant::now();
    runtime
        .block_on(send_orders(port, args.recordings, args.concurrency))
        .context("recording")?;
    let elapsed = started.elapsed();
    service.ensure_running()?;
    service.stop_cleanly(SERVE_STOP_TIMEOUT, &files.stderr)?;
    let stdout = std::fs::read_to_string(&files.stdout).unwrap_or_default();
    let stderr = std::fs::read_to_string(&files.stderr).unwrap_or_default();
    let counts = RecorderCounts::parse(&stdout)
        .with_context(|| format!("the recording service printed no recorder counts:\n{stderr}"))?;
    if counts.written != args.recordings
        || counts.dropped > 0
        || counts.failed > 0
        || !counts.flushed
    {
        bail!(
            "{} orders sent, but the recorder says {counts}; its stderr:\n{stderr}",
            args.recordings
        );
    }
    let on_disk = recordings::inspect(&record_dir)?;
    check(&record_dir, args.recordings)?;
    Ok(Recorded {
        dir: record_dir,
        dependency,
        count: on_disk.files,
        bytes: on_disk.bytes,
        elapsed,
    })
}

/// Sends orders `0..count` to the service, `concurrency` at a time; each
/// must be answered 200 with its own confirmation.
async fn send_orders(port: u16, count: u64, concurrency: u32) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the recording client")?;
    let url = format!("http://127.0.0.1:{port}/orders");
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.clone(), Arc::clone(&next));
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(());
                }
                place(&client, &url, i)
                    .await
                    .with_context(|| format!("order {i}"))?;
            }
        });
    }
    while let Some(joined) = senders.join_next().await {
        joined.context("a sending task failed")??;
    }
    Ok(())
}

/// Places order `i` and checks the answer is its confirmation.
async fn place(client: &reqwest::Client, url: &str, i: u64) -> anyhow::Result<()> {
    let order = orders::order(i);
    let response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(order.to_string())
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!("answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let answer: Value = serde_json::from_slice(&body).context("the answer is not JSON")?;
    if answer["order"] != order["order"] {
        bail!("answered for another order: {answer}");
    }
    Ok(())
}

/// Every recording in `dir` reads back as one answered order with its
/// calls, and there are `count` of them, each with its own request.
fn check(dir: &Path, count: u64) -> anyhow::Result<()> {
    let loaded = RecordingStore::new(dir)
        .load()
        .with_context(|| format!("reading the recordings in {}", dir.display()))?;
    if let Some(error) = loaded.errors.first() {
        let mut why = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            why.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        bail!(
            "{} recordings cannot be read; the first: {why}",
            loaded.errors.len()
        );
    }
    let mut requests = HashSet::new();
    for stored in &loaded.recordings {
        let recording = &stored.recording;
        let path = stored.path.display();
        let inbound = recording
            .inbound()
            .with_context(|| format!("{path} has no inbound request"))?;
        let status = inbound.response.as_ref().map(|response| response.status);
        let calls = recording.outbound().count();
        if recording.service_name != SERVICE_NAME || status != Some(200) {
            bail!(
                "{path}: a request of {} answered {status:?}",
                recording.service_name
            );
        }
        if calls != CALLS_PER_ORDER {
            bail!("{path} holds {calls} outbound calls, not {CALLS_PER_ORDER}");
        }
        requests.insert(inbound.request.body.bytes.clone());
    }
    if loaded.recordings.len() as u64 != count || requests.len() as u64 != count {
        bail!(
            "{} orders sent, but {} recordings with {} different requests were written",
            count,
            loaded.recordings.len(),
            requests.len()
        );
    }
    Ok(())
}
