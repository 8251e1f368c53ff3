//! One test per row of docs/context.md: a way work leaves the task that
//! made it, and whether the trace context goes along. Where a row is about
//! requests, a traced axum handler hands work off, the work calls a second
//! traced server through the client middleware, and the test checks the
//! ids of the spans on both sides, so the far side is a real SERVER span.
//! Rows where the context does not follow by itself are shown both ways:
//! without the helper the work starts a new trace, with it the work is the
//! request's child.

#[path = "context_concurrency.rs"]
mod concurrency;
#[path = "context_process.rs"]
mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use rayon::prelude::*;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::runtime::Handle;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::LocalSet;
use tracetape::context::{self, FutureExt as _};
use tracetape::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::support::serve;

// ---------------------------------------------------------------------------
// Support: spans to wait on, a traced downstream service, id assertions.
// ---------------------------------------------------------------------------

/// W3C Trace Context and Baggage.
pub(crate) fn w3c() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// Counts the spans that end, so that a test waits for them instead of
/// sleeping.
#[derive(Debug)]
struct CountEnded(watch::Sender<usize>);

impl SpanExporter for CountEnded {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.send_modify(|ended| *ended += batch.len());
        Ok(())
    }
}

/// A tracer provider whose spans go to the SDK's in-memory exporter as
/// they end, with a count to wait on.
pub(crate) struct Spans {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
    ended: watch::Receiver<usize>,
    taken: usize,
}

impl Spans {
    pub(crate) fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let (count, ended) = watch::channel(0);
        // Processors run in order: a span is in memory before it is counted.
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_simple_exporter(CountEnded(count))
            .build();
        Self {
            provider,
            exporter,
            ended,
            taken: 0,
        }
    }

    pub(crate) fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    pub(crate) fn tracer(&self) -> SdkTracer {
        self.provider.tracer("context-test")
    }

    /// The next `n` spans to end, in the order they ended; waits at most
    /// ten seconds for them.
    pub(crate) async fn next(&mut self, n: usize) -> Vec<SpanData> {
        let want = self.taken + n;
        tokio::time::timeout(
            Duration::from_secs(10),
            self.ended.wait_for(|ended| *ended >= want),
        )
        .await
        .unwrap_or_else(|_| panic!("{n} more spans should have ended"))
        .unwrap();
        let spans = self.exporter.get_finished_spans().unwrap();
        let next = spans[self.taken..want].to_vec();
        self.taken = want;
        next
    }
}

/// A traced downstream service answering `GET /work`, a traced client to
/// call it with, and the spans of both.
pub(crate) struct Fixture {
    pub(crate) spans: Spans,
    pub(crate) tracer: SdkTracer,
    downstream: SocketAddr,
    client: ClientWithMiddleware,
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        let spans = Spans::new();
        let tracer = spans.tracer();
        let downstream = serve(traced(
            Router::new().route("/work", get(|| async { "work" })),
            &spans,
        ))
        .await;
        let client = ClientBuilder::new(plain_client())
            .with(tracetape::client::TracingMiddleware::from(
                tracetape::client::TraceLayer::new()
                    .with_tracer_provider(spans.provider().clone())
                    .with_propagator(w3c()),
            ))
            .build();
        Self {
            spans,
            tracer,
            downstream,
            client,
        }
    }

    /// Serves `app` traced the way a user's service is.
    pub(crate) async fn serve(&self, app: Router) -> SocketAddr {
        serve(traced(app, &self.spans)).await
    }

    /// A call to the downstream service, to move into the work that makes
    /// it.
    pub(crate) fn outbound(&self) -> Outbound {
        Outbound {
            client: self.client.clone(),
            url: format!("http://{}/work", self.downstream),
        }
    }
}

fn traced(app: Router, spans: &Spans) -> Router {
    app.layer(
        tracetape::server::TraceLayer::new()
            .with_tracer_provider(spans.provider().clone())
            .with_propagator(w3c()),
    )
}

/// A client for the test's own requests: untraced, and never through a
/// proxy, so that traffic stays on 127.0.0.1.
pub(crate) fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// GETs `path` from `addr` with an untraced client; the body.
pub(crate) async fn get_text(client: &reqwest::Client, addr: SocketAddr, path: &str) -> String {
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {response:?}");
    response.text().await.unwrap()
}

/// One call to the downstream service through the traced client.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    client: ClientWithMiddleware,
    url: String,
}

impl Outbound {
    pub(crate) async fn call(self) -> String {
        self.client
            .get(&self.url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub(crate) fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

/// `child` is in `parent`'s trace, with `parent` as its parent.
#[track_caller]
pub(crate) fn assert_child_of(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id(),
        "{:?} is not in the trace of {:?}",
        child.name,
        parent.name
    );
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "{:?} is not a child of {:?}",
        child.name,
        parent.name
    );
}

/// `span` started a trace of its own, not `request`'s.
#[track_caller]
fn assert_new_root(span: &SpanData, request: &SpanData) {
    assert_eq!(span.parent_span_id, SpanId::INVALID, "{:?}", span.name);
    assert_ne!(
        span.span_context.trace_id(),
        request.span_context.trace_id(),
        "{:?}",
        span.name
    );
}

/// The spans of one request to a handler whose work calls the downstream
/// service: the handler's SERVER span, the CLIENT span of the call, and the
/// downstream SERVER span.
struct Hop<'a> {
    server: &'a SpanData,
    client: &'a SpanData,
    downstream: &'a SpanData,
}

impl<'a> Hop<'a> {
    fn of(spans: &'a [SpanData]) -> Self {
        let find = |what: &str, pick: &dyn Fn(&SpanData) -> bool| {
            let found: Vec<_> = spans.iter().filter(|s| pick(s)).collect();
            assert_eq!(found.len(), 1, "one {what} span in {spans:#?}");
            found[0]
        };
        Self {
            server: find("handler", &|s| {
                s.span_kind == SpanKind::Server && s.name != "GET /work"
            }),
            client: find("CLIENT", &|s| s.span_kind == SpanKind::Client),
            downstream: find("downstream", &|s| s.name == "GET /work"),
        }
    }

    /// The call is the handler's child, and the downstream service
    /// continues its trace.
    #[track_caller]
    fn assert_in_the_request(&self) {
        assert_child_of(self.client, self.server);
        assert_child_of(self.downstream, self.client);
    }

    /// The call started a new trace, which the downstream service
    /// continues: the request's trace is broken in two.
    #[track_caller]
    fn assert_lost_the_request(&self) {
        assert_new_root(self.client, self.server);
        assert_child_of(self.downstream, self.client);
    }
}

// ---------------------------------------------------------------------------
// One test per row.
// ---------------------------------------------------------------------------

// Row: `.await` in the same task. The server layer attaches the SERVER
// span's context at every poll, so the handler's work after an `.await`
// (resumed by another task, on any worker) is still the request's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn await_in_the_same_task_keeps_the_server_span_as_parent() {
    let mut f = Fixture::new().await;
    let (outbound, tracer) = (f.outbound(), f.tracer.clone());
    let app = Router::new().route(
        "/await",
        get(move || {
            let (outbound, tracer) = (outbound.clone(), tracer.clone());
            async move {
                let (tx, rx) = oneshot::channel();
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    let _ = tx.send(());
                });
                rx.await.unwrap();
                tracer.in_span("after await", |_| {});
                tokio::task::yield_now().await;
                outbound.call().await
            }
        }),
    );
    let addr = f.serve(app).await;
    assert_eq!(get_text(&plain_client(), addr, "/await").await, "work");
    let spans = f.spans.next(4).await;
    let hop = Hop::of(&spans);
    hop.assert_in_the_request();
    assert_child_of(by_name(&spans, "after await"), hop.server);
}

// Row: `tokio::spawn`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_spawn_loses_the_request_and_context_spawn_keeps_it() {
    let mut f = Fixture::new().await;
    let (without, with) = (f.outbound(), f.outbound());
    let app = Router::new()
        .route(
            "/without",
            get(move || {
                let outbound = without.clone();
                async move { tokio::spawn(outbound.call()).await.unwrap() }
            }),
        )
        .route(
            "/with",
            get(move || {
                let outbound = with.clone();
                async move { context::spawn(outbound.call()).await.unwrap() }
            }),
        );
    let addr = f.serve(app).await;
    let client = plain_client();

    get_text(&client, addr, "/without").await;
    Hop::of(&f.spans.next(3).await).assert_lost_the_request();
    get_text(&client, addr, "/with").await;
    Hop::of(&f.spans.next(3).await).assert_in_the_request();
}

// Row: `spawn_blocking`. The blocking work makes its call on the runtime
// with `Handle::block_on`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawn_blocking_loses_the_request_and_context_spawn_blocking_keeps_it() {
    let mut f = Fixture::new().await;
    let (without, with) = (f.outbound(), f.outbound());
    let app = Router::new()
        .route(
            "/without",
            get(move || {
                let outbound = without.clone();
                async move {
                    let runtime = Handle::current();
                    tokio::task::spawn_blocking(move || runtime.block_on(outbound.call()))
                        .await
                        .unwrap()
                }
            }),
        )
        .route(
            "/with",
            get(move || {
                let outbound = with.clone();
                async move {
                    let runtime = Handle::current();
                    context::spawn_blocking(move || runtime.block_on(outbound.call()))
                        .await
                        .unwrap()
                }
            }),
        );
    let addr = f.serve(app).await;
    let client = plain_client();

    get_text(&client, addr, "/without").await;
    Hop::of(&f.spans.next(3).await).assert_lost_the_request();
    get_text(&client, addr, "/with").await;
    Hop::of(&f.spans.next(3).await).assert_in_the_request();
}

/// Runs `work` on a thread made by `spawn` and awaits its result without
/// blocking the worker.
async fn on_thread<T: Send + 'static>(
    spawn: impl FnOnce(Box<dyn FnOnce() + Send>),
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = oneshot::channel();
    spawn(Box::new(move || {
        let _ = tx.send(work());
    }));
    rx.await.unwrap()
}

// Row: `std::thread`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn std_thread_loses_the_request_and_context_thread_spawn_keeps_it() {
    let mut f = Fixture::new().await;
    let (without, with, builder) = (f.outbound(), f.outbound(), f.outbound());
    let app = Router::new()
        .route(
            "/without",
            get(move || {
                let outbound = without.clone();
                let runtime = Handle::current();
                on_thread(
                    |work| drop(std::thread::spawn(work)),
                    move || runtime.block_on(outbound.call()),
                )
            }),
        )
        .route(
            "/with",
            get(move || {
                let outbound = with.clone();
                let runtime = Handle::current();
                on_thread(
                    |work| drop(context::thread::spawn(work)),
                    move || runtime.block_on(outbound.call()),
                )
            }),
        )
        .route(
            "/with-builder",
            get(move || {
                let outbound = builder.clone();
                let runtime = Handle::current();
                on_thread(
                    |work| {
                        context::thread::Builder::new()
                            .name("report".to_owned())
                            .spawn(work)
                            .unwrap();
                    },
                    move || runtime.block_on(outbound.call()),
                )
            }),
        );
    let addr = f.serve(app).await;
    let client = plain_client();

    get_text(&client, addr, "/without").await;
    Hop::of(&f.spans.next(3).await).assert_lost_the_request();
    get_text(&client, addr, "/with").await;
    Hop::of(&f.spans.next(3).await).assert_in_the_request();
    get_text(&client, addr, "/with-builder").await;
    Hop::of(&f.spans.next(3).await).assert_in_the_request();
}

// Row: a thread pool (rayon). Each hop needs its own helper: the handler's
// blocking work carries the context (`context::spawn_blocking`), but the
// pool's threads do not have it until the closures given to the pool are
// bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rayon_loses_the_request_and_bind_fn_keeps_it() {
    let mut f = Fixture::new().await;
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap(),
    );
    let (tracer_without, pool_without) = (f.tracer.clone(), pool.clone());
    let (tracer_with, pool_with) = (f.tracer.clone(), pool);
    let app = Router::new()
        .route(
            "/without",
            get(move || {
                let (tracer, pool) = (tracer_without.clone(), pool_without.clone());
                async move {
                    let sum = context::spawn_blocking(move || {
                        pool.install(|| {
                            (0..8u64)
                                .into_par_iter()
                                .map(|i| tracer.in_span(format!("item {i}"), |_| i))
                                .sum::<u64>()
                        })
                    });
                    sum.await.unwrap().to_string()
                }
            }),
        )
        .route(
            "/with",
            get(move || {
                let (tracer, pool) = (tracer_with.clone(), pool_with.clone());
                async move {
                    let (job_tracer, job_pool) = (tracer.clone(), pool.clone());
                    let sum = context::spawn_blocking(move || {
                        let item =
                            context::bind_fn(|i: u64| tracer.in_span(format!("item {i}"), |_| i));
                        pool.install(|| (0..8u64).into_par_iter().map(&item).sum::<u64>())
                    });
                    let sum = sum.await.unwrap();
                    // And a one-off job on the pool: `bind` for `FnOnce`.
                    let (done_tx, done_rx) = oneshot::channel();
                    job_pool.spawn(context::bind(move || {
                        job_tracer.in_span("pool job", |_| {});
                        let _ = done_tx.send(());
                    }));
                    done_rx.await.unwrap();
                    sum.to_string()
                }
            }),
        );
    let addr = f.serve(app).await;
    let client = plain_client();

    assert_eq!(get_text(&client, addr, "/without").await, "28");
    let spans = f.spans.next(9).await;
    let server = by_name(&spans, "GET /without");
    for i in 0..8 {
        assert_new_root(by_name(&spans, &format!("item {i}")), server);
    }

    assert_eq!(get_text(&client, addr, "/with").await, "28");
    let spans = f.spans.next(10).await;
    let server = by_name(&spans, "GET /with");
    for i in 0..8 {
        assert_child_of(by_name(&spans, &format!("item {i}")), server);
    }
    assert_child_of(by_name(&spans, "pool job"), server);
}

/// A stand-in for a library that calls the callbacks registered with it
/// later, on a thread of its own (a file watcher, a message consumer, a
/// timer wheel).
struct Ticker {
    events: std::sync::mpsc::Sender<TickerEvent>,
}

enum TickerEvent {
    Register(Box<dyn Fn(u64) + Send>),
    Tick(u64),
}

impl Ticker {
    fn start() -> Self {
        let (events, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut callbacks = Vec::new();
            for event in rx {
                match event {
                    TickerEvent::Register(callback) => callbacks.push(callback),
                    TickerEvent::Tick(n) => callbacks.iter().for_each(|callback| callback(n)),
                }
            }
        });
        Self { events }
    }

    fn on_tick(&self, callback: impl Fn(u64) + Send + 'static) {
        self.events
            .send(TickerEvent::Register(Box::new(callback)))
            .unwrap();
    }

    fn tick(&self, n: u64) {
        self.events.send(TickerEvent::Tick(n)).unwrap();
    }
}

// Row: a callback registered with another library. The callback runs on
// the library's thread, in whatever context that thread has: none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn library_callback_loses_the_request_and_bind_fn_keeps_it() {
    let mut f = Fixture::new().await;
    let (tracer_without, tracer_with) = (f.tracer.clone(), f.tracer.clone());
    let app = Router::new()
        .route(
            "/without",
            get(move || {
                let tracer = tracer_without.clone();
                async move {
                    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
                    let ticker = Ticker::start();
                    ticker.on_tick(move |n| {
                        tracer.in_span(format!("tick {n}"), |_| {});
                        let _ = done_tx.send(());
                    });
                    ticker.tick(1);
                    done_rx.recv().await;
                    "ticked"
                }
            }),
        )
        .route(
            "/with",
            get(move || {
                let tracer = tracer_with.clone();
                async move {
                    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
                    let ticker = Ticker::start();
                    // Bound where it is registered: the request's context.
                    ticker.on_tick(context::bind_fn(move |n| {
                        tracer.in_span(format!("tick {n}"), |_| {});
                        let _ = done_tx.send(());
                    }));
                    ticker.tick(1);
                    done_rx.recv().await;
                    "ticked"
                }
            }),
        );
    let addr = f.serve(app).await;
    let client = plain_client();

    get_text(&client, addr, "/without").await;
    let spans = f.spans.next(2).await;
    assert_new_root(by_name(&spans, "tick 1"), by_name(&spans, "GET /without"));
    get_text(&client, addr, "/with").await;
    let spans = f.spans.next(2).await;
    assert_child_of(by_name(&spans, "tick 1"), by_name(&spans, "GET /with"));
}

// Row: a fire-and-forget task that outlives its request. The handler
// answers at once; the task makes its call only after the SERVER span has
// ended, and with `context::spawn` is still in the request's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fire_and_forget_task_outlives_its_request_and_stays_in_its_trace() {
    let mut f = Fixture::new().await;
    let release = Arc::new(Notify::new());
    let (without, with) = (f.outbound(), f.outbound());
    let (release_without, release_with) = (release.clone(), release.clone());
    let app = Router::new()
        .route(
            "/without",
            get(move || {
                let (outbound, release) = (without.clone(), release_without.clone());
                async move {
                    tokio::spawn(async move {
                        release.notified().await;
                        outbound.call().await
                    });
                    "accepted"
                }
            }),
        )
        .route(
            "/with",
            get(move || {
                let (outbound, release) = (with.clone(), release_with.clone());
                async move {
                    context::spawn(async move {
                        release.notified().await;
                        outbound.call().await
                    });
                    "accepted"
                }
            }),
        );
    let addr = f.serve(app).await;
    let client = plain_client();

    for (path, kept) in [("/without", false), ("/with", true)] {
        assert_eq!(get_text(&client, addr, path).await, "accepted");
        // The request is over: its SERVER span has ended, the task waits.
        let request = f.spans.next(1).await;
        release.notify_one();
        let mut spans = f.spans.next(2).await;
        spans.extend(request);
        let hop = Hop::of(&spans);
        assert!(hop.client.start_time >= hop.server.end_time, "{path}");
        if kept {
            hop.assert_in_the_request();
        } else {
            hop.assert_lost_the_request();
        }
    }
}

/// Task A makes its span current and waits; task B, on the same thread,
/// starts a span while A waits, then wakes A. With `hold_guard` A attaches
/// its context with `Context::attach` and holds the guard across its
/// `.await` (the mistake); otherwise its future is wrapped with
/// `with_context`. Both run on a `LocalSet`, on this thread, as all tasks
/// of a current-thread runtime do (the compiler refuses a guard held across
/// `.await` in a task given to `tokio::spawn`: it is not `Send`).
async fn while_a_task_waits(tracer: SdkTracer, hold_guard: bool) {
    let a_cx = Context::new().with_span(tracer.start_with_context("task A", &Context::new()));
    let (waiting_tx, waiting_rx) = oneshot::channel::<()>();
    let (wake_tx, wake_rx) = oneshot::channel::<()>();
    let a = if hold_guard {
        tokio::task::spawn_local(async move {
            let _guard = a_cx.attach();
            let _ = waiting_tx.send(());
            let _ = wake_rx.await;
        })
    } else {
        tokio::task::spawn_local(
            async move {
                let _ = waiting_tx.send(());
                let _ = wake_rx.await;
            }
            .with_context(a_cx),
        )
    };
    let b = tokio::task::spawn_local(async move {
        waiting_rx.await.unwrap();
        tracer.in_span("task B", |_| {});
        let _ = wake_tx.send(());
    });
    b.await.unwrap();
    a.await.unwrap();
}

// The classic mistake: a `ContextGuard` held across `.await` stays attached
// to the thread while the future waits, and every other task that thread
// runs in the meantime is inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guard_held_across_await_leaks_into_other_tasks_and_with_context_does_not() {
    let mut spans = Spans::new();

    LocalSet::new()
        .run_until(while_a_task_waits(spans.tracer(), true))
        .await;
    let ended = spans.next(2).await;
    let (a, b) = (by_name(&ended, "task A"), by_name(&ended, "task B"));
    // Wrong: B, an unrelated task, became A's child.
    assert_child_of(b, a);

    LocalSet::new()
        .run_until(while_a_task_waits(spans.tracer(), false))
        .await;
    let ended = spans.next(2).await;
    let (a, b) = (by_name(&ended, "task A"), by_name(&ended, "task B"));
    // Right: B starts its own trace.
    assert_new_root(b, a);
    assert!(!Context::current().has_active_span());
}
