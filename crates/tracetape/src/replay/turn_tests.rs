//! Requests replayed together as one group take turns: a real axum
//! service with state (a counter numbering rentals as its dependency
//! confirms them, a list of what was numbered so far) behind the server
//! layer, its dependency called through the reqwest middleware and
//! answered from recordings made by hand, in which the requests
//! overlapped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use opentelemetry::trace::{SpanId, TraceId};
use reqwest_middleware::ClientBuilder;

use super::{REPLAY_GROUP_HEADER, REPLAY_HEADER, ReplayId, Replayer};
use crate::client::{TraceLayer as ClientLayer, TracingMiddleware};
use crate::record::{
    BodyRecord, Exchange, ExchangeKind, RecordSettings, Recording, RequestRecord, ResponseRecord,
};

/// Nothing listens here.
const CLOSED: &str = "http://127.0.0.1:9";

/// The depot: `POST /rent/{who}` asks the dependency to confirm, then
/// numbers the rental and answers `{who}:{number}`; `GET /list` answers
/// the rentals numbered so far.
#[derive(Clone)]
struct Depot {
    layer: ClientLayer,
    next: Arc<AtomicU64>,
    rentals: Arc<Mutex<Vec<String>>>,
}

async fn rent(State(depot): State<Depot>, Path(who): Path<String>) -> String {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::from(depot.layer.clone()))
        .build();
    let confirmed = client
        .get(format!("{CLOSED}/confirm?who={who}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(confirmed, "yes");
    let number = depot.next.fetch_add(1, Ordering::SeqCst) + 1;
    let rental = format!("{who}:{number}");
    depot.rentals.lock().unwrap().push(rental.clone());
    rental
}

async fn list(State(depot): State<Depot>) -> String {
    depot.rentals.lock().unwrap().join(",")
}

fn exchange(
    kind: ExchangeKind,
    span: u64,
    url: &str,
    (start, end): (u64, u64),
    body: &str,
) -> Exchange {
    Exchange {
        kind,
        span_id: SpanId::from(span),
        parent_span_id: if kind == ExchangeKind::Server {
            SpanId::INVALID
        } else {
            SpanId::from(span - 1)
        },
        name: "GET".to_owned(),
        route: None,
        start_unix_nanos: start,
        end_unix_nanos: end,
        request: RequestRecord {
            method: if url.starts_with("/rent") {
                "POST"
            } else {
                "GET"
            }
            .to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: BodyRecord::default(),
        },
        response: Some(ResponseRecord {
            status: 200,
            headers: Vec::new(),
            body: BodyRecord {
                bytes: body.to_owned().into(),
                truncated: false,
                size: body.len() as u64,
            },
            trailers: Vec::new(),
        }),
        error: None,
    }
}

/// A recorded rental by `who`: the request from `start` to `end`, its
/// confirmation answered at `confirmed`.
fn rental(trace: u128, who: &str, (start, confirmed, end): (u64, u64, u64)) -> Recording {
    let span = u64::try_from(trace).unwrap() * 10;
    Recording {
        trace_id: TraceId::from(trace),
        service_name: "depot".to_owned(),
        background: false,
        exchanges: vec![
            exchange(
                ExchangeKind::Server,
                span,
                &format!("/rent/{who}"),
                (start, end),
                "",
            ),
            exchange(
                ExchangeKind::Client,
                span + 1,
                &format!("{CLOSED}/confirm?who={who}"),
                (start + 1, confirmed),
                "yes",
            ),
        ],
    }
}

/// A recorded list, from `start` to `end`.
fn listing(trace: u128, (start, end): (u64, u64)) -> Recording {
    let span = u64::try_from(trace).unwrap() * 10;
    Recording {
        trace_id: TraceId::from(trace),
        service_name: "depot".to_owned(),
        background: false,
        exchanges: vec![exchange(
            ExchangeKind::Server,
            span,
            "/list",
            (start, end),
            "",
        )],
    }
}

/// The depot replaying `recordings`, served on loopback.
async fn depot(dir: &std::path::Path, recordings: &[&Recording]) -> SocketAddr {
    for (i, recording) in recordings.iter().enumerate() {
        std::fs::write(
            dir.join(format!("{i}.json")),
            recording.to_otlp_json().unwrap(),
        )
        .unwrap();
    }
    let settings = RecordSettings {
        dir: dir.to_owned(),
        ..RecordSettings::default()
    };
    let replayer = Replayer::load(&settings, "depot").unwrap();
    let state = Depot {
        layer: ClientLayer::from_lookup(|_| None).with_replayer(replayer.clone()),
        next: Arc::default(),
        rentals: Arc::default(),
    };
    let app = Router::new()
        .route("/rent/{who}", post(rent))
        .route("/list", get(list))
        .with_state(state)
        .layer(crate::server::TraceLayer::new().with_replayer(replayer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends the replay of every recording at once, in the order given, each
/// with the group header `group` when there is one; the bodies of the
/// answers, in the same order.
async fn replay_together(
    addr: SocketAddr,
    recordings: &[&Recording],
    group: Option<&str>,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let sent: Vec<_> = recordings
        .iter()
        .map(|recording| {
            let inbound = recording.inbound().unwrap();
            let method = http::Method::from_bytes(inbound.request.method.as_bytes()).unwrap();
            let mut request = client
                .request(method, format!("http://{addr}{}", inbound.request.url))
                .header(REPLAY_HEADER, ReplayId::of(recording).unwrap().to_string());
            if let Some(group) = group {
                request = request.header(REPLAY_GROUP_HEADER, group);
            }
            tokio::spawn(async move { request.send().await.unwrap().text().await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for answer in sent {
        answers.push(answer.await.unwrap());
    }
    answers
}

/// Three rentals and a list served at the same time when recorded: the
/// dependency confirmed c first, then a, then b, and the list started
/// between c's and a's confirmations.
fn overlapping() -> [Recording; 4] {
    [
        rental(1, "a", (100, 210, 310)),
        rental(2, "b", (110, 220, 320)),
        rental(3, "c", (120, 200, 300)),
        listing(4, (205, 206)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_replayed_together_take_their_steps_in_recorded_order() {
    let tmp = tempfile::tempdir().unwrap();
    let [a, b, c, list] = overlapping();
    let all = [&a, &b, &c, &list];
    for round in 0..5 {
        let dir = tmp.path().join(round.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let addr = depot(&dir, &all).await;
        // Sent in another order than recorded, all at once: numbered as
        // the dependency confirmed them when recorded, and the list sees
        // just c.
        let answers = replay_together(addr, &[&list, &a, &b, &c], Some("7/4")).await;
        assert_eq!(answers, ["c:1", "a:2", "b:3", "c:1"], "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_group_requests_are_served_as_they_come() {
    // Without the group header there are no turns: the numbers follow the
    // order the requests come in, not the recorded one.
    let tmp = tempfile::tempdir().unwrap();
    let [a, b, c, _] = overlapping();
    let addr = depot(tmp.path(), &[&a, &b, &c]).await;
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for recording in [&a, &b, &c] {
        let inbound = recording.inbound().unwrap();
        answers.push(
            client
                .post(format!("http://{addr}{}", inbound.request.url))
                .header(REPLAY_HEADER, ReplayId::of(recording).unwrap().to_string())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    assert_eq!(answers, ["a:1", "b:2", "c:3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_waiting_for_a_request_that_never_comes_goes_on() {
    // The group is said to have four requests; three come. After a while
    // with nothing moving, the group goes on without the fourth, in
    // recorded order.
    let tmp = tempfile::tempdir().unwrap();
    let [a, b, c, list] = overlapping();
    let addr = depot(tmp.path(), &[&a, &b, &c, &list]).await;
    let answers = replay_together(addr, &[&b, &c, &a], Some("9/4")).await;
    assert_eq!(answers, ["b:3", "c:1", "a:2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_header_that_cannot_be_read_is_no_group() {
    let tmp = tempfile::tempdir().unwrap();
    let [a, ..] = overlapping();
    let addr = depot(tmp.path(), &[&a]).await;
    for header in ["x/2", "3", "5/1", "5/zero", ""] {
        let answers = replay_together(addr, &[&a], Some(header)).await;
        assert!(answers[0].starts_with("a:"), "{header}: {answers:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_header_naming_a_huge_group_reserves_nothing_for_it() {
    // The size is read from the header: a request of a group said to have
    // usize::MAX members is served (once the watch gives up on the
    // others), not a capacity overflow.
    let tmp = tempfile::tempdir().unwrap();
    let [a, ..] = overlapping();
    let addr = depot(tmp.path(), &[&a]).await;
    let header = format!("11/{}", usize::MAX);
    let answers = replay_together(addr, &[&a], Some(&header)).await;
    assert!(answers[0].starts_with("a:"), "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_comes_after_its_group_went_on_is_served() {
    // The group is said to have four requests; three come and, once the
    // watch gives up on the fourth, are served in recorded order. Then
    // the fourth comes after all (a connection that took long to open):
    // it is served too, at once, not held for turns that never come.
    let tmp = tempfile::tempdir().unwrap();
    let [a, b, c, list] = overlapping();
    let addr = depot(tmp.path(), &[&a, &b, &c, &list]).await;
    let answers = replay_together(addr, &[&b, &c, &a], Some("13/4")).await;
    assert_eq!(answers, ["b:3", "c:1", "a:2"]);
    let late = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        replay_together(addr, &[&list], Some("13/4")),
    )
    .await
    .expect("the late request was held back");
    assert_eq!(late, ["c:1,a:2,b:3"]);
}
