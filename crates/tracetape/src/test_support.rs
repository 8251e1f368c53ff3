//! What the unit tests of the server and client layers share: SDK
//! providers with in-memory exporters, and attribute lookups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
    }

    pub(crate) fn with_sampler(sampler: Sampler) -> Self {
        let spans = InMemorySpanExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_simple_exporter(spans.clone())
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
        }
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
