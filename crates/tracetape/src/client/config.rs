//! What a client [`TraceLayer`](super::TraceLayer) shares with every service
//! and middleware built from it.

use std::sync::{Arc, OnceLock};

use opentelemetry::metrics::Histogram;
use opentelemetry::trace::SpanRef;

use super::info::{Outcome, RequestInfo};
use super::metrics;
use crate::http_attrs::{HeaderCapture, QueryKeys, UrlExclusions};
use crate::layer_modes::LayerModes;
use crate::providers::Providers;

pub(crate) type ExcludeFn = dyn Fn(&RequestInfo<'_>) -> bool + Send + Sync;
pub(crate) type UrlFilterFn = dyn Fn(&str) -> String + Send + Sync;
pub(crate) type RequestHookFn = dyn Fn(&SpanRef<'_>, &RequestInfo<'_>) + Send + Sync;
pub(crate) type ResponseHookFn = dyn Fn(&SpanRef<'_>, Outcome<'_>) + Send + Sync;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) providers: Providers,
    /// Created at the first traced request, then shared by every service
    /// of the layer.
    pub(crate) duration: Arc<OnceLock<Histogram<f64>>>,
    pub(crate) exclude: Option<Arc<ExcludeFn>>,
    pub(crate) excluded_urls: UrlExclusions,
    pub(crate) url_filter: Option<Arc<UrlFilterFn>>,
    pub(crate) capture_request: HeaderCapture,
    pub(crate) capture_response: HeaderCapture,
    /// Query keys whose values `url.full` hides, besides the defaults.
    pub(crate) query_keys: QueryKeys,
    pub(crate) on_request: Option<Arc<RequestHookFn>>,
    pub(crate) on_response: Option<Arc<ResponseHookFn>>,
    /// The recorder (for calls made outside any recorded request) and
    /// recordings set in code (record and replay mode).
    pub(crate) modes: LayerModes,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |present: bool| if present { "fn" } else { "none" };
        f.debug_struct("Config")
            .field("providers", &self.providers)
            .field("exclude", &set(self.exclude.is_some()))
            .field("excluded_urls", &self.excluded_urls)
            .field("url_filter", &set(self.url_filter.is_some()))
            .field("capture_request", &self.capture_request)
            .field("capture_response", &self.capture_response)
            .field("query_keys", &self.query_keys)
            .field("on_request", &set(self.on_request.is_some()))
            .field("on_response", &set(self.on_response.is_some()))
            .field("modes", &self.modes)
            .finish()
    }
}

impl Config {
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            providers: Providers::default(),
            duration: Arc::default(),
            exclude: None,
            excluded_urls: UrlExclusions::from_lookup("TRACETAPE_CLIENT_EXCLUDED_URLS", &lookup),
            url_filter: None,
            capture_request: HeaderCapture::from_lookup(
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST",
                "http.request.header",
                &lookup,
            ),
            capture_response: HeaderCapture::from_lookup(
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE",
                "http.response.header",
                &lookup,
            ),
            query_keys: QueryKeys::default(),
            on_request: None,
            on_response: None,
            modes: LayerModes::default(),
        }
    }

    /// Whether `request` is left alone: no span, no metric, no header.
    pub(crate) fn is_excluded(&self, request: &RequestInfo<'_>) -> bool {
        self.excluded_urls.matches(request.url)
            || self.exclude.as_ref().is_some_and(|f| {
                crate::hook::guarded("client.exclude", || f(request)).unwrap_or(false)
            })
    }

    pub(crate) fn duration(&self) -> &Histogram<f64> {
        self.duration
            .get_or_init(|| metrics::duration(&self.providers.meter()))
    }
}
