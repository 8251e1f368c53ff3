//! Replay, in-process: checkouts recorded by the three services (record
//! mode, as in `record.rs`), then checkout alone in replay mode, its
//! guard's recordings carried into its layers by
//! `Instrumentation::from_guard` (nothing process-wide), and each
//! recorded request sent again with the replay header. Inventory and
//! pricing are gone by then: their ports stay bound but nothing serves
//! them, and every connection made to them is counted.
//!
//! The example has no streaming endpoint, so streamed bodies are left to
//! the library's own tests.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::middleware::Next;
use microservices::{Behaviour, Instrumentation, Order, Receipt, Upstreams};
use reqwest::Url;
use tokio::sync::{Barrier, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tracetape::record::{BodyRecord, HeaderRecord, Recording, RecordingStore, ResponseRecord};
use tracetape::replay::matching::Level;
use tracetape::replay::{REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId, ReplayLog};
use tracetape::{Telemetry, TelemetryGuard};
use tracetape_compare::{Change, CompareOptions, Comparison, DeviationKind, compare};

use crate::support::{RecordingStack, TempDir, Tripwire, tracetape_env};

/// The baggage every recorded checkout carries: checkout echoes the
/// tenant in its receipt, so it must be sent again.
const BAGGAGE: &str = "tenant=acme";

/// Recorded request headers not sent again: the connection's own, and
/// the trace context of the recorded run (the replay starts its own).
const NOT_SENT: [&str; 14] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
];

fn order(order_id: &str, items: &[(&str, u32)]) -> Order {
    Order::of(order_id, items)
}

fn base_url(addr: SocketAddr) -> Url {
    Url::parse(&format!("http://{addr}")).unwrap()
}

/// Checkouts recorded by the three services, and what is left of
/// inventory and pricing: their ports, bound, with nothing serving them.
struct Recorded {
    _tmp: TempDir,
    dir: PathBuf,
    /// Where checkout called inventory and pricing when recorded; the
    /// recorded calls' URLs hold these ports, so the replayed checkout
    /// must call the same.
    upstreams: Upstreams,
    inventory: Tripwire,
    pricing: Tripwire,
    /// Checkout's recordings, in the order of the orders given.
    checkouts: Vec<Recording>,
    /// Every recording of the store (the three services').
    recordings: usize,
}

impl Recorded {
    /// Asserts that no connection reached inventory or pricing.
    async fn assert_untouched(&mut self) {
        assert_eq!(
            self.inventory.connections().await,
            0,
            "a connection reached inventory"
        );
        assert_eq!(
            self.pricing.connections().await,
            0,
            "a connection reached pricing"
        );
    }
}

/// Serves the three services in record mode, checks out `orders`
/// (concurrently, each with the tenant baggage), waits for every
/// recording to be written, then stops them.
async fn record(orders: &[Order]) -> Recorded {
    let tmp = TempDir::new();
    let dir = tmp.path().join("recordings");
    // The recording runs on a runtime of its own, shut down before the
    // ports are watched: checkout's client starts spare connections in
    // the background (hyper's pool races a fresh connection against a
    // pooled one), and one still under way when the services stop would
    // otherwise reach a port after the replay has started counting.
    let (upstreams, sockets, server_spans) = {
        let (dir, orders) = (dir.clone(), orders.to_vec());
        tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            let recorded = runtime.block_on(serve_and_check_out(&dir, &orders));
            runtime.shutdown_timeout(Duration::from_secs(10));
            recorded
        })
        .await
        .unwrap()
    };

    let loaded = RecordingStore::new(&dir).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let recordings = loaded.recordings.len();
    assert_eq!(recordings, server_spans, "one recording per request served");
    let mut by_order: HashMap<String, Recording> = loaded
        .recordings
        .into_iter()
        .map(|stored| stored.recording)
        .filter(|recording| recording.service_name == "checkout")
        .map(|recording| {
            let inbound = recording.inbound().unwrap();
            let sent: Order = serde_json::from_slice(&inbound.request.body.bytes).unwrap();
            (sent.order_id, recording)
        })
        .collect();
    let checkouts = orders
        .iter()
        .map(|order| by_order.remove(&order.order_id).unwrap())
        .collect();
    let mut recorded = Recorded {
        _tmp: tmp,
        dir,
        upstreams,
        inventory: Tripwire::new(sockets.inventory),
        pricing: Tripwire::new(sockets.pricing),
        checkouts,
        recordings,
    };
    // Checkout's client may have raced a fresh connection against a pooled
    // one while recording (hyper's pool does); such connections wait in
    // the stopped services' accept queues. They belong to the recording,
    // not to the replay, which starts counting from here.
    recorded.inventory.settle().await;
    recorded.pricing.settle().await;
    recorded
}

/// What `record` does on its own runtime: the three services in record
/// mode, `orders` checked out concurrently, every recording written; the
/// upstreams checkout called, the services' sockets (still bound) and the
/// SERVER spans ended.
async fn serve_and_check_out(
    dir: &std::path::Path,
    orders: &[Order],
) -> (
    Upstreams,
    microservices::PerService<std::net::TcpListener>,
    usize,
) {
    let stack = RecordingStack::start(dir).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/checkout", stack.addrs.checkout);
    let mut sent = JoinSet::new();
    for order in orders {
        let (client, url, order) = (client.clone(), url.clone(), order.clone());
        sent.spawn(async move {
            let response = client
                .post(url)
                .header("baggage", BAGGAGE)
                .header("authorization", "Bearer tok-recorded")
                .json(&order)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{}", order.order_id);
            // Reading the body to its end is what ends the SERVER span.
            response.bytes().await.unwrap();
        });
    }
    while let Some(done) = sent.join_next().await {
        done.unwrap();
    }
    // Per checkout: checkout's own; inventory's stock per item and two
    // reservation attempts; pricing's quote per item.
    let server_spans = orders.iter().map(|o| 3 + 2 * o.items.len()).sum();
    stack.flush(server_spans).await;
    let upstreams = Upstreams {
        inventory: base_url(stack.addrs.inventory),
        pricing: base_url(stack.addrs.pricing),
    };
    (upstreams, stack.stop().await, server_spans)
}

/// Checkout alone, in replay mode over a recorded store.
struct Replaying {
    addr: SocketAddr,
    client: reqwest::Client,
    guard: TelemetryGuard,
    stop: oneshot::Sender<()>,
    server: JoinHandle<io::Result<()>>,
}

/// One replayed request: the response, as the recorded ones are, and its
/// replay log.
struct Replayed {
    response: ResponseRecord,
    log: ReplayLog,
}

impl Replayed {
    /// The response compared with `recording`'s, as `tracetape replay`
    /// compares them.
    fn compared_with(&self, recording: &Recording) -> Comparison {
        let recorded = recording.inbound().unwrap().response.as_ref().unwrap();
        compare(recorded, &self.response, &CompareOptions::default())
    }
}

impl Replaying {
    /// Serves checkout as `cargo run -p tracetape-microservices -- checkout` would
    /// with `TRACETAPE_MODE=replay` and the recording's store, calling the
    /// recorded upstreams, changed by `behaviour`; `wrap` may add layers
    /// around it.
    async fn start(
        recorded: &Recorded,
        behaviour: Behaviour,
        wrap: impl FnOnce(Router) -> Router,
    ) -> Replaying {
        let vars = tracetape_env("replay", &recorded.dir);
        let guard = Telemetry::builder()
            .with_service_name("checkout")
            .with_env_lookup(move |name| vars.get(name).cloned())
            .build();
        let replayer = guard
            .replayer()
            .expect("TRACETAPE_MODE=replay loads the recordings");
        assert_eq!(replayer.len(), recorded.recordings);
        let instrumentation = Instrumentation::from_guard(&guard);
        let app = wrap(microservices::checkout_with(
            recorded.upstreams.clone(),
            behaviour,
            &instrumentation,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(microservices::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Replaying {
            addr,
            client: reqwest::Client::new(),
            guard,
            stop,
            server,
        }
    }

    /// Sends `recording`'s inbound request again (method, path, headers
    /// but those of the connection and the trace, body), marked as its
    /// replay.
    async fn replay(&self, recording: &Recording) -> Replayed {
        let id = ReplayId::of(recording).unwrap();
        let inbound = recording.inbound().unwrap();
        let method = reqwest::Method::from_bytes(inbound.request.method.as_bytes()).unwrap();
        let mut request = self.client.request(
            method,
            format!("http://{}{}", self.addr, inbound.request.url),
        );
        for header in &inbound.request.headers {
            if !NOT_SENT.contains(&header.name.as_str()) {
                request = request.header(header.name.as_str(), &header.value[..]);
            }
        }
        let response = request
            .header(REPLAY_HEADER, id.to_string())
            .body(inbound.request.body.bytes.clone())
            .send()
            .await
            .unwrap();
        let log = response
            .headers()
            .get(REPLAY_LOG_HEADER)
            .unwrap_or_else(|| panic!("no {REPLAY_LOG_HEADER} in the answer to {id}"));
        let log = ReplayLog::from_json(log.as_bytes()).unwrap();
        assert!(log.found, "{id} is in the store");
        assert_eq!(log.recording, id.to_string());
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| HeaderRecord {
                name: name.as_str().to_owned(),
                value: Bytes::copy_from_slice(value.as_bytes()),
            })
            .collect();
        let body = response.bytes().await.unwrap();
        let response = ResponseRecord {
            status,
            headers,
            body: BodyRecord {
                size: body.len() as u64,
                bytes: body,
                truncated: false,
            },
            trailers: Vec::new(),
        };
        Replayed { response, log }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        let guard = self.guard;
        tokio::task::block_in_place(|| drop(guard));
    }
}

/// Asserts that every recorded call of `recording` answered one call of
/// `log`, exactly and once, the call with its recorded URL; nothing
/// missing, nothing unused.
fn assert_answered_exactly(recording: &Recording, log: &ReplayLog) {
    let recorded: Vec<&str> = recording
        .outbound()
        .map(|call| call.request.url.as_str())
        .collect();
    assert_eq!(log.missing().count(), 0, "{log:#?}");
    assert!(log.unused.is_empty(), "{log:#?}");
    assert_eq!(log.calls.len(), recorded.len(), "{log:#?}");
    let mut used: Vec<usize> = Vec::new();
    for call in &log.calls {
        assert_eq!(call.level, Some(Level::Exact), "{call:?}");
        assert!(!call.reused, "{call:?}");
        let index = call.index.unwrap();
        assert_eq!(call.url, recorded[index], "{call:?}");
        used.push(index);
    }
    used.sort_unstable();
    assert_eq!(used, (0..recorded.len()).collect::<Vec<_>>());
}

/// The recorded status of each `POST /reserve` call of `log`, in the
/// order the calls were made.
fn reservation_statuses(recording: &Recording, log: &ReplayLog) -> Vec<u16> {
    let recorded: Vec<_> = recording.outbound().collect();
    log.calls
        .iter()
        .filter(|call| call.url.ends_with("/reserve"))
        .map(|call| {
            let answered = recorded[call.index.unwrap()];
            answered.response.as_ref().unwrap().status
        })
        .collect()
}

fn receipt(response: &ResponseRecord) -> Receipt {
    serde_json::from_slice(&response.body.bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_checkouts_answer_as_recorded_without_reaching_the_dependencies() {
    let orders = [
        order("replay-1", &[("tea", 2)]),
        order("replay-2", &[("cake", 1), ("coffee", 3)]),
        order("replay-3", &[("jam", 5)]),
    ];
    let mut recorded = record(&orders).await;
    let checkout = Replaying::start(&recorded, Behaviour::default(), |app| app).await;

    for (order, recording) in orders.iter().zip(&recorded.checkouts) {
        let replayed = checkout.replay(recording).await;
        let comparison = replayed.compared_with(recording);
        assert!(comparison.is_match(), "{}: {comparison:#?}", order.order_id);
        let receipt = receipt(&replayed.response);
        assert_eq!(receipt.order_id, order.order_id);
        assert_eq!(receipt.tenant.as_deref(), Some("acme"));
        // Every call answered from the recording, at the exact level: a
        // stock check and a quote per item, two reservation attempts.
        assert_answered_exactly(recording, &replayed.log);
        assert_eq!(replayed.log.calls.len(), 2 * order.items.len() + 2);
        // The retry replayed as recorded: the first attempt got the
        // recorded 503, the retry the recorded 200.
        assert_eq!(
            reservation_statuses(recording, &replayed.log),
            [503, 200],
            "{:#?}",
            replayed.log
        );
    }

    // A request that is not a replay is not sent to the network either:
    // its calls go to the background recordings, and there are none.
    let response = checkout
        .client
        .post(format!("http://{}/checkout", checkout.addr))
        .json(&orders[0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert!(!response.headers().contains_key(REPLAY_LOG_HEADER));

    recorded.assert_untouched().await;
    checkout.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discount_is_reported_at_total_cents() {
    let orders = [
        order("discount-1", &[("tea", 2)]),
        order("discount-2", &[("cake", 1), ("coffee", 3)]),
    ];
    let mut recorded = record(&orders).await;
    let behaviour = Behaviour {
        discount_percent: 10,
        ..Behaviour::default()
    };
    let checkout = Replaying::start(&recorded, behaviour, |app| app).await;

    for recording in &recorded.checkouts {
        let replayed = checkout.replay(recording).await;
        let before = receipt(recording.inbound().unwrap().response.as_ref().unwrap()).total_cents;
        let after = before - before / 10;
        assert_ne!(before, after);
        assert_eq!(receipt(&replayed.response).total_cents, after);

        let comparison = replayed.compared_with(recording);
        let [deviation] = &comparison.deviations[..] else {
            panic!("one deviation: {comparison:#?}");
        };
        assert_eq!(deviation.kind, DeviationKind::Body);
        assert_eq!(deviation.change, Change::Changed);
        assert_eq!(deviation.path.as_deref(), Some("$.total_cents"));
        assert_eq!(deviation.expected, Some(before.to_string()));
        assert_eq!(deviation.actual, Some(after.to_string()));
        assert_eq!(
            deviation.to_string(),
            format!("body $.total_cents: expected {before}, actual {after}")
        );
        assert!(
            deviation.suggestion.contains("record this request again")
                && deviation.suggestion.contains("$.total_cents"),
            "{}",
            deviation.suggestion
        );
        // Only the answer changed: the calls are the recorded ones.
        assert_answered_exactly(recording, &replayed.log);
    }

    recorded.assert_untouched().await;
    checkout.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_replays_are_each_answered_from_their_own_recording() {
    const N: usize = 200;
    const SKUS: [&str; 4] = ["tea", "cake", "coffee", "jam"];
    // A distinct order id and (sku, qty) each: every recording's quote
    // and reservation mocks differ from every other's.
    let orders: Vec<Order> = (0..N)
        .map(|i| {
            let qty = u32::try_from(1 + i / SKUS.len()).unwrap();
            order(&format!("many-{i:03}"), &[(SKUS[i % SKUS.len()], qty)])
        })
        .collect();
    let mut recorded = record(&orders).await;
    // No request goes on into checkout until all N are in it.
    let barrier = Arc::new(Barrier::new(N));
    let checkout = Arc::new(
        Replaying::start(&recorded, Behaviour::default(), |app| {
            app.layer(axum::middleware::from_fn(
                move |request: Request, next: Next| {
                    let barrier = Arc::clone(&barrier);
                    async move {
                        barrier.wait().await;
                        next.run(request).await
                    }
                },
            ))
        })
        .await,
    );

    let mut replays = JoinSet::new();
    for (i, recording) in recorded.checkouts.iter().enumerate() {
        let (checkout, recording) = (Arc::clone(&checkout), recording.clone());
        replays.spawn(async move { (i, checkout.replay(&recording).await) });
    }
    let mut done = 0;
    while let Some(joined) = tokio::time::timeout(Duration::from_secs(60), replays.join_next())
        .await
        .expect("every replay is answered")
    {
        let (i, replayed) = joined.unwrap();
        let recording = &recorded.checkouts[i];
        let comparison = replayed.compared_with(recording);
        assert!(
            comparison.is_match(),
            "{}: {comparison:#?}",
            orders[i].order_id
        );
        // The same, spelled out: another recording's mock would have put
        // another order's line in the receipt.
        let receipt = receipt(&replayed.response);
        assert_eq!(receipt.order_id, orders[i].order_id);
        let line = (receipt.lines[0].sku.as_str(), receipt.lines[0].qty);
        let item = &orders[i].items[0];
        assert_eq!(line, (item.sku.as_str(), item.qty));
        assert_eq!(
            replayed.log.recording,
            ReplayId::of(recording).unwrap().to_string()
        );
        assert_answered_exactly(recording, &replayed.log);
        assert_eq!(reservation_statuses(recording, &replayed.log), [503, 200]);
        done += 1;
    }
    assert_eq!(done, N);

    recorded.assert_untouched().await;
    Arc::into_inner(checkout).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_call_has_no_mock_and_is_reported_missing() {
    let orders = [order("extra-1", &[("tea", 2)])];
    let mut recorded = record(&orders).await;
    let behaviour = Behaviour {
        promotions: true,
        ..Behaviour::default()
    };
    let checkout = Replaying::start(&recorded, behaviour, |app| app).await;
    let recording = &recorded.checkouts[0];

    let replayed = checkout.replay(recording).await;
    let log = &replayed.log;
    let missing: Vec<_> = log.missing().collect();
    let [missing] = missing[..] else {
        panic!("one missing call: {log:#?}");
    };
    assert_eq!(missing.method, "GET");
    assert_eq!(
        missing.url,
        format!("{}promotions", recorded.upstreams.pricing)
    );
    assert_eq!(missing.index, None);
    // The recorded calls all answered; only the new one had no answer.
    assert_eq!(log.calls.len(), recording.outbound().count() + 1);
    assert!(log.unused.is_empty(), "{log:#?}");
    let answered = log.calls.iter().filter(|call| call.level.is_some());
    assert!(
        answered
            .clone()
            .all(|call| call.level == Some(Level::Exact))
    );
    assert_eq!(answered.count(), recording.outbound().count());
    // Checkout fails as it would if pricing did not answer.
    let comparison = replayed.compared_with(recording);
    let status = &comparison.deviations[0];
    assert_eq!(status.kind, DeviationKind::Status);
    assert_eq!(
        (status.expected.as_deref(), status.actual.as_deref()),
        (Some("200"), Some("502"))
    );

    recorded.assert_untouched().await;
    checkout.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_call_leaves_its_mocks_unused() {
    let orders = [order("skip-1", &[("tea", 2)])];
    let mut recorded = record(&orders).await;
    let behaviour = Behaviour {
        skip_reservation: true,
        ..Behaviour::default()
    };
    let checkout = Replaying::start(&recorded, behaviour, |app| app).await;
    let recording = &recorded.checkouts[0];

    let replayed = checkout.replay(recording).await;
    // The answer does not depend on the reservation: only the log tells.
    let comparison = replayed.compared_with(recording);
    assert!(comparison.is_match(), "{comparison:#?}");
    let log = &replayed.log;
    assert_eq!(log.missing().count(), 0, "{log:#?}");
    assert_eq!(log.calls.len(), 2, "a stock check and a quote: {log:#?}");
    assert!(
        log.calls
            .iter()
            .all(|call| call.level == Some(Level::Exact))
    );
    let reservations: Vec<(usize, &str, &str)> = recording
        .outbound()
        .enumerate()
        .filter(|(_, call)| call.request.url.ends_with("/reserve"))
        .map(|(index, call)| (index, "POST", call.request.url.as_str()))
        .collect();
    assert_eq!(reservations.len(), 2);
    let unused: Vec<(usize, &str, &str)> = log
        .unused
        .iter()
        .map(|unused| (unused.index, unused.method.as_str(), unused.url.as_str()))
        .collect();
    assert_eq!(unused, reservations);

    recorded.assert_untouched().await;
    checkout.stop().await;
}
