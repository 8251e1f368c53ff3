//! Where a layer's tracer, meter and propagator come from: set in code, or
//! OpenTelemetry's global ones, looked up when a request needs them so that
//! setup may happen after the layer is built. Shared by the server and
//! client sides.

use std::sync::{Arc, LazyLock};

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider;
use opentelemetry::trace::noop::NoopTracerProvider;
use opentelemetry::{Context, InstrumentationScope};

/// A propagator as a layer holds it.
pub(crate) type Propagator = dyn TextMapPropagator + Send + Sync;

/// The instrumentation scope of every span and metric tracetape makes.
pub(crate) static SCOPE: LazyLock<InstrumentationScope> = LazyLock::new(|| {
    InstrumentationScope::builder("tracetape")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
});

/// The tracer, meter and propagator of one layer; `None` means the global
/// one.
#[derive(Clone, Default)]
pub(crate) struct Providers {
    tracer: Option<Arc<BoxedTracer>>,
    meter: Option<Meter>,
    propagator: Option<Arc<Propagator>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = |explicit: bool| if explicit { "explicit" } else { "global" };
        f.debug_struct("Providers")
            .field("tracer", &source(self.tracer.is_some()))
            .field("meter", &source(self.meter.is_some()))
            .field("propagator", &source(self.propagator.is_some()))
            .finish()
    }
}

impl Providers {
    /// Starts spans with `provider` instead of the global one.
    pub(crate) fn set_tracer_provider<P>(&mut self, provider: P)
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        let tracer = provider.tracer_with_scope(SCOPE.clone());
        self.tracer = Some(Arc::new(BoxedTracer::new(Box::new(tracer))));
    }

    /// Starts no spans at all.
    pub(crate) fn disable_spans(&mut self) {
        self.set_tracer_provider(NoopTracerProvider::new());
    }

    /// Records metrics with `provider` instead of the global one.
    pub(crate) fn set_meter_provider(&mut self, provider: &impl MeterProvider) {
        self.meter = Some(provider.meter_with_scope(SCOPE.clone()));
    }

    /// Propagates with `propagator` instead of the global one.
    pub(crate) fn set_propagator(
        &mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) {
        self.propagator = Some(Arc::new(propagator));
    }

    /// Whether metrics go to a meter set in code.
    pub(crate) fn has_meter(&self) -> bool {
        self.meter.is_some()
    }

    /// The meter to create instruments with.
    pub(crate) fn meter(&self) -> Meter {
        match &self.meter {
            Some(meter) => meter.clone(),
            None => global::meter_with_scope(SCOPE.clone()),
        }
    }

    /// The context `extractor` carries.
    pub(crate) fn extract(&self, extractor: &dyn Extractor) -> Context {
        match &self.propagator {
            Some(p) => p.extract(extractor),
            None => global::get_text_map_propagator(|p| p.extract(extractor)),
        }
    }

    /// Writes `cx` into `injector`.
    pub(crate) fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        match &self.propagator {
            Some(p) => p.inject_context(cx, injector),
            None => global::get_text_map_propagator(|p| p.inject_context(cx, injector)),
        }
    }

    /// Runs `f` with the tracer to start a span with.
    ///
    /// The global provider is asked for a tracer at every request. That
    /// costs a lock read, two reference counts and the box of the tracer,
    /// but the provider offers no identity or version to tell whether a
    /// cached tracer is still the current one, and a cached one would keep
    /// sending spans to a provider replaced by `set_tracer_provider`. The
    /// provider `init()` installs hands out a tracer it made once
    /// (`setup/installed.rs`), so the SDK builds none per request.
    pub(crate) fn with_tracer<R>(&self, f: impl FnOnce(&BoxedTracer) -> R) -> R {
        match &self.tracer {
            Some(tracer) => f(tracer),
            None => f(&global::tracer_with_scope(SCOPE.clone())),
        }
    }
}
