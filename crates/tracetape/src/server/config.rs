//! What a [`TraceLayer`](super::TraceLayer) shares with every service it
//! builds: where tracers, meters and the propagator come from, routes,
//! exclusions and header capture.

use std::sync::{Arc, OnceLock};

use http::request::Parts;
use opentelemetry::Context;

use super::active::ActiveRequests;
use super::metrics::Instruments;
use crate::http_attrs::{HeaderCapture, QueryKeys, UrlExclusions};
use crate::layer_modes::LayerModes;
use crate::propagation::RequestHeaders;
use crate::providers::Providers;

pub(crate) type RouteFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;
pub(crate) type ExcludeFn = dyn Fn(&Parts) -> bool + Send + Sync;

#[derive(Clone)]
pub(crate) struct Config {
    /// Tracer, meter and propagator; the global ones unless set in code.
    pub(crate) providers: Providers,
    /// Created at the first traced request, then shared by every service
    /// of the layer (and so are their active-request counters).
    pub(crate) instruments: Arc<OnceLock<Arc<Instruments>>>,
    pub(crate) route: Option<Arc<RouteFn>>,
    pub(crate) exclude: Option<Arc<ExcludeFn>>,
    pub(crate) excluded_urls: UrlExclusions,
    pub(crate) capture_request: HeaderCapture,
    pub(crate) capture_response: HeaderCapture,
    /// Query keys whose values `url.query` hides, besides the defaults.
    pub(crate) query_keys: QueryKeys,
    /// The recorder and recordings set in code (record and replay mode).
    pub(crate) modes: LayerModes,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("providers", &self.providers)
            .field("route", &self.route.as_ref().map(|_| "fn"))
            .field("exclude", &self.exclude.as_ref().map(|_| "fn"))
            .field("excluded_urls", &self.excluded_urls)
            .field("capture_request", &self.capture_request)
            .field("capture_response", &self.capture_response)
            .field("query_keys", &self.query_keys)
            .field("modes", &self.modes)
            .finish()
    }
}

impl Config {
    pub(crate) fn from_env() -> Self {
        Self {
            providers: Providers::default(),
            instruments: Arc::new(OnceLock::new()),
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
            query_keys: QueryKeys::default(),
            modes: LayerModes::default(),
        }
    }

    pub(crate) fn is_excluded(&self, parts: &Parts) -> bool {
        self.excluded_urls.matches(parts.uri.path())
            || self.exclude.as_ref().is_some_and(|f| {
                crate::hook::guarded("server.exclude", || f(parts)).unwrap_or(false)
            })
    }

    pub(crate) fn extract(&self, headers: &http::HeaderMap) -> Context {
        self.providers.extract(&RequestHeaders(headers))
    }

    pub(crate) fn instruments(&self) -> &Arc<Instruments> {
        self.instruments.get_or_init(|| {
            // Counters for a meter set in code are the layer's own; the
            // global meter's are shared by every layer of the process.
            let active = if self.providers.has_meter() {
                Arc::default()
            } else {
                ActiveRequests::global()
            };
            Arc::new(Instruments::new(&self.providers.meter(), active))
        })
    }

    /// Runs `f` with the tracer to start the span with.
    pub(crate) fn with_tracer<R>(
        &self,
        f: impl FnOnce(&opentelemetry::global::BoxedTracer) -> R,
    ) -> R {
        self.providers.with_tracer(f)
    }
}
