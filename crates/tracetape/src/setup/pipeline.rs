//! Assembling the providers from a resolved [`Config`].

use std::fmt;
use std::sync::Arc;

use opentelemetry::Key;

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{
    BatchConfig, BatchConfigBuilder, Sampler, SdkTracerProvider, TracerProviderBuilder,
};

use super::config::Config;
use super::error::SetupError;
use super::exporter::{add_metric_exporter, add_span_exporter};
use super::guard::TelemetryGuard;
use super::record::{self, RecordSettings};
use super::settings::BatchSettings;
use super::span_counts::Counters;
use super::startup;
use crate::store::LocalStore;

/// Adds something to the tracer provider being built.
pub(crate) type AddToTracer =
    Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;

/// Adds a span exporter behind a batch processor with the given settings,
/// counting its spans.
pub(crate) type AddExporter = Box<
    dyn FnOnce(TracerProviderBuilder, BatchConfig, Arc<Counters>) -> TracerProviderBuilder + Send,
>;

/// The parts of a builder that are not plain settings.
#[derive(Default)]
pub(crate) struct Parts {
    pub(crate) batch_config: Option<BatchConfig>,
    pub(crate) local_store: Option<LocalStore>,
    pub(crate) span_exporter: Option<AddExporter>,
    pub(crate) span_processors: Vec<AddToTracer>,
}

impl fmt::Debug for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("batch_config", &self.batch_config)
            .field("local_store", &self.local_store)
            .field("span_exporter", &self.span_exporter.is_some())
            .field("span_processors", &self.span_processors.len())
            .finish()
    }
}

/// The providers, and the recorder when record mode asks for one (never
/// when telemetry is disabled: recordings are keyed by trace); with the
/// errors of OTLP exporters that could not be set up for an https endpoint
/// (their signal is then not exported), and of a record or replay mode
/// this build cannot run.
pub(crate) fn build(
    config: Config,
    parts: Parts,
    record: &RecordSettings,
) -> (TelemetryGuard, Vec<SetupError>) {
    let mut errors: Vec<SetupError> = record::refused(record).into_iter().collect();
    if config.disabled {
        let tracer_provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOff)
            .build();
        let meter_provider = SdkMeterProvider::builder().build();
        let (started, warning) = record::when_disabled(record);
        if let Some(warning) = warning {
            warning.report();
        }
        let guard = TelemetryGuard::new(
            tracer_provider,
            meter_provider,
            config.propagators,
            true,
            started,
            Arc::default(),
        );
        return (guard, errors);
    }

    let resource = config.resource();
    let service_name = resource
        .get(&Key::from_static_str("service.name"))
        .map(|name| name.to_string())
        .unwrap_or_default();
    let (started, warning) = record::start(record, &service_name);
    if let Some(warning) = warning {
        warning.report();
    }
    let said = startup::line(
        &service_name,
        &config,
        parts.span_exporter.is_some(),
        parts.local_store.as_ref(),
        &started,
        record,
    );
    let batch = parts
        .batch_config
        .unwrap_or_else(|| batch_config(&config.batch));

    let mut tracer = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(config.sampler);
    let counters = Arc::new(Counters::default());
    tracer = match parts.span_exporter {
        Some(add) => add(tracer, batch, Arc::clone(&counters)),
        None => {
            let (tracer, error) = add_span_exporter(
                tracer,
                config.traces_exporter,
                &config.traces_otlp,
                parts.local_store,
                batch,
                Arc::clone(&counters),
            );
            errors.extend(error);
            tracer
        }
    };
    for add in parts.span_processors {
        tracer = add(tracer);
    }

    let (meter, error) = add_metric_exporter(
        SdkMeterProvider::builder().with_resource(resource),
        config.metrics_exporter,
        &config.metrics_otlp,
    );
    errors.extend(error);

    let guard = TelemetryGuard::new(
        tracer.build(),
        meter.build(),
        config.propagators,
        false,
        started,
        counters,
    )
    .saying(said);
    (guard, errors)
}

/// The SDK batch configuration for `settings`. Every value is set, so the
/// SDK's own reading of `OTEL_BSP_*` is overridden by ours. (The export
/// timeout has no setter: the SDK's thread-based batch processor does not
/// use one; each OTLP export is bounded by the OTLP timeout.)
fn batch_config(settings: &BatchSettings) -> BatchConfig {
    BatchConfigBuilder::default()
        .with_max_queue_size(settings.max_queue_size)
        .with_max_export_batch_size(settings.max_export_batch_size)
        .with_scheduled_delay(settings.schedule_delay)
        .build()
}
