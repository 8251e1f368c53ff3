//! What a [`TraceLayer`](super::TraceLayer) shares with every service it
//! builds: where tracers, meters and the propagator come from, routes,
//! exclusions and header capture.

use std::sync::{Arc, LazyLock, OnceLock};

use http::request::Parts;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::metrics::Meter;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::{Context, InstrumentationScope};

use super::active::ActiveRequests;
use super::metrics::Instruments;
use super::propagation::RequestHeaders;
use crate::http_attrs::{HeaderCapture, UrlExclusions};

pub(crate) type RouteFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;
pub(crate) type ExcludeFn = dyn Fn(&Parts) -> bool + Send + Sync;
pub(crate) type Propagator = dyn TextMapPropagator + Send + Sync;

/// The instrumentation scope of every span and metric tracetape makes.
pub(crate) static SCOPE: LazyLock<InstrumentationScope> = LazyLock::new(|| {
    InstrumentationScope::builder("tracetape")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
});

#[derive(Clone)]
pub(crate) struct Config {
    /// `None`: the global tracer provider, looked up for each request so
    /// that setup may happen after the layer is built.
    pub(crate) tracer: Option<Arc<BoxedTracer>>,
    /// `None`: the global meter provider, looked up at the first request.
    pub(crate) meter: Option<Meter>,
    /// Created at the first traced request, then shared by every service
    /// of the layer (and so are their active-request counters).
    pub(crate) instruments: Arc<OnceLock<Arc<Instruments>>>,
    /// `None`: the global propagator.
    pub(crate) propagator: Option<Arc<Propagator>>,
    pub(crate) route: Option<Arc<RouteFn>>,
    pub(crate) exclude: Option<Arc<ExcludeFn>>,
    pub(crate) excluded_urls: UrlExclusions,
    pub(crate) capture_request: HeaderCapture,
    pub(crate) capture_response: HeaderCapture,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("tracer", &self.tracer.as_ref().map(|_| "explicit"))
            .field("meter", &self.meter.as_ref().map(|_| "explicit"))
            .field("propagator", &self.propagator.as_ref().map(|_| "explicit"))
            .field("route", &self.route.as_ref().map(|_| "fn"))
            .field("exclude", &self.exclude.as_ref().map(|_| "fn"))
            .field("excluded_urls", &self.excluded_urls)
            .field("capture_request", &self.capture_request)
            .field("capture_response", &self.capture_response)
            .finish()
    }
}

impl Config {
    pub(crate) fn from_env() -> Self {
        Self {
            tracer: None,
            meter: None,
            instruments: Arc::new(OnceLock::new()),
            propagator: None,
            route: None,
            exclude: None,
            excluded_urls: UrlExclusions::from_env("TRACETAPE_SERVER_EXCLUDED_URLS"),
            capture_request: HeaderCapture::from_env(
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
                "http.request.header",
            ),
            capture_response: HeaderCapture::from_env(
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE",
                "http.response.header",
            ),
        }
    }

    pub(crate) fn is_excluded(&self, parts: &Parts) -> bool {
        self.excluded_urls.matches(parts.uri.path())
            || self.exclude.as_ref().is_some_and(|f| {
                crate::hook::guarded("server.exclude", || f(parts)).unwrap_or(false)
            })
    }

    pub(crate) fn extract(&self, headers: &http::HeaderMap) -> Context {
        let extractor = RequestHeaders(headers);
        match &self.propagator {
            Some(p) => p.extract(&extractor),
            None => global::get_text_map_propagator(|p| p.extract(&extractor)),
        }
    }

    pub(crate) fn instruments(&self) -> &Arc<Instruments> {
        self.instruments.get_or_init(|| {
            Arc::new(match &self.meter {
                Some(meter) => Instruments::new(meter, Arc::default()),
                None => Instruments::new(
                    &global::meter_with_scope(SCOPE.clone()),
                    ActiveRequests::global(),
                ),
            })
        })
    }

    /// Runs `f` with the tracer to start the span with.
    ///
    /// The global provider is asked for a tracer at every request. That
    /// costs a lock read, two reference counts and a small allocation, but
    /// the provider offers no identity or version to tell whether a cached
    /// tracer is still the current one, and a cached one would keep
    /// sending spans to a provider replaced by `set_tracer_provider`.
    pub(crate) fn with_tracer<R>(&self, f: impl FnOnce(&BoxedTracer) -> R) -> R {
        match &self.tracer {
            Some(tracer) => f(tracer),
            None => f(&global::tracer_with_scope(SCOPE.clone())),
        }
    }
}
