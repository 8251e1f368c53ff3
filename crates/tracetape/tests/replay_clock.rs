//! The replay clock, the library's side, without the preload library: a
//! replayed request served through `TraceLayer::with_replayer`, with
//! `TRACETAPE_REPLAY_CLOCK` naming a clock file, writes the recorded
//! request's shift (recorded start minus the real time its replay began)
//! into the slot of each thread that runs its handler, and of the threads
//! running work carried there with `context::spawn` and
//! `context::spawn_blocking`; a plain `spawn_blocking` gets none, and the
//! slot is cleared once the handler has answered.
//!
//! The variable is read once per process, so the test binary runs itself
//! as a child with it set; the child prints what each thread's slot held.

#![cfg(all(target_os = "linux", feature = "record-replay", feature = "axum"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt as _;
use opentelemetry::trace::{SpanId, TraceId};
use tower::ServiceExt as _;
use tracetape::record::{
    BodyRecord, Exchange, ExchangeKind, RecordSettings, Recording, RequestRecord, ResponseRecord,
};
use tracetape::replay::{REPLAY_HEADER, ReplayId, Replayer};
use tracetape::server::TraceLayer;

/// Set for the child: the recordings directory (the child runs when set).
const CHILD_DIR: &str = "TRACETAPE_TEST_CLOCK_RECORDINGS";
/// The variable the library reads.
const CLOCK_VAR: &str = "TRACETAPE_REPLAY_CLOCK";

/// When the recorded request started: 2021-03-04T10:00:00Z.
const RECORDED: i128 = 1_614_852_000_000_000_000;

/// The child's side: one replayed request, answered with what the slots
/// held while it was served, then what the handler thread's slot holds.
#[test]
#[ignore = "run in a child process by the other test"]
fn child() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let recording = recording();
    std::fs::write(dir.join("clock.json"), recording.to_otlp_json().unwrap()).unwrap();
    let mut settings = RecordSettings::default();
    settings.dir = dir;
    let replayer = Replayer::load(&settings, "front").unwrap();
    let id = ReplayId::of(&recording).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/clock", get(handler))
        .layer(TraceLayer::new().with_replayer(replayer));
    let request = Request::get("/clock")
        .header(REPLAY_HEADER, id.to_string())
        .body(axum::body::Body::empty())
        .unwrap();
    let body = runtime.block_on(async {
        let response = app.oneshot(request).await.unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    });
    println!("child: {}", String::from_utf8_lossy(&body));
    println!("child: after={}", own_slot());
}

/// Reads the calling thread's slot in the handler and in the work it
/// hands on.
async fn handler() -> String {
    let here = own_slot();
    let task = tracetape::context::spawn(async { own_slot() })
        .await
        .unwrap();
    let blocking = tracetape::context::spawn_blocking(own_slot).await.unwrap();
    let plain = tokio::task::spawn_blocking(own_slot).await.unwrap();
    format!("here={here} task={task} blocking={blocking} plain={plain}")
}

/// The shift in the calling thread's slot of the clock file, or `none`
/// when the slot is not tagged with the thread's id.
fn own_slot() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    let tid: i64 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
    let file = std::fs::File::open(std::env::var_os(CLOCK_VAR).unwrap()).unwrap();
    let mut slot = [0u8; 16];
    let index = u64::try_from(tid).unwrap() % 65_536;
    file.read_exact_at(&mut slot, index * 16).unwrap();
    let tag = i64::from_ne_bytes(slot[..8].try_into().unwrap());
    let shift = i64::from_ne_bytes(slot[8..].try_into().unwrap());
    if tag == tid {
        shift.to_string()
    } else {
        "none".to_owned()
    }
}

/// A recording of `GET /clock`, started at [`RECORDED`], with no calls.
fn recording() -> Recording {
    Recording {
        trace_id: TraceId::from(7),
        service_name: "front".to_owned(),
        background: false,
        exchanges: vec![Exchange {
            kind: ExchangeKind::Server,
            span_id: SpanId::from(1),
            parent_span_id: SpanId::INVALID,
            name: "GET /clock".to_owned(),
            route: Some("/clock".to_owned()),
            start_unix_nanos: u64::try_from(RECORDED).unwrap(),
            end_unix_nanos: u64::try_from(RECORDED).unwrap() + 1_000_000,
            request: RequestRecord {
                method: "GET".to_owned(),
                url: "/clock".to_owned(),
                headers: Vec::new(),
                body: BodyRecord::default(),
            },
            response: Some(ResponseRecord {
                status: 200,
                headers: Vec::new(),
                body: BodyRecord::default(),
                trailers: Vec::new(),
            }),
            error: None,
        }],
    }
}

fn unix_nanos() -> i128 {
    i128::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

/// Runs the child with the clock file `clock`; what it printed.
fn run_child(clock: &Path, recordings: &Path) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_DIR, recordings)
        .env(CLOCK_VAR, clock)
        .env_remove("TRACETAPE_UNPATCHED_REPORT")
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// What the child said `key` was.
fn said<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    stdout
        .split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the child did not say {key}:\n{stdout}"))
}

#[test]
fn a_replayed_handler_and_the_work_it_carries_its_context_to_run_on_the_recorded_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::File::create(&clock)
        .unwrap()
        .set_len(65_536 * 16 + 16)
        .unwrap();
    let recordings = dir.path().join("recordings");
    std::fs::create_dir(&recordings).unwrap();

    let from = unix_nanos();
    let stdout = run_child(&clock, &recordings);
    let to = unix_nanos();

    // Recorded start minus the real time the replay began, which was
    // within the child's run.
    let (least, most) = (RECORDED - to, RECORDED - from);
    for key in ["here", "task", "blocking"] {
        let shift: i128 = said(&stdout, key)
            .parse()
            .unwrap_or_else(|_| panic!("{key}: no shift:\n{stdout}"));
        assert!(
            least <= shift && shift <= most,
            "{key}: {shift} not in {least}..={most}:\n{stdout}"
        );
    }
    // A plain spawn_blocking does not carry the request's context.
    assert_eq!(said(&stdout, "plain"), "none", "{stdout}");
    // Once answered, the thread reads real time again.
    assert_eq!(said(&stdout, "after"), "none", "{stdout}");
}
