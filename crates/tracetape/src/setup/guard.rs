//! [`TelemetryGuard`]: the providers, kept alive until it drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::global;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::error::{FlushError, ShutdownError};
use super::propagation::{Propagator, composite};
use super::record::Started;
use super::span_counts::{Counters, SpanCounts};
use super::startup::Installed;

/// The tracer and meter providers built by
/// [`TelemetryBuilder`](super::TelemetryBuilder), the propagators it
/// chose, and with `TRACETAPE_MODE=record` the recorder.
///
/// Keep it alive for as long as the program records telemetry, typically
/// as a `_telemetry` variable in `main`. When it drops it shuts both
/// providers down, which exports whatever is still queued; problems are
/// reported on standard error, never as a panic. Call
/// [`shutdown`](Self::shutdown) instead to see the error. In record mode it
/// also waits, for a few seconds at most, for queued recordings to be
/// written, and stops the process-wide recorder it installed.
///
/// Dropping it blocks while the exporters finish (bounded by their
/// timeouts). With the gRPC exporter on a current-thread Tokio runtime,
/// drop it or shut it down from a blocking thread
/// (`tokio::task::spawn_blocking`), as exports need the runtime to make
/// progress.
///
/// ```
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use tracetape::setup::{Telemetry, TracesExporter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let telemetry = Telemetry::builder()
///     .with_traces_exporter(TracesExporter::None)
///     .build();
/// let tracer = telemetry.tracer_provider().tracer("example");
/// tracer.in_span("work", |_cx| {});
/// telemetry.force_flush()?;
/// telemetry.shutdown()?;
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping the guard shuts telemetry down; keep it alive while the program runs"]
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    propagators: Vec<Propagator>,
    disabled: bool,
    /// The recorder or replayer the mode asked for.
    started: Started,
    shut_down: AtomicBool,
    /// The spans of the tracer provider's exporting pipeline.
    span_counts: Arc<Counters>,
    /// Where spans and requests go, said by `init`.
    said: String,
    /// When `init` made it; dropped at once, it says so.
    installed: Option<Installed>,
}

impl TelemetryGuard {
    pub(crate) fn new(
        tracer_provider: SdkTracerProvider,
        meter_provider: SdkMeterProvider,
        propagators: Vec<Propagator>,
        disabled: bool,
        started: Started,
        span_counts: Arc<Counters>,
    ) -> Self {
        TelemetryGuard {
            tracer_provider,
            meter_provider,
            propagators,
            disabled,
            started,
            shut_down: AtomicBool::new(false),
            span_counts,
            said: String::new(),
            installed: None,
        }
    }

    /// The guard, with the line `init` says at start.
    pub(crate) fn saying(mut self, line: String) -> Self {
        self.said = line;
        self
    }

    /// For `init`: says on standard error, in one line, where spans and
    /// requests go (nothing when telemetry is disabled), and notes when,
    /// to tell a guard dropped at once.
    pub(crate) fn announce(&mut self) {
        if !self.said.is_empty() {
            eprintln!("{}", self.said);
        }
        self.installed = Some(Installed::now());
    }

    /// How many spans ended, how many the exporter delivered, how many
    /// were lost because an export failed (the collector down, say), and
    /// how many were dropped by the batch processor's full queue
    /// ([`SpanCounts::dropped`], exact after a flush). The SDK drops spans
    /// silently; these counts, and a warning at the first failed export,
    /// are how the loss shows. Spans of processors added with
    /// [`with_span_processor`](super::TelemetryBuilder::with_span_processor)
    /// are not counted.
    ///
    /// ```
    /// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    /// use tracetape::opentelemetry_sdk::trace::InMemorySpanExporter;
    ///
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_span_exporter(InMemorySpanExporter::default())
    ///     .build();
    /// telemetry.tracer_provider().tracer("example").in_span("work", |_cx| {});
    /// telemetry.force_flush()?;
    /// let counts = telemetry.span_counts();
    /// assert_eq!((counts.ended, counts.exported, counts.dropped()), (1, 1, 0));
    /// # Ok::<(), tracetape::setup::FlushError>(())
    /// ```
    pub fn span_counts(&self) -> SpanCounts {
        self.span_counts.snapshot()
    }

    /// Installs the providers and the propagator as OpenTelemetry's
    /// globals, and the recorder as the process-wide one the layers record
    /// into; nothing when telemetry is disabled.
    pub(crate) fn install_globals(&self) {
        if self.disabled {
            // Nothing but a refusal: replay mode asked for with telemetry
            // off must not let calls go to the network.
            self.started.install();
            return;
        }
        global::set_tracer_provider(super::installed::InstalledProvider::new(
            self.tracer_provider.clone(),
        ));
        global::set_meter_provider(self.meter_provider.clone());
        global::set_text_map_propagator(self.propagator());
        self.started.install();
    }

    /// The recorder `TRACETAPE_MODE=record` started: `None` in any other
    /// mode, when telemetry is disabled, and when it could not start (which
    /// was reported on standard error). [`init`](super::TelemetryBuilder::init)
    /// installs it for the whole process; after
    /// [`build`](super::TelemetryBuilder::build), hand it to the layers
    /// yourself ([`server::TraceLayer::with_recorder`](crate::server::TraceLayer::with_recorder)).
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_env_lookup(|name| (name == "OTEL_TRACES_EXPORTER").then(|| "none".to_owned()))
    ///     .build();
    /// if let Some(recorder) = telemetry.recorder() {
    ///     println!("{} recordings dropped", recorder.dropped());
    /// }
    /// ```
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    pub fn recorder(&self) -> Option<&crate::record::Recorder> {
        match &self.started {
            Started::Recording(recorder) => Some(recorder),
            _ => None,
        }
    }

    /// The recordings `TRACETAPE_MODE=replay` loaded: `None` in any other
    /// mode, when telemetry is disabled, and when they could not be loaded
    /// (which was reported on standard error).
    /// [`init`](super::TelemetryBuilder::init) installs them for the whole
    /// process, so the layers answer replayed requests' calls from them.
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder()
    ///     .with_env_lookup(|_| None)
    ///     .build();
    /// assert!(telemetry.replayer().is_none());
    /// ```
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    pub fn replayer(&self) -> Option<&crate::replay::Replayer> {
        match &self.started {
            Started::Replaying(replayer) => Some(replayer),
            _ => None,
        }
    }

    /// The tracer provider; clone it to keep it elsewhere.
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    ///
    /// let telemetry = tracetape::setup::Telemetry::builder().disabled(true).build();
    /// let _tracer = telemetry.tracer_provider().tracer("my-library");
    /// ```
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider; clone it to keep it elsewhere.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    ///
    /// let telemetry = tracetape::setup::Telemetry::builder().disabled(true).build();
    /// let _meter = telemetry.meter_provider().meter("my-library");
    /// ```
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// A propagator for the configured formats (`OTEL_PROPAGATORS`, by
    /// default W3C trace context and baggage), for installing it yourself
    /// after [`build`](super::TelemetryBuilder::build).
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder().disabled(true).build();
    /// opentelemetry::global::set_text_map_propagator(telemetry.propagator());
    /// ```
    pub fn propagator(&self) -> TextMapCompositePropagator {
        composite(&self.propagators)
    }

    /// Whether telemetry is disabled (`OTEL_SDK_DISABLED=true` or
    /// [`disabled(true)`](super::TelemetryBuilder::disabled)): the providers
    /// record and export nothing.
    ///
    /// ```
    /// let telemetry = tracetape::setup::Telemetry::builder().disabled(true).build();
    /// assert!(telemetry.is_disabled());
    /// ```
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Exports everything recorded so far, waiting for the exporters, and
    /// in record mode waits (5 s at most) for queued recordings to be
    /// written.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let telemetry = tracetape::init();
    /// // ... record spans ...
    /// if let Err(err) = telemetry.force_flush() {
    ///     eprintln!("{err}");
    /// }
    /// # }
    /// ```
    pub fn force_flush(&self) -> Result<(), FlushError> {
        let traces = self.tracer_provider.force_flush();
        let metrics = self.meter_provider.force_flush();
        let recordings = self.started.flush();
        traces.map_err(|err| FlushError::Traces { err })?;
        metrics.map_err(|err| FlushError::Metrics { err })?;
        recordings
    }

    /// Exports what is still queued and shuts both providers down; spans
    /// and measurements recorded afterwards are dropped. In record mode the
    /// recorder stops being the process-wide one and queued recordings are
    /// written (5 s at most). Dropping the guard does the same and reports
    /// errors on standard error.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let telemetry = tracetape::init();
    /// // ... serve ...
    /// if let Err(err) = telemetry.shutdown() {
    ///     eprintln!("{err}");
    /// }
    /// # }
    /// ```
    pub fn shutdown(&self) -> Result<(), ShutdownError> {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return Err(ShutdownError::AlreadyShutDown);
        }
        self.started.uninstall();
        let traces = self.tracer_provider.shutdown();
        let metrics = self.meter_provider.shutdown();
        let recordings = self.started.flush_at_shutdown();
        traces.map_err(|err| ShutdownError::Traces { err })?;
        metrics.map_err(|err| ShutdownError::Metrics { err })?;
        recordings
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let ended = self.span_counts.snapshot().ended;
        if let Some(warning) = self.installed.and_then(|at| at.dropped_at_once(ended)) {
            crate::diag::warn_once("setup.guard_dropped", warning);
        }
        if let Err(err) = self.shutdown() {
            crate::diag::warn_once("setup.shutdown_failed", crate::diag::chain(&err));
        }
    }
}
