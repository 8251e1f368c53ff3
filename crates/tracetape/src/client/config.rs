//! What a client [`TraceLayer`](super::TraceLayer) shares with every service
//! and middleware built from it.

use std::sync::{Arc, OnceLock};

use opentelemetry::metrics::{Histogram, MeterProvider};
use opentelemetry::trace::SpanRef;

use super::info::{Outcome, RequestInfo};
use super::metrics;
use crate::layer_options::{EnvNames, Options};

pub(crate) type ExcludeFn = dyn Fn(&RequestInfo<'_>) -> bool + Send + Sync;
pub(crate) type UrlFilterFn = dyn Fn(&str) -> String + Send + Sync;
pub(crate) type RequestHookFn = dyn Fn(&SpanRef<'_>, &RequestInfo<'_>) + Send + Sync;
pub(crate) type ResponseHookFn = dyn Fn(&SpanRef<'_>, Outcome<'_>) + Send + Sync;

/// The client side's environment variables.
const ENV: EnvNames = EnvNames {
    excluded_urls: "TRACETAPE_CLIENT_EXCLUDED_URLS",
    capture_request: "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST",
    capture_response: "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE",
};

#[derive(Clone)]
pub(crate) struct Config {
    /// What the server layer has too; read through `Deref`. Its recorder
    /// records calls made outside any recorded request.
    pub(crate) options: Options,
    /// Created at the first traced request, then shared by every service
    /// of the layer.
    pub(crate) duration: Arc<OnceLock<Histogram<f64>>>,
    /// `rpc.client.call.duration`, made at the first gRPC call.
    pub(crate) rpc_duration: Arc<OnceLock<Histogram<f64>>>,
    /// Where requests that name no server go (a tonic channel's carry
    /// only their path): scheme, host and port.
    pub(crate) origin: Option<Origin>,
    pub(crate) exclude: Option<Arc<ExcludeFn>>,
    pub(crate) url_filter: Option<Arc<UrlFilterFn>>,
    pub(crate) on_request: Option<Arc<RequestHookFn>>,
    pub(crate) on_response: Option<Arc<ResponseHookFn>>,
}

crate::layer_options::deref_to_options!(Config);

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |present: bool| if present { "fn" } else { "none" };
        f.debug_struct("Config")
            .field("options", &self.options)
            .field("exclude", &set(self.exclude.is_some()))
            .field("url_filter", &set(self.url_filter.is_some()))
            .field("on_request", &set(self.on_request.is_some()))
            .field("on_response", &set(self.on_response.is_some()))
            .finish()
    }
}

impl Config {
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            options: Options::from_lookup(ENV, lookup),
            duration: Arc::default(),
            rpc_duration: Arc::default(),
            origin: None,
            exclude: None,
            url_filter: None,
            on_request: None,
            on_response: None,
        }
    }

    /// Records metrics with `provider`; the histogram of the previous
    /// meter goes.
    pub(crate) fn set_meter_provider(&mut self, provider: &impl MeterProvider) {
        self.options.providers.set_meter_provider(provider);
        self.duration = Arc::default();
        self.rpc_duration = Arc::default();
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

    pub(crate) fn rpc_duration(&self) -> &Histogram<f64> {
        self.rpc_duration
            .get_or_init(|| metrics::rpc_duration(&self.providers.meter()))
    }
}

/// The server requests that name none go to: a scheme and authority.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Origin {
    /// The origin `uri` names (`http` when it names no scheme); `None`
    /// when it names no host.
    pub(crate) fn of(uri: &http::Uri) -> Option<Self> {
        Some(Self {
            scheme: uri.scheme().cloned().unwrap_or(http::uri::Scheme::HTTP),
            authority: uri.authority()?.clone(),
        })
    }

    /// `uri` with this origin when it has none of its own.
    pub(crate) fn complete(&self, uri: &http::Uri) -> Option<http::Uri> {
        if uri.authority().is_some() {
            return None;
        }
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = uri
            .path_and_query()
            .cloned()
            .or_else(|| Some(http::uri::PathAndQuery::from_static("/")));
        http::Uri::from_parts(parts).ok()
    }
}
