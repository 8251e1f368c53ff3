//! [`TraceLayer`]: configuration, and the tower `Layer` that wraps a service.

use std::sync::Arc;

use http::request::Parts;
use tower_layer::Layer;

use super::Trace;
use super::config::Config;

/// Traces every request of the service it wraps with one SERVER span and
/// records the HTTP server metrics.
///
/// Built from the environment (`TRACETAPE_SERVER_EXCLUDED_URLS`,
/// `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_*`); the `with_*`
/// methods override it. By default spans go to the global tracer provider,
/// looked up for each request, so [`crate::init`] may run before or after
/// the layer is built.
///
/// ```
/// use axum::{Router, routing::get};
/// use tracetape::server::TraceLayer;
///
/// let app: Router = Router::new()
///     .route("/orders/{id}", get(|| async { "order" }))
///     .route("/health", get(|| async { "ok" }))
///     .layer(TraceLayer::new().with_excluded_urls(["^/health$"]));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TraceLayer<OnReq = (), OnResp = ()> {
    pub(crate) config: Arc<Config>,
    pub(crate) on_request: OnReq,
    pub(crate) on_response: OnResp,
}

impl TraceLayer {
    /// A layer configured from the environment.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config::from_env()),
            on_request: (),
            on_response: (),
        }
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<OnReq, OnResp> TraceLayer<OnReq, OnResp> {
    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Names the route template of a request (`/users/{id}`), for servers
    /// without axum's `MatchedPath`. Return `None` when no route matched.
    pub fn with_route(
        mut self,
        route: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().route = Some(Arc::new(route));
        self
    }

    /// Leaves requests for which `exclude` returns `true` untraced: no
    /// span, no metric.
    pub fn with_exclude(
        mut self,
        exclude: impl Fn(&Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().exclude = Some(Arc::new(exclude));
        self
    }

    crate::layer_options::shared_options! {
        layer: "tracetape::server::TraceLayer",
        without_spans: "metrics are still recorded",
        propagator: "Extracts the incoming context",
        excluded_urls: "a request whose path matches any of them is not traced",
        excluded_urls_source: "with_excluded_urls",
        query_attribute: "url.query",
        /// Records the traced requests that `recorder` samples: for each, the
        /// request (method, path and query, headers, body) and the response
        /// (status, headers, body) become the SERVER exchange of the trace's
        /// recording, tied to the SERVER span. Bodies are copied as they
        /// stream past, up to [`Recorder::max_body_bytes`](crate::record::Recorder::max_body_bytes), and the handler
        /// and the client see them exactly as without recording.
        ///
        /// Requests that are excluded, or arrive with telemetry suppressed
        /// (tracetape's own traffic), are never recorded. The exchange is
        /// finished once both the request body (read to its end by the
        /// handler, failed or dropped) and the response body (sent, failed or
        /// dropped) are done. A handler that panics is recorded with its 500
        /// and the error `panic: {message}`; a response body cut short with
        /// the error `client went away`; a request whose response never came
        /// (the client went away before it) with no response and the error
        /// `abandoned`. A request body the handler did not read is recorded
        /// as far as it was read.
        ///
        /// While a recorded request is handled, the trace's recording is in
        /// the current OpenTelemetry context, for the client layers.
        ///
        /// ```
        /// use axum::{Router, routing::post};
        /// use tracetape::record::{RecordSettings, Recorder};
        /// use tracetape::server::TraceLayer;
        ///
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        /// let settings = RecordSettings::from_env();
        /// # let tmp = tempfile::tempdir()?;
        /// # let mut settings = settings;
        /// # settings.dir = tmp.path().join("recordings");
        /// let recorder = Recorder::start(&settings, "checkout")?;
        /// let app: Router = Router::new()
        ///     .route("/orders", post(|body: String| async move { body }))
        ///     .layer(TraceLayer::new().with_recorder(recorder));
        /// # Ok(())
        /// # }
        /// ```
        recorder;
        /// Replays requests from `replayer` instead of the recordings
        /// `TRACETAPE_MODE=replay` loads for the whole process: a request
        /// carrying [`REPLAY_HEADER`](crate::replay::REPLAY_HEADER) has the
        /// header removed, and every outbound call made while serving it is
        /// answered from its recording by the client layers.
        ///
        /// ```
        /// use tracetape::record::RecordSettings;
        /// use tracetape::replay::Replayer;
        /// use tracetape::server::TraceLayer;
        ///
        /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
        /// # let dir = tempfile::tempdir()?;
        /// let mut settings = RecordSettings::default();
        /// settings.dir = dir.path().join("recordings");
        /// let replayer = Replayer::load(&settings, "checkout")?;
        /// let app: axum::Router = axum::Router::new()
        ///     .layer(TraceLayer::new().with_replayer(replayer));
        /// # Ok(())
        /// # }
        /// ```
        replayer;
    }

    /// Calls `hook` for each traced request; see [`OnRequest`](super::OnRequest).
    pub fn with_on_request<H>(self, hook: H) -> TraceLayer<H, OnResp> {
        TraceLayer {
            config: self.config,
            on_request: hook,
            on_response: self.on_response,
        }
    }

    /// Calls `hook` for each response; see [`OnResponse`](super::OnResponse).
    pub fn with_on_response<H>(self, hook: H) -> TraceLayer<OnReq, H> {
        TraceLayer {
            config: self.config,
            on_request: self.on_request,
            on_response: hook,
        }
    }
}

impl<S, OnReq: Clone, OnResp: Clone> Layer<S> for TraceLayer<OnReq, OnResp> {
    type Service = Trace<S, OnReq, OnResp>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace {
            inner,
            config: self.config.clone(),
            on_request: self.on_request.clone(),
            on_response: self.on_response.clone(),
        }
    }
}
