//! What a [`TraceLayer`](super::TraceLayer) shares with every service it
//! builds: the [`Options`] both layers have (providers, exclusions, header
//! capture, …), and routes, the exclusion predicate and the instruments.

use std::sync::{Arc, OnceLock};

use http::request::Parts;
use opentelemetry::Context;
use opentelemetry::metrics::MeterProvider;

use super::active::ActiveRequests;
use super::metrics::Instruments;
use crate::layer_options::{EnvNames, Options};
use crate::propagation::RequestHeaders;

pub(crate) type RouteFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;
pub(crate) type ExcludeFn = dyn Fn(&Parts) -> bool + Send + Sync;

/// The server side's environment variables.
const ENV: EnvNames = EnvNames {
    excluded_urls: "TRACETAPE_SERVER_EXCLUDED_URLS",
    capture_request: "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
    capture_response: "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE",
};

#[derive(Clone)]
pub(crate) struct Config {
    /// What the client layer has too; read through `Deref`.
    pub(crate) options: Options,
    /// Created at the first traced request, then shared by every service
    /// of the layer (and so are their active-request counters).
    pub(crate) instruments: Arc<OnceLock<Arc<Instruments>>>,
    pub(crate) route: Option<Arc<RouteFn>>,
    pub(crate) exclude: Option<Arc<ExcludeFn>>,
}

crate::layer_options::deref_to_options!(Config);

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("options", &self.options)
            .field("route", &self.route.as_ref().map(|_| "fn"))
            .field("exclude", &self.exclude.as_ref().map(|_| "fn"))
            .finish()
    }
}

impl Config {
    pub(crate) fn from_env() -> Self {
        Self {
            options: Options::from_env(ENV),
            instruments: Arc::new(OnceLock::new()),
            route: None,
            exclude: None,
        }
    }

    /// Records metrics with `provider`; the instruments of the previous
    /// meter go.
    pub(crate) fn set_meter_provider(&mut self, provider: &impl MeterProvider) {
        self.options.providers.set_meter_provider(provider);
        self.instruments = Arc::default();
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
