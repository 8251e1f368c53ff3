//! Test support: the three services on free loopback ports, each with its
//! own in-memory exporter, and helpers to read the spans they recorded;
//! the three in record mode, and the ports they leave behind.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use microservices::{Instrumentation, PerService, Service};
use opentelemetry::Value;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracetape::propagation::{BaggagePropagator, TraceContextPropagator};
use tracetape::{Telemetry, TelemetryGuard};

/// The three services, served in this process until dropped.
pub(crate) struct Stack {
    pub(crate) checkout: SocketAddr,
    exporters: PerService<InMemorySpanExporter>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl Stack {
    /// Serves the three services, each with a tracer provider whose simple
    /// processor hands every span to that service's exporter as it ends,
    /// and W3C trace context and baggage as the propagator.
    pub(crate) async fn start() -> Stack {
        let exporters = PerService::<InMemorySpanExporter>::default();
        let instrumentation = PerService::from_fn(|service| {
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporters.get(service).clone())
                .build();
            Instrumentation::global()
                .with_tracer_provider(provider)
                .with_propagator(TextMapCompositePropagator::new(vec![
                    Box::new(TraceContextPropagator::new()),
                    Box::new(BaggagePropagator::new()),
                ]))
        });
        let listeners = microservices::bind_all(PerService::default())
            .await
            .unwrap();
        let checkout = listeners.checkout.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            microservices::serve_all(listeners, &instrumentation, async {
                let _ = stopped.await;
            })
            .await
        });
        Stack {
            checkout,
            exporters,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Every span recorded so far, with the service that recorded it.
    pub(crate) fn spans(&self) -> Vec<(Service, SpanData)> {
        Service::ALL
            .into_iter()
            .flat_map(|service| {
                let spans = self.exporters.get(service).get_finished_spans().unwrap();
                spans.into_iter().map(move |span| (service, span))
            })
            .collect()
    }

    /// Stops the servers and waits for them.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// The value of attribute `key` of `span`.
pub(crate) fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// The value of string attribute `key` of `span`.
pub(crate) fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    match attr(span, key)? {
        Value::String(value) => Some(value.to_string()),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

/// Spans by id.
pub(crate) fn by_id(spans: &[(Service, SpanData)]) -> HashMap<SpanId, &(Service, SpanData)> {
    spans
        .iter()
        .map(|entry| (entry.1.span_context.span_id(), entry))
        .collect()
}

/// The checkout SERVER span at the top of `span`'s parent chain.
pub(crate) fn root_of<'a>(
    ids: &HashMap<SpanId, &'a (Service, SpanData)>,
    span: &'a SpanData,
) -> &'a SpanData {
    let mut current = span;
    while current.parent_span_id != SpanId::INVALID {
        current = &ids
            .get(&current.parent_span_id)
            .unwrap_or_else(|| panic!("the parent of {} was not recorded", current.name))
            .1;
    }
    assert_eq!(current.name, "POST /checkout");
    current
}

/// A directory under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "microservices-record-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The variables of a service in `mode` (`record`, `replay`) over the
/// store `dir`, given through an env lookup rather than the process
/// environment; spans and metrics go nowhere (not into
/// `.tracetape/traces`).
pub(crate) fn tracetape_env(mode: &str, dir: &Path) -> HashMap<String, String> {
    [
        ("TRACETAPE_MODE", mode),
        ("TRACETAPE_RECORD_DIR", dir.to_str().unwrap()),
        // Room for every recording of the largest test, however far
        // behind the writer is.
        ("TRACETAPE_RECORD_QUEUE", "4096"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Counts the SERVER spans that end: a service hands its recording on no
/// later than the SERVER span of the request ends.
#[derive(Debug)]
struct CountServerSpans(watch::Sender<usize>);

impl SpanExporter for CountServerSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let servers = batch
            .iter()
            .filter(|span| span.span_kind == SpanKind::Server)
            .count();
        self.0.send_modify(|ended| *ended += servers);
        Ok(())
    }
}

/// The three services in record mode, writing into one store, set up as
/// `cargo run -p tracetape-microservices` sets them up: a telemetry guard per
/// service, built from the environment (`TRACETAPE_MODE=record`, given
/// through an env lookup), its recorder carried into the service's layers
/// by `Instrumentation::from_guard`.
pub(crate) struct RecordingStack {
    /// Where each service listens.
    pub(crate) addrs: PerService<SocketAddr>,
    /// Each service's telemetry, with its recorder.
    pub(crate) guards: PerService<TelemetryGuard>,
    ended: watch::Receiver<usize>,
    /// A second handle on each listening socket, which keeps the port
    /// bound after the servers stop.
    sockets: PerService<std::net::TcpListener>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<io::Result<()>>,
}

impl RecordingStack {
    /// Serves the three services, recording into `dir`.
    pub(crate) async fn start(dir: &Path) -> RecordingStack {
        let vars = tracetape_env("record", dir);
        let (count, ended) = watch::channel(0_usize);
        // As `main.rs` runs all three in one process: a guard per service,
        // built, not installed.
        let guards: PerService<TelemetryGuard> = PerService::from_fn(|service| {
            let vars = vars.clone();
            Telemetry::builder()
                .with_service_name(service.name())
                .with_env_lookup(move |name| vars.get(name).cloned())
                .with_span_processor(SimpleSpanProcessor::new(CountServerSpans(count.clone())))
                .build()
        });
        let instrumentation =
            PerService::from_fn(|service| Instrumentation::from_guard(guards.get(service)));
        let listeners = microservices::bind_all(PerService::default())
            .await
            .unwrap();
        let addrs = PerService::from_fn(|service| listeners.get(service).local_addr().unwrap());
        let held = |listener: tokio::net::TcpListener| {
            let socket = listener.into_std().unwrap();
            let served = tokio::net::TcpListener::from_std(socket.try_clone().unwrap()).unwrap();
            (served, socket)
        };
        let (checkout, checkout_socket) = held(listeners.checkout);
        let (inventory, inventory_socket) = held(listeners.inventory);
        let (pricing, pricing_socket) = held(listeners.pricing);
        let listeners = PerService {
            checkout,
            inventory,
            pricing,
        };
        let sockets = PerService {
            checkout: checkout_socket,
            inventory: inventory_socket,
            pricing: pricing_socket,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            microservices::serve_all(listeners, &instrumentation, async {
                let _ = stopped.await;
            })
            .await
        });
        RecordingStack {
            addrs,
            guards,
            ended,
            sockets,
            stop,
            server,
        }
    }

    /// Waits until `server_spans` SERVER spans have ended (each request
    /// served, in any of the three, is one), then until every recorder has
    /// written what it was handed.
    pub(crate) async fn flush(&self, server_spans: usize) {
        let mut ended = self.ended.clone();
        tokio::time::timeout(
            Duration::from_secs(30),
            ended.wait_for(|n| *n >= server_spans),
        )
        .await
        .unwrap_or_else(|_| panic!("{server_spans} SERVER spans end"))
        .unwrap();
        for service in Service::ALL {
            let recorder = self.guards.get(service).recorder().unwrap().clone();
            tokio::task::spawn_blocking(move || recorder.flush(Duration::from_secs(10)).unwrap())
                .await
                .unwrap();
            let recorder = self.guards.get(service).recorder().unwrap();
            assert_eq!(recorder.dropped(), 0, "{service} dropped recordings");
        }
    }

    /// Stops the servers, waits for them and shuts their telemetry down.
    /// The ports stay bound, with nothing serving them, for as long as the
    /// returned sockets are kept.
    pub(crate) async fn stop(self) -> PerService<std::net::TcpListener> {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
        let guards = self.guards;
        tokio::task::block_in_place(|| drop(guards));
        self.sockets
    }
}

/// A port where a service used to listen: still bound, so that nothing
/// else takes it, and every connection made to it is counted and closed
/// at once.
pub(crate) struct Tripwire {
    addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<SocketAddr>,
    connections: usize,
    task: JoinHandle<()>,
}

impl Tripwire {
    /// Watches `socket`, a listening socket.
    pub(crate) fn new(socket: std::net::TcpListener) -> Tripwire {
        socket.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(socket).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, accepted) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                drop(stream);
                if tx.send(peer).is_err() {
                    return;
                }
            }
        });
        Tripwire {
            addr,
            accepted,
            connections: 0,
            task,
        }
    }

    /// How many connections were made to the port so far. Connections
    /// are accepted in the order they were made, so one more, made here
    /// and waited for, comes after every connection made before the call.
    pub(crate) async fn connections(&mut self) -> usize {
        let probe = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let probe = probe.local_addr().unwrap();
        loop {
            let peer = tokio::time::timeout(Duration::from_secs(10), self.accepted.recv())
                .await
                .expect("the probe is accepted")
                .unwrap();
            if peer == probe {
                return self.connections;
            }
            self.connections += 1;
        }
    }
}

impl Tripwire {
    /// Forgets the connections made so far: from here on, only new ones
    /// count.
    pub(crate) async fn settle(&mut self) {
        self.connections().await;
        self.connections = 0;
    }
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        self.task.abort();
    }
}
