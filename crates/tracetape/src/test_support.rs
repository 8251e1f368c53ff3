//! What the unit tests of the server and client layers share: SDK
//! providers with in-memory exporters, and attribute lookups.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Waiting for spans to end serves the record tests only, for now.
#![cfg_attr(not(feature = "record-replay"), allow(dead_code))]

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};

/// Held by every test that installs a global provider, so that tests
/// running in parallel do not swap it under each other.
pub(crate) static GLOBAL_PROVIDERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) struct Harness {
    pub(crate) spans: InMemorySpanExporter,
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) metrics: InMemoryMetricExporter,
    pub(crate) meter_provider: SdkMeterProvider,
    /// How many spans have ended, to wait on instead of sleeping.
    ended: tokio::sync::watch::Receiver<usize>,
}

/// Counts the spans that end. Processors run in order, so a span is in
/// the in-memory exporter before it is counted.
#[derive(Debug)]
struct CountEnded(tokio::sync::watch::Sender<usize>);

impl opentelemetry_sdk::trace::SpanExporter for CountEnded {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.send_modify(|ended| *ended += batch.len());
        Ok(())
    }
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
    }

    pub(crate) fn with_sampler(sampler: Sampler) -> Self {
        let spans = InMemorySpanExporter::default();
        let (count, ended) = tokio::sync::watch::channel(0);
        let tracer_provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_simple_exporter(spans.clone())
            .with_simple_exporter(CountEnded(count))
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        Self {
            spans,
            tracer_provider,
            metrics,
            meter_provider,
            ended,
        }
    }

    /// Waits (at most ten seconds) until `count` spans in all have ended,
    /// and returns the spans: a real server ends its span when the body
    /// has been sent, which may be after the client has read it.
    pub(crate) async fn wait_for_spans(&self, count: usize) -> Vec<SpanData> {
        self.wait_until(|spans| spans.len() >= count).await
    }

    /// Waits (at most ten seconds), woken each time a span ends, until
    /// `done` holds for the ended spans, and returns them.
    pub(crate) async fn wait_until(&self, done: impl Fn(&[SpanData]) -> bool) -> Vec<SpanData> {
        let mut ended = self.ended.clone();
        let wait = async {
            loop {
                let spans = self.spans();
                if done(&spans) {
                    return spans;
                }
                ended.changed().await.unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("the spans waited for did not end within 10s"))
    }

    pub(crate) fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    pub(crate) fn only_span(&self) -> SpanData {
        let mut spans = self.spans();
        assert_eq!(spans.len(), 1, "{spans:#?}");
        spans.remove(0)
    }

    /// (metric name, data point attributes, count or sum) of every point.
    pub(crate) fn metric_points(&self) -> Vec<(String, Vec<KeyValue>, f64)> {
        self.meter_provider.force_flush().unwrap();
        let mut out = Vec::new();
        for rm in self.metrics.get_finished_metrics().unwrap() {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    match m.data() {
                        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                            for p in h.data_points() {
                                out.push((
                                    m.name().to_owned(),
                                    p.attributes().cloned().collect(),
                                    p.count() as f64,
                                ));
                            }
                        }
                        AggregatedMetrics::I64(MetricData::Sum(s)) => {
                            for p in s.data_points() {
                                out.push((
                                    m.name().to_owned(),
                                    p.attributes().cloned().collect(),
                                    p.value() as f64,
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }
}

pub(crate) fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

pub(crate) fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

pub(crate) fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(v)) => Some(*v),
        _ => None,
    }
}
