//! Many requests at once on a 4-worker runtime: work spawned from handlers
//! stays in its own request's trace, handlers resumed on other workers keep
//! their SERVER span, and nothing is left attached to a worker afterwards.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt, TraceId, Tracer};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracetape::context;

use super::{Spans, plain_client, w3c};
use crate::support::serve;

/// The attribute that ties every span to the request it was made for.
const REQUEST: &str = "test.request";

fn request_of(span: &SpanData) -> i64 {
    match span.attributes.iter().find(|kv| kv.key.as_str() == REQUEST) {
        Some(kv) => match kv.value {
            Value::I64(n) => n,
            ref other => panic!("{REQUEST} = {other:?}"),
        },
        None => panic!("{:?} has no {REQUEST}", span.name),
    }
}

fn traced(app: Router, spans: &Spans) -> Router {
    app.layer(
        tracetape::server::TraceLayer::new()
            .with_tracer_provider(spans.provider().clone())
            .with_propagator(w3c()),
    )
}

/// Sends `GET {path_prefix}{n}` for every `n` in `0..count`, all at once.
async fn send_all(addr: std::net::SocketAddr, path_prefix: &str, count: i64) {
    let client = plain_client();
    let mut requests = JoinSet::new();
    for n in 0..count {
        let (client, url) = (client.clone(), format!("http://{addr}{path_prefix}{n}"));
        requests.spawn(async move {
            let response = client.get(url).send().await.unwrap();
            assert!(response.status().is_success(), "{response:?}");
            response.text().await.unwrap()
        });
    }
    while let Some(body) = requests.join_next().await {
        assert_eq!(body.unwrap(), "ok");
    }
}

/// Every span that is not a SERVER span is a child of the SERVER span of
/// the request named by its attribute; returns how many each request had.
#[track_caller]
fn assert_each_in_its_own_request(spans: &[SpanData]) -> HashMap<i64, usize> {
    let servers: HashMap<i64, (TraceId, SpanId)> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .map(|s| {
            (
                request_of(s),
                (s.span_context.trace_id(), s.span_context.span_id()),
            )
        })
        .collect();
    let mut made = HashMap::new();
    for span in spans.iter().filter(|s| s.span_kind != SpanKind::Server) {
        let n = request_of(span);
        let (trace_id, server_span) = servers[&n];
        assert_eq!(
            span.span_context.trace_id(),
            trace_id,
            "{:?} of request {n} is in another trace",
            span.name
        );
        assert_eq!(
            span.parent_span_id, server_span,
            "{:?} of request {n} has another parent",
            span.name
        );
        *made.entry(n).or_insert(0) += 1;
    }
    made
}

// 1,000 requests in flight together, each handing work to a task, to the
// blocking pool and to a thread of its own: every span made there must land
// in the trace of the request that made it, never in a neighbour's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_keep_their_spawned_work_in_their_own_trace() {
    const REQUESTS: i64 = 1_000;
    let started = Instant::now();
    let mut spans = Spans::new();
    let tracer = spans.tracer();
    let app = Router::new().route(
        "/load/{n}",
        get(move |Path(n): Path<i64>| {
            let tracer = tracer.clone();
            async move {
                Context::current()
                    .span()
                    .set_attribute(KeyValue::new(REQUEST, n));
                let mark = move |name: &'static str| {
                    tracer.in_span(name, |cx| {
                        cx.span().set_attribute(KeyValue::new(REQUEST, n));
                    });
                };
                let (in_task, in_blocking, in_thread) = (mark.clone(), mark.clone(), mark);
                let task = context::spawn(async move {
                    tokio::task::yield_now().await;
                    in_task("task");
                });
                let blocking = context::spawn_blocking(move || in_blocking("blocking"));
                let (thread_done, thread_rx) = oneshot::channel();
                context::thread::spawn(move || {
                    in_thread("thread");
                    let _ = thread_done.send(());
                });
                task.await.unwrap();
                blocking.await.unwrap();
                thread_rx.await.unwrap();
                "ok"
            }
        }),
    );
    let addr = serve(traced(app, &spans)).await;

    send_all(addr, "/load/", REQUESTS).await;
    let ended = spans.next(4 * REQUESTS as usize).await;
    let made = assert_each_in_its_own_request(&ended);
    assert_eq!(made.len(), REQUESTS as usize);
    assert!(made.values().all(|&count| count == 3), "{made:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// Lets `n` parties meet: each waits until all have arrived, or the time is
/// up. Tasks that meet here hold their worker thread until then, so `n`
/// tasks on `n` workers are on different threads.
struct Rendezvous {
    arrived: Mutex<usize>,
    all_here: Condvar,
    parties: usize,
}

impl Rendezvous {
    fn new(parties: usize) -> Self {
        Self {
            arrived: Mutex::new(0),
            all_here: Condvar::new(),
            parties,
        }
    }

    /// Whether everyone arrived in time.
    fn arrive_and_wait(&self, timeout: Duration) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, timeout, |arrived| *arrived < self.parties)
            .unwrap();
        *arrived >= self.parties
    }
}

// Guards the server layer against the classic mistake: a context attached
// when a handler is polled and still attached after it yields would make
// other requests' spans children of the wrong SERVER span, and leave a
// span current on the worker. Handlers here wait five times for a oneshot
// completed by another task, so they resume on whichever worker is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handlers_resumed_on_other_workers_keep_their_span_and_leave_no_context_behind() {
    const REQUESTS: i64 = 250;
    const ROUNDS: usize = 5;
    let mut spans = Spans::new();
    let tracer = spans.tracer();

    // Completes each wait from a task of its own.
    let (completer, mut waits) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
    tokio::spawn(async move {
        while let Some(wait) = waits.recv().await {
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                let _ = wait.send(());
            });
        }
    });
    let resumed_on = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
    let threads = resumed_on.clone();
    let app = Router::new().route(
        "/resume/{n}",
        get(move |Path(n): Path<i64>| {
            let (tracer, completer, threads) = (tracer.clone(), completer.clone(), threads.clone());
            async move {
                Context::current()
                    .span()
                    .set_attribute(KeyValue::new(REQUEST, n));
                for round in 0..ROUNDS {
                    let (done, wait) = oneshot::channel();
                    completer.send(done).unwrap();
                    wait.await.unwrap();
                    threads.lock().unwrap().insert(std::thread::current().id());
                    tracer.in_span(format!("round {round}"), |cx| {
                        cx.span().set_attribute(KeyValue::new(REQUEST, n));
                    });
                }
                "ok"
            }
        }),
    );
    let addr = serve(traced(app, &spans)).await;

    send_all(addr, "/resume/", REQUESTS).await;
    let ended = spans.next(REQUESTS as usize * (1 + ROUNDS)).await;
    let made = assert_each_in_its_own_request(&ended);
    assert!(made.values().all(|&count| count == ROUNDS), "{made:?}");
    // The handlers really did move between workers.
    let resumed_on = resumed_on.lock().unwrap().len();
    assert!(
        resumed_on >= 2,
        "handlers resumed on {resumed_on} thread(s)"
    );

    // Now look at every worker: one probe each, held until all have met.
    let workers = Handle::current().metrics().num_workers();
    let rendezvous = Arc::new(Rendezvous::new(workers));
    let mut probes = JoinSet::new();
    for _ in 0..workers {
        let rendezvous = rendezvous.clone();
        probes.spawn(async move {
            let cx = Context::current();
            let left_behind = cx.has_active_span() || cx.span().span_context().is_valid();
            let met = rendezvous.arrive_and_wait(Duration::from_secs(10));
            (std::thread::current().id(), left_behind, met)
        });
    }
    let mut probed = HashSet::new();
    while let Some(probe) = probes.join_next().await {
        let (thread, left_behind, met) = probe.unwrap();
        assert!(met, "the probes did not all meet");
        assert!(!left_behind, "a span is still current on worker {thread:?}");
        probed.insert(thread);
    }
    assert_eq!(probed.len(), workers, "every worker probed once");
}
