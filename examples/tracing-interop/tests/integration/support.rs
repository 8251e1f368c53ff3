//! Test support: one tracer provider for tracetape's layers and
//! tracing-opentelemetry, the `tracing` subscriber set for the test, real
//! servers on 127.0.0.1:0 and the traced client.
//!
//! Each test runs on tokio's current-thread runtime (`#[tokio::test]`) and
//! sets its subscriber with `tracing::subscriber::set_default`: that
//! default is the thread's, and on this runtime the servers' connection
//! tasks, the handlers and the client all run on the test's thread, so
//! each test sees only its own spans and log lines, while tests run in
//! parallel on other threads.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use opentelemetry::trace::{SpanId, SpanKind, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tracetape::client::TracingMiddleware;
use tracetape::propagation::TraceContextPropagator;
use tracetape::server::TraceLayer;
use tracing::Subscriber;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// Counts the spans that end.
#[derive(Debug)]
struct CountEnded(tokio::sync::watch::Sender<usize>);

impl opentelemetry_sdk::trace::SpanExporter for CountEnded {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.send_modify(|ended| *ended += batch.len());
        Ok(())
    }
}

/// Spans and log lines of one test.
pub(crate) struct Harness {
    pub(crate) provider: SdkTracerProvider,
    spans: InMemorySpanExporter,
    /// How many spans have ended, to wait on instead of sleeping.
    ended: tokio::sync::watch::Receiver<usize>,
    logs: Logs,
    _subscriber: DefaultGuard,
}

impl Harness {
    /// With `tracing_interop::subscriber`, the example's set-up.
    pub(crate) fn new() -> Self {
        Self::with_subscriber(tracing_interop::subscriber)
    }

    /// With the subscriber `make` builds from the tracer and the log writer.
    pub(crate) fn with_subscriber<S>(make: impl FnOnce(SdkTracer, Logs) -> S) -> Self
    where
        S: Subscriber + Send + Sync + 'static,
    {
        let spans = InMemorySpanExporter::default();
        let (count, ended) = tokio::sync::watch::channel(0);
        // Processors run in order: a span is in memory before it is counted.
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .with_simple_exporter(CountEnded(count))
            .build();
        let logs = Logs::default();
        let subscriber = make(provider.tracer("tracing-interop"), logs.clone());
        Self {
            _subscriber: tracing::subscriber::set_default(subscriber),
            provider,
            spans,
            ended,
            logs,
        }
    }

    /// A tracer of the same provider, for spans started with the
    /// OpenTelemetry API.
    pub(crate) fn tracer(&self) -> SdkTracer {
        self.provider.tracer("test")
    }

    /// tracetape's server layer on `app`, served on 127.0.0.1.
    pub(crate) async fn serve(&self, app: Router) -> SocketAddr {
        let app = app.layer(
            TraceLayer::new()
                .with_tracer_provider(self.provider.clone())
                .with_propagator(TraceContextPropagator::new()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// `stock` served, and its base URL.
    pub(crate) async fn stock_url(&self) -> String {
        format!("http://{}", self.serve(tracing_interop::stock()).await)
    }

    /// A reqwest client with tracetape's middleware.
    pub(crate) fn client(&self) -> ClientWithMiddleware {
        let layer = tracetape::client::TraceLayer::new()
            .with_tracer_provider(self.provider.clone())
            .with_propagator(TraceContextPropagator::new());
        ClientBuilder::new(reqwest::Client::new())
            .with(TracingMiddleware::from(layer))
            .build()
    }

    /// Waits (at most ten seconds) until `count` spans have ended, and
    /// returns them: a SERVER span ends when its body has been sent,
    /// which may be after the client has read it.
    pub(crate) async fn spans(&self, count: usize) -> Spans {
        let mut ended = self.ended.clone();
        let waited = tokio::time::timeout(
            Duration::from_secs(10),
            ended.wait_for(|ended| *ended >= count),
        )
        .await;
        let spans = self.spans.get_finished_spans().unwrap();
        assert!(
            waited.is_ok(),
            "{count} spans should have ended: {:#?}",
            names(&spans)
        );
        assert_eq!(spans.len(), count, "{:#?}", names(&spans));
        Spans(spans)
    }

    /// The log lines written so far.
    pub(crate) fn log_lines(&self) -> Vec<String> {
        self.logs.lines()
    }

    /// The log line that contains `text`.
    pub(crate) fn log_line(&self, text: &str) -> LogLine {
        let lines = self.log_lines();
        let mut found = lines.iter().filter(|line| line.contains(text));
        let line = found
            .next()
            .unwrap_or_else(|| panic!("no log line with {text:?} in {lines:#?}"));
        assert!(found.next().is_none(), "{lines:#?}");
        LogLine(line.clone())
    }
}

/// GET `url` with a plain client (no span of its own), the body as text.
pub(crate) async fn fetch(url: String) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert!(response.status().is_success(), "{response:?}");
    response.text().await.unwrap()
}

fn names(spans: &[SpanData]) -> Vec<(&str, SpanKind)> {
    spans
        .iter()
        .map(|span| (span.name.as_ref(), span.span_kind.clone()))
        .collect()
}

/// The spans of one test.
pub(crate) struct Spans(Vec<SpanData>);

impl Spans {
    /// The only span named `name` of `kind`.
    pub(crate) fn get(&self, name: &str, kind: SpanKind) -> &SpanData {
        let mut found = self
            .0
            .iter()
            .filter(|span| span.name == name && span.span_kind == kind);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no {kind:?} span {name:?} in {:#?}", names(&self.0)));
        assert!(found.next().is_none(), "{:#?}", names(&self.0));
        span
    }

    /// Asserts that all spans are one trace, and returns its id.
    pub(crate) fn one_trace(&self) -> TraceId {
        let trace_id = self.0[0].span_context.trace_id();
        for span in &self.0 {
            assert_eq!(span.span_context.trace_id(), trace_id, "{}", span.name);
        }
        trace_id
    }
}

/// Asserts that `parent` is `child`'s parent.
pub(crate) fn assert_parent(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "the parent of {} {:?} should be {} {:?}",
        child.name,
        child.span_kind,
        parent.name,
        parent.span_kind,
    );
}

/// One log line as the `fmt` layer wrote it.
#[derive(Debug)]
pub(crate) struct LogLine(pub(crate) String);

impl LogLine {
    /// The ids `WithTraceIds` put before the line, if any.
    pub(crate) fn ids(&self) -> Option<(TraceId, SpanId)> {
        let rest = self.0.strip_prefix("trace_id=")?;
        let (trace_id, rest) = rest.split_once(" span_id=")?;
        let (span_id, _) = rest.split_once(' ')?;
        Some((
            TraceId::from_hex(trace_id).unwrap(),
            SpanId::from_hex(span_id).unwrap(),
        ))
    }
}

/// The ids of `span`.
pub(crate) fn ids_of(span: &SpanData) -> Option<(TraceId, SpanId)> {
    Some((span.span_context.trace_id(), span.span_context.span_id()))
}

/// Log lines written to memory.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
