//! [`TraceLayer`]: configuration of client tracing, and the tower `Layer`
//! that wraps an HTTP client service.

use std::sync::Arc;

use opentelemetry::trace::SpanRef;
use tower_layer::Layer;

use super::Trace;
use super::config::{Config, Origin};
use super::info::{Outcome, RequestInfo};

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

    /// Leaves requests for which `exclude` returns `true` alone: no span,
    /// no metric, no injected header.
    pub fn with_exclude(
        mut self,
        exclude: impl Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().exclude = Some(Arc::new(exclude));
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

    /// Where requests that name no server go: the layer gives such a
    /// request this scheme and authority before anything else, so its
    /// span (`server.address`, `server.port`) and its recording say
    /// where it went. A tonic channel's requests carry only their path
    /// (the channel adds its endpoint's origin below the layer), so give
    /// the layer the endpoint's URI; [`grpc`](Self::grpc) shows it.
    pub fn with_origin(mut self, origin: &http::Uri) -> Self {
        self.config_mut().origin = Origin::of(origin);
        self
    }

    /// The layer for a gRPC client service that takes tonic's request
    /// body, such as a tonic `Channel`, as it is (cargo feature `grpc`).
    /// Calls get the RPC conventions' spans (`{service}/{method}`,
    /// `rpc.grpc.status_code` from the trailers, the span ending with the
    /// response stream) and `rpc.client.call.duration`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use tonic::transport::Endpoint;
    /// use tracetape::client::TraceLayer;
    ///
    /// let endpoint = Endpoint::from_static("http://127.0.0.1:50051");
    /// let channel = endpoint.connect().await?;
    /// let channel = tower::ServiceBuilder::new()
    ///     .layer(TraceLayer::new().with_origin(endpoint.uri()).grpc())
    ///     .service(channel);
    /// // Any generated client takes it: `GreeterClient::new(channel)`.
    /// let _client = tonic::client::Grpc::new(channel);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "grpc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    pub fn grpc(self) -> super::GrpcTraceLayer {
        super::GrpcTraceLayer { layer: self }
    }

    crate::layer_options::shared_options! {
        layer: "tracetape::client::TraceLayer",
        without_spans: "metrics are still recorded and context still injected",
        propagator: "Injects the context",
        excluded_urls: "a request whose full URL matches any of them is left alone",
        excluded_urls_source: "client with_excluded_urls",
        query_attribute: "url.full",
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
        recorder;
        /// Answers calls made outside any replayed request from `replayer`'s
        /// background recordings, instead of those `TRACETAPE_MODE=replay`
        /// loads for the whole process. Calls made while serving a replayed
        /// request are always answered from that request's recording.
        replayer;
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
