//! [`TraceLayer`]: configuration of client tracing, and the tower `Layer`
//! that wraps an HTTP client service.

use std::sync::Arc;

use opentelemetry::metrics::MeterProvider;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanRef, TracerProvider};
use tower_layer::Layer;

use super::Trace;
use super::config::Config;
use super::info::{Outcome, RequestInfo};
use crate::http_attrs::{HeaderCapture, UrlExclusions};

/// Traces every attempt of an HTTP client with one CLIENT span, injects
/// the span's context into the request, and records
/// `http.client.request.duration`.
///
/// Built from the environment (`TRACETAPE_CLIENT_EXCLUDED_URLS` falling
/// back to `TRACETAPE_EXCLUDED_URLS`,
/// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_*`); the `with_*`
/// methods override it. The same configuration serves both integrations:
/// as a tower `Layer` it wraps any `Service<http::Request<_>>`, and
/// [`TracingMiddleware::from`](super::TracingMiddleware) turns it into
/// reqwest middleware. By default spans go to the global tracer provider,
/// looked up for each request, so [`crate::init`] may run before or after
/// the client is built.
///
/// ```
/// use tracetape::client::{RequestBody, TraceLayer};
///
/// let layer = TraceLayer::new()
///     .with_excluded_urls(["^https?://metadata\\.internal/"])
///     .with_url_filter(|url| url.split('?').next().unwrap_or(url).to_owned());
/// let client = tower::ServiceBuilder::new()
///     .layer(layer)
///     .service(tower::service_fn(|_: http::Request<RequestBody<String>>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TraceLayer {
    pub(crate) config: Arc<Config>,
}

impl TraceLayer {
    /// A layer configured from the environment.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config::from_env()),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            config: Arc::new(Config::from_lookup(lookup)),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Starts spans with this provider instead of the global one.
    pub fn with_tracer_provider<P>(mut self, provider: P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        self.config_mut().providers.set_tracer_provider(provider);
        self
    }

    /// Disables spans (metrics are still recorded and context still
    /// injected).
    pub fn without_spans(mut self) -> Self {
        self.config_mut().providers.disable_spans();
        self
    }

    /// Records metrics with this provider instead of the global one.
    pub fn with_meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        let config = self.config_mut();
        config.providers.set_meter_provider(provider);
        config.duration = Arc::default();
        self
    }

    /// Injects the context with this propagator instead of the global one.
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().providers.set_propagator(propagator);
        self
    }

    /// Leaves requests for which `exclude` returns `true` alone: no span,
    /// no metric, no injected header.
    pub fn with_exclude(
        mut self,
        exclude: impl Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().exclude = Some(Arc::new(exclude));
        self
    }

    /// Replaces the exclusion regexes read from the environment; a request
    /// whose full URL matches any of them is left alone.
    pub fn with_excluded_urls<'a>(mut self, patterns: impl IntoIterator<Item = &'a str>) -> Self {
        self.config_mut().excluded_urls =
            UrlExclusions::from_patterns(patterns, "client with_excluded_urls");
        self
    }

    /// Rewrites the URL before it is recorded as `url.full` (credentials
    /// and signature values are redacted afterwards all the same). The
    /// request itself is not changed.
    pub fn with_url_filter(
        mut self,
        filter: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().url_filter = Some(Arc::new(filter));
        self
    }

    /// Hides the values of these query keys in `url.full` too (compared
    /// in any case), besides the default list of credential keys
    /// (`api_key`, `token`, `password`, `signature`, … listed in
    /// `docs/security.md`), the keys of `TRACETAPE_REDACT_QUERY_KEYS`, and
    /// the keys of the query rules configured for recordings. Each value
    /// becomes `REDACTED`.
    ///
    /// ```
    /// use tracetape::client::TraceLayer;
    ///
    /// let layer = TraceLayer::new().with_redacted_query_keys(["tenant_secret", "otp"]);
    /// ```
    pub fn with_redacted_query_keys<'a>(mut self, keys: impl IntoIterator<Item = &'a str>) -> Self {
        let config = self.config_mut();
        config.query_keys = config.query_keys.with(keys);
        self
    }

    /// Captures the values of these credential headers as they are,
    /// when they are captured at all: by default `authorization`,
    /// `cookie` and the other headers listed in `docs/security.md` are
    /// recorded as `[REDACTED]` even when the capture list names them.
    /// Replaces `TRACETAPE_CAPTURE_HEADERS_SAFE`; a header the sanitise
    /// list names stays hidden.
    ///
    /// ```
    /// use tracetape::client::TraceLayer;
    ///
    /// // This service's x-api-key is a public client id, not a secret.
    /// let layer = TraceLayer::new()
    ///     .with_request_headers(["x-api-key", "x-tenant"], [])
    ///     .with_safe_headers(["x-api-key"]);
    /// ```
    pub fn with_safe_headers<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        let config = self.config_mut();
        config.capture_request = config
            .capture_request
            .clone()
            .with_safe(names.iter().copied());
        config.capture_response = config.capture_response.clone().with_safe(names);
        self
    }

    /// Records these request headers as `http.request.header.<name>`,
    /// replacing the environment's list; values of headers named in
    /// `sanitize`, and of the headers that carry credentials
    /// (`authorization`, `proxy-authorization`, `cookie`, `set-cookie`,
    /// `x-api-key`, … listed in `docs/security.md`) unless
    /// [`with_safe_headers`](Self::with_safe_headers) names them, become
    /// `[REDACTED]`.
    pub fn with_request_headers<'a>(
        mut self,
        names: impl IntoIterator<Item = &'a str>,
        sanitize: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let config = self.config_mut();
        config.capture_request = HeaderCapture::new(names, sanitize, "http.request.header")
            .with_safe_of(&config.capture_request);
        self
    }

    /// Records these response headers as `http.response.header.<name>`,
    /// replacing the environment's list; values of headers named in
    /// `sanitize`, and of the headers that carry credentials
    /// (`authorization`, `proxy-authorization`, `cookie`, `set-cookie`,
    /// `x-api-key`, … listed in `docs/security.md`) unless
    /// [`with_safe_headers`](Self::with_safe_headers) names them, become
    /// `[REDACTED]`.
    pub fn with_response_headers<'a>(
        mut self,
        names: impl IntoIterator<Item = &'a str>,
        sanitize: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let config = self.config_mut();
        config.capture_response = HeaderCapture::new(names, sanitize, "http.response.header")
            .with_safe_of(&config.capture_response);
        self
    }

    /// Records calls made outside any recorded request (at start-up, by
    /// background jobs) with `recorder`, each as a background recording
    /// of its own, sampled call by call with its sample rate.
    ///
    /// Record mode needs no option for calls made while serving a request
    /// that the server layer records
    /// ([`server::TraceLayer::with_recorder`](crate::server::TraceLayer::with_recorder)):
    /// each attempt of those becomes a CLIENT exchange of that request's
    /// recording, whether or not the client layer has a recorder; so does
    /// an attempt made after the response in the request's context (by a
    /// task started with [`context::spawn`](crate::context::spawn)), whose
    /// recording waits for it. Either
    /// way an attempt records the request as sent (full URL, headers with
    /// the trace context injected, body) and the response (status,
    /// headers, body), or the error that came instead as
    /// `{error.type}: {message}`; bodies are copied as they stream past,
    /// up to [`Recorder::max_body_bytes`](crate::record::Recorder::max_body_bytes), and the caller reads them
    /// unchanged. Excluded requests and tracetape's own traffic
    /// (suppressed telemetry) are never recorded. What each integration
    /// can see of a body is described on [`Trace`] and
    /// [`TracingMiddleware`](super::TracingMiddleware).
    ///
    /// Calls made while serving a request that the server layer did *not*
    /// sample are not recorded at all: the sampling decision of the
    /// request applies to every call made while serving it.
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    pub fn with_recorder(mut self, recorder: crate::record::Recorder) -> Self {
        self.config_mut().modes.recorder = Some(recorder);
        self
    }

    /// Answers calls made outside any replayed request from `replayer`'s
    /// background recordings, instead of those `TRACETAPE_MODE=replay`
    /// loads for the whole process. Calls made while serving a replayed
    /// request are always answered from that request's recording.
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    pub fn with_replayer(mut self, replayer: crate::replay::Replayer) -> Self {
        self.config_mut().modes.replayer = Some(replayer);
        self
    }

    /// Calls `hook` when the span of an attempt has started, before the
    /// request is sent. A panicking hook is reported once and skipped.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// use tracetape::client::TraceLayer;
    ///
    /// let layer = TraceLayer::new().with_on_request(|span, request| {
    ///     if request.headers.contains_key("x-tenant") {
    ///         span.set_attribute(KeyValue::new("app.tenant.known", true));
    ///     }
    /// });
    /// ```
    pub fn with_on_request(
        mut self,
        hook: impl Fn(&SpanRef<'_>, &RequestInfo<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().on_request = Some(Arc::new(hook));
        self
    }

    /// Calls `hook` when an attempt ends with a response or an error,
    /// before its span ends. A panicking hook is reported once and skipped.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// use tracetape::client::TraceLayer;
    ///
    /// let layer = TraceLayer::new().with_on_response(|span, outcome| {
    ///     if let Ok(response) = outcome {
    ///         if let Some(id) = response.headers.get("x-request-id") {
    ///             let id = String::from_utf8_lossy(id.as_bytes()).into_owned();
    ///             span.set_attribute(KeyValue::new("app.upstream.request_id", id));
    ///         }
    ///     }
    /// });
    /// ```
    pub fn with_on_response(
        mut self,
        hook: impl Fn(&SpanRef<'_>, Outcome<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().on_response = Some(Arc::new(hook));
        self
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace {
            inner,
            config: self.config.clone(),
        }
    }
}
