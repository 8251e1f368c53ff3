//! The exporter choices, and attaching the chosen exporter to a provider.

use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader};
use opentelemetry_sdk::trace::{
    BatchConfig, BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, TracerProviderBuilder,
};

use std::sync::Arc;

use super::config::OtlpConfig;
use super::error::SetupError;
use super::otlp;
use super::span_counts::{Counters, CountingExporter, CountingProcessor, queue_size};
use super::tls::is_https;
use crate::store::{LocalSpanExporter, LocalStore};

/// Where spans go (`OTEL_TRACES_EXPORTER`).
///
/// ```
/// use tracetape::setup::{Telemetry, TracesExporter};
///
/// let telemetry = Telemetry::builder()
///     .with_traces_exporter(TracesExporter::None)
///     .build();
/// # drop(telemetry);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// OTLP to a collector (`otlp`).
    Otlp,
    /// Human-readable spans on standard output (`console`).
    Console,
    /// Spans are not exported (`none`).
    None,
    /// The embedded local store under `.tracetape/traces` that the
    /// `tracetape` command reads (`local`).
    Local,
}

/// Where metrics go (`OTEL_METRICS_EXPORTER`).
///
/// ```
/// use tracetape::setup::{MetricsExporter, Telemetry};
///
/// let telemetry = Telemetry::builder()
///     .with_metrics_exporter(MetricsExporter::None)
///     .build();
/// # drop(telemetry);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporter {
    /// OTLP to a collector (`otlp`).
    Otlp,
    /// Metrics on standard output (`console`).
    Console,
    /// Metrics are not exported (`none`).
    None,
}

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
///
/// ```no_run
/// use tracetape::setup::{OtlpProtocol, Telemetry};
///
/// # #[tokio::main] async fn main() {
/// let telemetry = Telemetry::builder()
///     .with_otlp_protocol(OtlpProtocol::Grpc)
///     .with_otlp_endpoint("http://localhost:4317")
///     .init();
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC (`grpc`), by default to `http://localhost:4317`.
    Grpc,
    /// Protobuf over HTTP (`http/protobuf`), by default to
    /// `http://localhost:4318/v1/{signal}`.
    HttpProtobuf,
}

/// Adds the span exporter `choice` names, behind a batch processor (a
/// simple one for the console), its spans counted in `counters`. A failing
/// OTLP exporter for an `http://` endpoint falls back to the local store;
/// for an `https://` endpoint, or when its TLS files cannot be used, no
/// exporter is added and the error is returned.
pub(crate) fn add_span_exporter(
    builder: TracerProviderBuilder,
    choice: TracesExporter,
    otlp: &OtlpConfig,
    store: Option<LocalStore>,
    batch: BatchConfig,
    counters: Arc<Counters>,
) -> (TracerProviderBuilder, Option<SetupError>) {
    let builder = match choice {
        TracesExporter::Otlp => match otlp::span_exporter(otlp) {
            #[cfg(feature = "grpc")]
            Ok(otlp::OtlpSpanExporter::Grpc(exporter)) => {
                with_batch(builder, exporter, batch, counters)
            }
            Ok(otlp::OtlpSpanExporter::Http(exporter)) => {
                with_batch(builder, exporter, batch, counters)
            }
            Err(err) if must_not_fall_back(otlp, &err, "/v1/traces") => {
                let endpoint = otlp::url(otlp, "/v1/traces");
                return (builder, Some(SetupError::new("traces", endpoint, err)));
            }
            Err(err) => {
                crate::diag::warn_once(
                    "setup.otlp_span_exporter_failed",
                    format!(
                        "failed to build the OTLP span exporter ({err}); using the local store"
                    ),
                );
                with_batch(builder, local_exporter(store), batch, counters)
            }
        },
        TracesExporter::Console => builder.with_span_processor(CountingProcessor::new(
            SimpleSpanProcessor::new(CountingExporter::new(
                opentelemetry_stdout::SpanExporter::default(),
                Arc::clone(&counters),
            )),
            counters,
        )),
        TracesExporter::None => builder,
        TracesExporter::Local => with_batch(builder, local_exporter(store), batch, counters),
    };
    (builder, None)
}

/// Whether a failed OTLP exporter must stay failed: its endpoint is
/// https, or its TLS files are wrong. Sending what was meant for a
/// collector over TLS to the local disk instead would hide the mistake.
fn must_not_fall_back(otlp: &OtlpConfig, err: &otlp::BuildError, signal_path: &str) -> bool {
    matches!(
        err,
        otlp::BuildError::Tls(_) | otlp::BuildError::GrpcNotBuilt
    ) || is_https(&otlp::url(otlp, signal_path))
}

/// `exporter` behind a batch processor configured by `batch`, its spans
/// counted in `counters`.
pub(crate) fn with_batch<E>(
    builder: TracerProviderBuilder,
    exporter: E,
    batch: BatchConfig,
    counters: Arc<Counters>,
) -> TracerProviderBuilder
where
    E: SpanExporter + 'static,
{
    let exporter = CountingExporter::new(exporter, Arc::clone(&counters));
    let queue_size = queue_size(&batch);
    builder.with_span_processor(
        CountingProcessor::new(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batch)
                .build(),
            counters,
        )
        .with_queue_size(queue_size),
    )
}

/// The exporter for `TracesExporter::Local`: the given store, or the one in
/// `.tracetape/traces`.
fn local_exporter(store: Option<LocalStore>) -> LocalSpanExporter {
    LocalSpanExporter::new(store.unwrap_or_else(|| LocalStore::new(LocalStore::default_dir())))
}

/// Adds a periodic reader for the metric exporter `choice` names. A failing
/// OTLP exporter leaves metrics unexported, and for an https endpoint (or
/// unusable TLS files) the error is returned.
pub(crate) fn add_metric_exporter(
    builder: MeterProviderBuilder,
    choice: MetricsExporter,
    otlp: &OtlpConfig,
) -> (MeterProviderBuilder, Option<SetupError>) {
    let builder = match choice {
        MetricsExporter::Otlp => match otlp::metric_exporter(otlp) {
            Ok(exporter) => builder.with_reader(PeriodicReader::builder(exporter).build()),
            Err(err) if must_not_fall_back(otlp, &err, "/v1/metrics") => {
                let endpoint = otlp::url(otlp, "/v1/metrics");
                return (builder, Some(SetupError::new("metrics", endpoint, err)));
            }
            Err(err) => {
                crate::diag::warn_once(
                    "setup.otlp_metric_exporter_failed",
                    format!(
                        "failed to build the OTLP metric exporter ({err}); metrics are not exported"
                    ),
                );
                builder
            }
        },
        MetricsExporter::Console => builder.with_reader(
            PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default()).build(),
        ),
        MetricsExporter::None => builder,
    };
    (builder, None)
}
