//! [`Instrumentation`]: where one service's spans, metrics and propagation
//! go.

use std::fmt;
use std::sync::Arc;

use opentelemetry::Context;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracetape::TelemetryGuard;
use tracetape::record::Recorder;
use tracetape::replay::Replayer;

/// The tracer provider, meter provider and propagator one service uses,
/// for its server layer, its client middleware and its own spans. Each
/// one left unset is OpenTelemetry's global one, looked up when used.
///
/// ```
/// use microservices::Instrumentation;
/// use tracetape::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use tracetape::propagation::TraceContextPropagator;
///
/// let spans = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(spans.clone())
///     .build();
/// let instrumentation = Instrumentation::global()
///     .with_tracer_provider(provider)
///     .with_propagator(TraceContextPropagator::new());
/// let app = microservices::pricing(&instrumentation);
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Instrumentation {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    propagator: Option<SharedPropagator>,
    /// Record mode: the recorder of this service, when not the global one.
    recorder: Option<Recorder>,
    /// Replay mode: the recordings this service replays, when not the
    /// global ones.
    replayer: Option<Replayer>,
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = |explicit: bool| if explicit { "explicit" } else { "global" };
        f.debug_struct("Instrumentation")
            .field("tracer_provider", &source(self.tracer_provider.is_some()))
            .field("meter_provider", &source(self.meter_provider.is_some()))
            .field("propagator", &source(self.propagator.is_some()))
            .field("recorder", &source(self.recorder.is_some()))
            .field("replayer", &source(self.replayer.is_some()))
            .finish()
    }
}

impl Instrumentation {
    /// Everything from OpenTelemetry's globals, as `tracetape::init`
    /// installs them.
    pub fn global() -> Self {
        Self::default()
    }

    /// The providers and propagator of a telemetry guard built with
    /// `Telemetry::builder().build()`, without installing them globally:
    /// how several services in one process get a `service.name` each.
    ///
    /// With `TRACETAPE_MODE=record`, the guard's recorder records this
    /// service's traffic; with `TRACETAPE_MODE=replay`, the recordings the
    /// guard loaded answer the outbound calls of the requests replayed to
    /// this service (and its calls made outside any replayed request).
    pub fn from_guard(guard: &TelemetryGuard) -> Self {
        let mut instrumentation = Self::global()
            .with_tracer_provider(guard.tracer_provider().clone())
            .with_meter_provider(guard.meter_provider().clone())
            .with_propagator(guard.propagator());
        instrumentation.recorder = guard.recorder().cloned();
        instrumentation.replayer = guard.replayer().cloned();
        instrumentation
    }

    /// Starts spans with `provider`.
    pub fn with_tracer_provider(mut self, provider: SdkTracerProvider) -> Self {
        self.tracer_provider = Some(provider);
        self
    }

    /// Records metrics with `provider`.
    pub fn with_meter_provider(mut self, provider: SdkMeterProvider) -> Self {
        self.meter_provider = Some(provider);
        self
    }

    /// Extracts and injects context with `propagator`.
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.propagator = Some(SharedPropagator(Arc::new(propagator)));
        self
    }

    /// The server layer of a service.
    pub(crate) fn server_layer(&self) -> tracetape::server::TraceLayer {
        let mut layer = tracetape::server::TraceLayer::new();
        if let Some(provider) = &self.tracer_provider {
            layer = layer.with_tracer_provider(provider.clone());
        }
        if let Some(provider) = &self.meter_provider {
            layer = layer.with_meter_provider(provider);
        }
        if let Some(propagator) = &self.propagator {
            layer = layer.with_propagator(propagator.clone());
        }
        if let Some(recorder) = &self.recorder {
            layer = layer.with_recorder(recorder.clone());
        }
        if let Some(replayer) = &self.replayer {
            layer = layer.with_replayer(replayer.clone());
        }
        layer
    }

    /// The client layer, for the reqwest middleware of a service.
    pub(crate) fn client_layer(&self) -> tracetape::client::TraceLayer {
        let mut layer = tracetape::client::TraceLayer::new();
        if let Some(provider) = &self.tracer_provider {
            layer = layer.with_tracer_provider(provider.clone());
        }
        if let Some(provider) = &self.meter_provider {
            layer = layer.with_meter_provider(provider);
        }
        if let Some(propagator) = &self.propagator {
            layer = layer.with_propagator(propagator.clone());
        }
        if let Some(recorder) = &self.recorder {
            layer = layer.with_recorder(recorder.clone());
        }
        if let Some(replayer) = &self.replayer {
            layer = layer.with_replayer(replayer.clone());
        }
        layer
    }

    /// tracetape's PostgreSQL connector with this service's providers,
    /// recorder and recordings.
    pub(crate) fn postgres_connector(&self) -> tracetape::postgres::Connector {
        let mut connector = tracetape::postgres::Connector::new();
        if let Some(provider) = &self.tracer_provider {
            connector = connector.with_tracer_provider(provider.clone());
        }
        if let Some(provider) = &self.meter_provider {
            connector = connector.with_meter_provider(provider);
        }
        if let Some(recorder) = &self.recorder {
            connector = connector.with_recorder(recorder.clone());
        }
        if let Some(replayer) = &self.replayer {
            connector = connector.with_replayer(replayer.clone());
        }
        connector
    }

    /// The tracer for the spans a service makes itself.
    pub(crate) fn tracer(&self) -> BoxedTracer {
        match &self.tracer_provider {
            Some(provider) => BoxedTracer::new(Box::new(provider.tracer(crate::SCOPE))),
            None => global::tracer(crate::SCOPE),
        }
    }
}

/// One propagator shared by the server layer and the client middleware,
/// which each take theirs by value.
#[derive(Clone)]
struct SharedPropagator(Arc<dyn TextMapPropagator + Send + Sync>);

impl fmt::Debug for SharedPropagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedPropagator").finish_non_exhaustive()
    }
}

impl TextMapPropagator for SharedPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}
