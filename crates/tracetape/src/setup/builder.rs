//! [`Telemetry::builder`] and [`init`]: code settings layered over the
//! environment.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::trace::{BatchConfig, Sampler, SpanExporter, SpanProcessor};

use super::config::{Config, Overrides};
use super::error::SetupError;
use super::exporter::{MetricsExporter, OtlpProtocol, TracesExporter};
use super::guard::TelemetryGuard;
use super::pipeline::{self, Parts};
use super::record::RecordSettings;
use super::settings::Settings;
use crate::store::LocalStore;

/// Sets telemetry up from the `OTEL_*` environment variables and installs
/// it globally: `Telemetry::builder().init()`.
///
/// Call it once, early in `main`, inside the Tokio runtime (the gRPC
/// exporter needs it), and keep the returned guard alive: dropping it
/// flushes and shuts telemetry down. It never panics; unusable settings are
/// reported once on standard error and replaced by their defaults. An OTLP
/// exporter that cannot be set up for an `https://` endpoint (unreadable
/// certificate files, say) is reported the same way and that signal is not
/// exported; [`TelemetryBuilder::try_init`] returns that error instead. It
/// says in one line on standard error where spans go and what becomes of
/// the requests (`tracetape: checkout: spans to OTLP gRPC
/// http://localhost:4317; requests not recorded (TRACETAPE_MODE unset)`),
/// and warns when its guard is dropped at once (`let _ =
/// tracetape::init();` does that).
///
/// ```no_run
/// #[tokio::main]
/// async fn main() {
///     let _telemetry = tracetape::init();
///     // ... run the service ...
/// }
/// ```
pub fn init() -> TelemetryGuard {
    Telemetry::builder().init()
}

/// The entry point of telemetry setup; see [`Telemetry::builder`].
///
/// ```
/// use tracetape::setup::Telemetry;
///
/// let telemetry = Telemetry::builder().disabled(true).build();
/// # drop(telemetry);
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub struct Telemetry;

impl Telemetry {
    /// A builder that reads the environment when it builds; its `with_*`
    /// methods override the matching variables.
    ///
    /// ```no_run
    /// use tracetape::setup::{OtlpProtocol, Telemetry, TracesExporter};
    ///
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = Telemetry::builder()
    ///     .with_service_name("checkout")
    ///     .with_traces_exporter(TracesExporter::Otlp)
    ///     .with_otlp_endpoint("http://collector:4318")
    ///     .with_otlp_protocol(OtlpProtocol::HttpProtobuf)
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder {
            overrides: Overrides::default(),
            parts: Parts::default(),
            lookup: None,
        }
    }
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Settings made in code, each winning over its environment variable;
/// finish with [`init`](Self::init) or [`build`](Self::build).
///
/// Created by [`Telemetry::builder`]. Every `with_*` method has an
/// environment variable counterpart, listed in the [module
/// documentation](crate::setup#environment-variables).
///
/// ```
/// use tracetape::setup::{MetricsExporter, Telemetry, TracesExporter};
///
/// let telemetry = Telemetry::builder()
///     .with_service_name("checkout")
///     .with_traces_exporter(TracesExporter::Console)
///     .with_metrics_exporter(MetricsExporter::None)
///     .build();
/// # drop(telemetry);
/// ```
pub struct TelemetryBuilder {
    overrides: Overrides,
    parts: Parts,
    /// Reads variables instead of the process environment (tests).
    lookup: Option<Lookup>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("overrides", &self.overrides)
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// Sets `service.name`, over `OTEL_SERVICE_NAME` and any `service.name`
    /// in `OTEL_RESOURCE_ATTRIBUTES` or
    /// [`with_resource_attribute`](Self::with_resource_attribute).
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_service_name("checkout")
    ///     .disabled(true)
    ///     .build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.overrides.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute, over the same key in
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_resource_attribute("deployment.environment.name", "staging")
    ///     .with_resource_attribute("service.instance.count", 3)
    ///     .disabled(true)
    ///     .build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_resource_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.overrides
            .resource_attributes
            .push(KeyValue::new(key, value));
        self
    }

    /// Chooses where spans go, over `OTEL_TRACES_EXPORTER`.
    ///
    /// ```
    /// use tracetape::setup::{Telemetry, TracesExporter};
    ///
    /// let telemetry = Telemetry::builder().with_traces_exporter(TracesExporter::Console).build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_traces_exporter(mut self, exporter: TracesExporter) -> Self {
        self.overrides.traces_exporter = Some(exporter);
        self
    }

    /// Chooses where metrics go, over `OTEL_METRICS_EXPORTER`.
    ///
    /// ```
    /// use tracetape::setup::{MetricsExporter, Telemetry};
    ///
    /// let telemetry = Telemetry::builder().with_metrics_exporter(MetricsExporter::None).build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_metrics_exporter(mut self, exporter: MetricsExporter) -> Self {
        self.overrides.metrics_exporter = Some(exporter);
        self
    }

    /// Sets the OTLP base URL for traces and metrics, over
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` and the per-signal variables. Like the
    /// generic variable, with http/protobuf `/v1/traces` and `/v1/metrics`
    /// are appended. An invalid URL is reported and ignored.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_otlp_endpoint("http://collector:4318")
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn with_otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.overrides.otlp_endpoint = Some(url.into());
        self
    }

    /// Chooses the OTLP transport, over `OTEL_EXPORTER_OTLP_PROTOCOL` and
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL`.
    ///
    /// ```no_run
    /// use tracetape::setup::{OtlpProtocol, Telemetry};
    ///
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = Telemetry::builder()
    ///     .with_otlp_protocol(OtlpProtocol::Grpc)
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn with_otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.overrides.otlp_protocol = Some(protocol);
        self
    }

    /// Adds headers to every OTLP request. A header set here replaces the
    /// one of the same name from `OTEL_EXPORTER_OTLP_HEADERS` (or the
    /// per-signal variable); other headers from the environment are kept.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_otlp_headers([("x-api-key", "secret")])
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn with_otlp_headers<I, K, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.overrides.otlp_headers.extend(
            headers
                .into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        self
    }

    /// Bounds each OTLP export, over `OTEL_EXPORTER_OTLP_TIMEOUT` and the
    /// per-signal variables (default 10 s).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_otlp_timeout(Duration::from_secs(3))
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn with_otlp_timeout(mut self, timeout: Duration) -> Self {
        self.overrides.otlp_timeout = Some(timeout);
        self
    }

    /// Trusts the CA certificates in the PEM file `path` for an `https://`
    /// OTLP endpoint, instead of the platform's roots, over
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` and the per-signal variables. The
    /// file is read at start; one that cannot be used is an error of
    /// [`try_build`](Self::try_build) ([`SetupError::Tls`](super::SetupError::Tls)).
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_otlp_endpoint("https://collector.internal:4318")
    ///     .with_otlp_certificate("/etc/otel/ca.pem")
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn with_otlp_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.overrides.otlp_certificate = Some(path.into());
        self
    }

    /// Presents a client certificate to an `https://` OTLP endpoint that
    /// asks for one (mutual TLS): the PEM certificate chain in
    /// `certificate` and its PEM private key in `key`, over
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY`
    /// and the per-signal variables. Both files are read at start, like
    /// [`with_otlp_certificate`](Self::with_otlp_certificate)'s.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_otlp_endpoint("https://collector.internal:4317")
    ///     .with_otlp_certificate("/etc/otel/ca.pem")
    ///     .with_otlp_client_identity("/etc/otel/client.pem", "/etc/otel/client-key.pem")
    ///     .init();
    /// # }
    /// ```
    #[must_use]
    pub fn with_otlp_client_identity(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.overrides.otlp_client_identity = Some((certificate.into(), key.into()));
        self
    }

    /// Chooses which traces are recorded, over `OTEL_TRACES_SAMPLER` and
    /// `OTEL_TRACES_SAMPLER_ARG`.
    ///
    /// ```
    /// use tracetape::opentelemetry_sdk::trace::Sampler;
    ///
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))))
    ///     .disabled(true)
    ///     .build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.overrides.sampler = Some(sampler);
        self
    }

    /// Configures the batch span processor; replaces all of `OTEL_BSP_*`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracetape::opentelemetry_sdk::trace::BatchConfigBuilder;
    ///
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_batch_config(
    ///         BatchConfigBuilder::default()
    ///             .with_scheduled_delay(Duration::from_millis(500))
    ///             .build(),
    ///     )
    ///     .disabled(true)
    ///     .build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_batch_config(mut self, config: BatchConfig) -> Self {
        self.parts.batch_config = Some(config);
        self
    }

    /// The store spans are written to with [`TracesExporter::Local`]
    /// (default: [`LocalStore::default_dir`], `.tracetape/traces`). It is
    /// also the fallback when the OTLP exporter cannot be built.
    ///
    /// ```
    /// use tracetape::setup::{Telemetry, TracesExporter};
    /// use tracetape::store::LocalStore;
    ///
    /// let telemetry = Telemetry::builder()
    ///     .with_traces_exporter(TracesExporter::Local)
    ///     .with_local_store(LocalStore::new("target/traces").with_max_bytes(8 << 20))
    ///     .build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_local_store(mut self, store: LocalStore) -> Self {
        self.parts.local_store = Some(store);
        self
    }

    /// Exports spans through `exporter`, behind the batch processor,
    /// instead of the exporter `OTEL_TRACES_EXPORTER` or
    /// [`with_traces_exporter`](Self::with_traces_exporter) chooses.
    ///
    /// ```
    /// use tracetape::opentelemetry_sdk::trace::InMemorySpanExporter;
    ///
    /// let spans = InMemorySpanExporter::default();
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_span_exporter(spans.clone())
    ///     .build();
    /// # drop(telemetry);
    /// ```
    #[must_use]
    pub fn with_span_exporter<E>(mut self, exporter: E) -> Self
    where
        E: SpanExporter + 'static,
    {
        self.parts.span_exporter = Some(Box::new(move |builder, batch, counters| {
            super::exporter::with_batch(builder, exporter, batch, counters)
        }));
        self
    }

    /// Adds a span processor next to the configured exporter, for example
    /// an in-memory exporter behind a simple processor in tests.
    ///
    /// ```
    /// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    /// use tracetape::opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    /// use tracetape::setup::{Telemetry, TracesExporter};
    ///
    /// let spans = InMemorySpanExporter::default();
    /// let telemetry = Telemetry::builder()
    ///     .with_traces_exporter(TracesExporter::None)
    ///     .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
    ///     .build();
    /// telemetry.tracer_provider().tracer("test").in_span("work", |_cx| {});
    /// assert_eq!(spans.get_finished_spans().unwrap().len(), 1);
    /// ```
    #[must_use]
    pub fn with_span_processor<P>(mut self, processor: P) -> Self
    where
        P: SpanProcessor + 'static,
    {
        self.parts.span_processors.push(Box::new(move |builder| {
            builder.with_span_processor(processor)
        }));
        self
    }

    /// Turns all telemetry off (`true`) or on (`false`), over
    /// `OTEL_SDK_DISABLED`. Disabled, the guard's providers record and
    /// export nothing and [`init`](Self::init) installs no globals.
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder().disabled(true).build();
    /// assert!(telemetry.is_disabled());
    /// ```
    #[must_use]
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.overrides.disabled = Some(disabled);
        self
    }

    /// Reads the variables (the `OTEL_*` ones and record mode's
    /// `TRACETAPE_MODE` and `TRACETAPE_RECORD_*`) through `lookup` instead
    /// of the process environment: `lookup(name)` is the variable's value,
    /// `None` when unset. For tests, and for programs that keep their
    /// configuration elsewhere.
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// let vars = HashMap::from([("OTEL_SERVICE_NAME", "checkout"), ("OTEL_SDK_DISABLED", "true")]);
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_env_lookup(move |name| vars.get(name).map(|value| value.to_string()))
    ///     .build();
    /// assert!(telemetry.is_disabled());
    /// ```
    #[must_use]
    pub fn with_env_lookup<F>(mut self, lookup: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        self.lookup = Some(Box::new(lookup));
        self
    }

    /// Builds the providers without installing them as OpenTelemetry's
    /// globals: for tests, and for programs that install them themselves
    /// (see [`TelemetryGuard::propagator`]).
    ///
    /// ```
    /// use tracetape::setup::{Telemetry, TracesExporter};
    ///
    /// let telemetry = Telemetry::builder()
    ///     .with_traces_exporter(TracesExporter::None)
    ///     .build();
    /// opentelemetry::global::set_tracer_provider(telemetry.tracer_provider().clone());
    /// ```
    pub fn build(self) -> TelemetryGuard {
        let (guard, errors) = self.build_reporting();
        for err in errors {
            let (name, consequence) = err.consequence();
            crate::diag::warn_once(name, format!("{}; {consequence}", crate::diag::chain(&err)));
        }
        guard
    }

    /// Like [`build`](Self::build), but an OTLP exporter that cannot be set
    /// up for an `https://` endpoint is an error: unreadable or malformed
    /// certificate files, a client key without its certificate (or the
    /// reverse), or a TLS set-up opentelemetry-otlp refuses. Other
    /// unusable settings are still reported on standard error and replaced
    /// by their defaults.
    ///
    /// ```
    /// use tracetape::setup::{Telemetry, TracesExporter};
    ///
    /// let telemetry = Telemetry::builder()
    ///     .with_traces_exporter(TracesExporter::None)
    ///     .try_build()
    ///     .expect("no OTLP exporter, nothing to fail");
    /// # drop(telemetry);
    /// ```
    pub fn try_build(self) -> Result<TelemetryGuard, SetupError> {
        let (guard, errors) = self.build_reporting();
        match errors.into_iter().next() {
            None => Ok(guard),
            Some(err) => {
                // Nothing was exported yet; stop what did start.
                let _ = guard.shutdown();
                Err(err)
            }
        }
    }

    /// Like [`init`](Self::init), but fails as [`try_build`](Self::try_build)
    /// does, installing nothing then.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), tracetape::setup::SetupError> {
    /// // OTEL_EXPORTER_OTLP_ENDPOINT=https://collector:4317
    /// // OTEL_EXPORTER_OTLP_CERTIFICATE=/etc/otel/ca.pem
    /// let _telemetry = tracetape::setup::Telemetry::builder().try_init()?;
    /// # Ok(()) }
    /// ```
    pub fn try_init(self) -> Result<TelemetryGuard, SetupError> {
        let guard = self.try_build()?;
        guard.install_globals();
        Ok(guard)
    }

    /// Builds, reporting unusable settings; returns the exporters' errors.
    fn build_reporting(self) -> (TelemetryGuard, Vec<SetupError>) {
        let (settings, mut warnings) = match &self.lookup {
            Some(lookup) => Settings::from_lookup(lookup),
            None => Settings::from_env(),
        };
        let (mut record, record_warnings) = match &self.lookup {
            Some(lookup) => RecordSettings::from_lookup(lookup),
            None => RecordSettings::from_lookup(|name| std::env::var(name).ok()),
        };
        let (config, config_warnings) = Config::resolve(&self.overrides, settings);
        record.trust_exporter_tls(&config.traces_otlp.tls);
        warnings.extend(config_warnings);
        warnings.extend(record_warnings);
        for warning in &warnings {
            warning.report();
        }
        pipeline::build(config, self.parts, &record)
    }

    /// Builds the providers and installs them, with the propagator, as
    /// OpenTelemetry's globals (nothing is installed when disabled). Call it
    /// inside the Tokio runtime when exporting over gRPC.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let _telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_service_name("checkout")
    ///     .init();
    /// # }
    /// ```
    pub fn init(self) -> TelemetryGuard {
        let mut guard = self.build();
        guard.install_globals();
        guard.announce();
        guard
    }
}

#[cfg(test)]
mod tests;
