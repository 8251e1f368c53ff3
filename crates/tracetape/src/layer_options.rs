//! [`Options`]: what the server and client layers are configured with alike
//! (providers, header capture, redacted query keys, URL exclusions, the
//! recorder and recordings set in code), and [`shared_options!`], which
//! writes the `with_*` methods that set them once for both builders.
//!
//! Each side's `Config` holds one `Options` next to what only that side
//! has (routes, the exclusion predicate, URL filter, hooks, instruments)
//! and reads its fields through `Deref` ([`deref_to_options!`]).

use crate::http_attrs::{HeaderCapture, QueryKeys, UrlExclusions};
use crate::layer_modes::LayerModes;
use crate::providers::Providers;

/// The environment variables one side reads its options from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvNames {
    /// Exclusion regexes, falling back to `TRACETAPE_EXCLUDED_URLS`.
    pub(crate) excluded_urls: &'static str,
    /// Request headers to capture.
    pub(crate) capture_request: &'static str,
    /// Response headers to capture.
    pub(crate) capture_response: &'static str,
}

/// The options both layers have.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Tracer, meter and propagator; the global ones unless set in code.
    pub(crate) providers: Providers,
    pub(crate) excluded_urls: UrlExclusions,
    pub(crate) capture_request: HeaderCapture,
    pub(crate) capture_response: HeaderCapture,
    /// Query keys whose values `url.query` (server) or `url.full`
    /// (client) hides, besides the defaults.
    pub(crate) query_keys: QueryKeys,
    /// The recorder and recordings set in code (record and replay mode).
    #[cfg_attr(
        not(feature = "record-replay"),
        expect(dead_code, reason = "empty without record and replay mode")
    )]
    pub(crate) modes: LayerModes,
}

impl Options {
    /// The options of a side named by `env`, read with `lookup`.
    pub(crate) fn from_lookup(env: EnvNames, lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            providers: Providers::default(),
            excluded_urls: UrlExclusions::from_lookup(env.excluded_urls, &lookup),
            capture_request: HeaderCapture::from_lookup(
                env.capture_request,
                "http.request.header",
                &lookup,
            ),
            capture_response: HeaderCapture::from_lookup(
                env.capture_response,
                "http.response.header",
                &lookup,
            ),
            query_keys: QueryKeys::default(),
            modes: LayerModes::default(),
        }
    }

    /// [`from_lookup`](Self::from_lookup) from the process environment.
    pub(crate) fn from_env(env: EnvNames) -> Self {
        Self::from_lookup(env, |name| std::env::var(name).ok())
    }

    pub(crate) fn set_excluded_urls<'a>(
        &mut self,
        patterns: impl IntoIterator<Item = &'a str>,
        source: &str,
    ) {
        self.excluded_urls = UrlExclusions::from_patterns(patterns, source);
    }

    pub(crate) fn add_redacted_query_keys<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        self.query_keys = self.query_keys.with(keys);
    }

    pub(crate) fn set_safe_headers<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let names: Vec<&str> = names.into_iter().collect();
        self.capture_request = self
            .capture_request
            .clone()
            .with_safe(names.iter().copied());
        self.capture_response = self.capture_response.clone().with_safe(names);
    }

    pub(crate) fn set_request_headers<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        sanitize: impl IntoIterator<Item = &'a str>,
    ) {
        self.capture_request = HeaderCapture::new(names, sanitize, "http.request.header")
            .with_safe_of(&self.capture_request);
    }

    pub(crate) fn set_response_headers<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        sanitize: impl IntoIterator<Item = &'a str>,
    ) {
        self.capture_response = HeaderCapture::new(names, sanitize, "http.response.header")
            .with_safe_of(&self.capture_response);
    }
}

/// The `with_*` methods of [`Options`], written into a layer's inherent
/// `impl` so that users call them without importing anything. The
/// builder must have `fn config_mut(&mut self) -> &mut Config`, where
/// `Config` derefs mutably to [`Options`] and has
/// `set_meter_provider(&mut self, &impl MeterProvider)` (which also drops
/// the instruments made with the previous meter).
///
/// The arguments fill in what differs between the sides' docs: the
/// layer's path for the examples, what goes on without spans, what the propagator does there, what
/// an exclusion regex is matched against, which attribute shows the
/// query, the name warnings give bad patterns, and the docs of the
/// recorder and replayer options, whose meaning differs by side.
macro_rules! shared_options {
    (
        layer: $layer:literal,
        without_spans: $without_spans:literal,
        propagator: $propagator:literal,
        excluded_urls: $excluded:literal,
        excluded_urls_source: $source:literal,
        query_attribute: $query:literal,
        $(#[$recorder_doc:meta])*
        recorder;
        $(#[$replayer_doc:meta])*
        replayer;
    ) => {
        /// Starts spans with this provider instead of the global one.
        pub fn with_tracer_provider<P>(mut self, provider: P) -> Self
        where
            P: opentelemetry::trace::TracerProvider,
            P::Tracer: Send + Sync + 'static,
            <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
        {
            self.config_mut().providers.set_tracer_provider(provider);
            self
        }

        #[doc = concat!("Disables spans (", $without_spans, ").")]
        pub fn without_spans(mut self) -> Self {
            self.config_mut().providers.disable_spans();
            self
        }

        /// Records metrics with this provider instead of the global one.
        pub fn with_meter_provider(
            mut self,
            provider: &impl opentelemetry::metrics::MeterProvider,
        ) -> Self {
            self.config_mut().set_meter_provider(provider);
            self
        }

        #[doc = concat!($propagator, " with this propagator instead of the global one.")]
        pub fn with_propagator(
            mut self,
            propagator: impl opentelemetry::propagation::TextMapPropagator + Send + Sync + 'static,
        ) -> Self {
            self.config_mut().providers.set_propagator(propagator);
            self
        }

        /// Replaces the exclusion regexes read from the environment;
        #[doc = concat!($excluded, ".")]
        pub fn with_excluded_urls<'a>(
            mut self,
            patterns: impl IntoIterator<Item = &'a str>,
        ) -> Self {
            self.config_mut().set_excluded_urls(patterns, $source);
            self
        }

        #[doc = concat!("Hides the values of these query keys in `", $query, "` too (compared")]
        /// in any case), besides the default list of credential keys
        /// (`api_key`, `token`, `password`, `signature`, … listed in
        /// `docs/security.md`), the keys of `TRACETAPE_REDACT_QUERY_KEYS`, and
        /// the keys of the query rules configured for recordings. Each value
        /// becomes `REDACTED`.
        ///
        /// ```
        #[doc = concat!("use ", $layer, ";")]
        ///
        /// let layer = TraceLayer::new().with_redacted_query_keys(["tenant_secret", "otp"]);
        /// ```
        pub fn with_redacted_query_keys<'a>(
            mut self,
            keys: impl IntoIterator<Item = &'a str>,
        ) -> Self {
            self.config_mut().add_redacted_query_keys(keys);
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
        #[doc = concat!("use ", $layer, ";")]
        ///
        /// // This service's x-api-key is a public client id, not a secret.
        /// let layer = TraceLayer::new()
        ///     .with_request_headers(["x-api-key", "x-tenant"], [])
        ///     .with_safe_headers(["x-api-key"]);
        /// ```
        pub fn with_safe_headers<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
            self.config_mut().set_safe_headers(names);
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
            self.config_mut().set_request_headers(names, sanitize);
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
            self.config_mut().set_response_headers(names, sanitize);
            self
        }

        $(#[$recorder_doc])*
        #[cfg(feature = "record-replay")]
        #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
        pub fn with_recorder(mut self, recorder: $crate::record::Recorder) -> Self {
            self.config_mut().modes.recorder = Some(recorder);
            self
        }

        $(#[$replayer_doc])*
        #[cfg(feature = "record-replay")]
        #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
        pub fn with_replayer(mut self, replayer: $crate::replay::Replayer) -> Self {
            self.config_mut().modes.replayer = Some(replayer);
            self
        }
    };
}

pub(crate) use shared_options;

/// `Deref` and `DerefMut` from a side's `Config` to its `options` field,
/// so that what both sides have reads as the config's own.
macro_rules! deref_to_options {
    ($config:ty) => {
        impl std::ops::Deref for $config {
            type Target = $crate::layer_options::Options;

            fn deref(&self) -> &Self::Target {
                &self.options
            }
        }

        impl std::ops::DerefMut for $config {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.options
            }
        }
    };
}

pub(crate) use deref_to_options;
