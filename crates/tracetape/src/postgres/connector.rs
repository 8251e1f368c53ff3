//! [`Connector`]: where a service's PostgreSQL operations go and what
//! they are recorded into or replayed from, and the two ways in: a proxy
//! for any driver, or a tokio-postgres connection read in place.

use std::sync::Arc;

use tokio_rustls::rustls::ClientConfig;

use super::ProxyError;
use super::proxy;
#[cfg(feature = "tokio-postgres")]
use super::tapped::{self, TapConnection};
use crate::layer_modes::LayerModes;
use crate::providers::Providers;

/// What tracetape puts between a service and its PostgreSQL server: the
/// tracer and meter providers its spans and `db.client.operation.duration`
/// go to, and the recorder and replayer it uses (the global and
/// process-wide ones unless set here).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tracetape::postgres::Connector;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::default();
/// let url = Connector::new()
///     .with_tracer_provider(provider)
///     .proxy("postgres://app@db:5432/shop")
///     .await?;
/// # let _ = url;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Connector {
    providers: Providers,
    modes: LayerModes,
    tls: Option<Arc<ClientConfig>>,
}

impl Connector {
    /// The global providers, and the process-wide record or replay mode.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts spans with this provider instead of the global one.
    pub fn with_tracer_provider<P>(mut self, provider: P) -> Self
    where
        P: opentelemetry::trace::TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        self.providers.set_tracer_provider(provider);
        self
    }

    /// Records `db.client.operation.duration` with this provider instead
    /// of the global one.
    pub fn with_meter_provider(
        mut self,
        provider: &impl opentelemetry::metrics::MeterProvider,
    ) -> Self {
        self.providers.set_meter_provider(provider);
        self
    }

    /// Records operations outside any request (start-up, background
    /// jobs) with this recorder instead of the process-wide one, as the
    /// layers' `with_recorder` does; an operation of a recorded request
    /// joins that request's recording either way.
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    pub fn with_recorder(mut self, recorder: crate::record::Recorder) -> Self {
        self.modes.recorder = Some(recorder);
        self
    }

    /// Replay mode with these recordings instead of the process-wide ones,
    /// as the layers' `with_replayer` does: no database is reached, and
    /// every operation is answered from them.
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    pub fn with_replayer(mut self, replayer: crate::replay::Replayer) -> Self {
        self.modes.replayer = Some(replayer);
        self
    }

    /// Speaks TLS to the server with this rustls configuration when the
    /// database URL or configuration asks for it (`sslmode=prefer`, the
    /// default, when the server takes it; `require`, `verify-ca` and
    /// `verify-full` always, the certificate checked as `config` checks
    /// it, which rustls does fully, as `verify-full`). Without it, a
    /// connection that requires TLS is refused rather than made in
    /// clear, and `prefer` connects in clear.
    ///
    /// tracetape reads the protocol inside the TLS session: the driver
    /// speaks to tracetape in clear (the proxy's own socket, or the
    /// in-place stream in memory).
    ///
    /// ```no_run
    /// # async fn run(roots: tokio_rustls::rustls::RootCertStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use tokio_rustls::rustls::ClientConfig;
    /// use tracetape::postgres::Connector;
    ///
    /// let tls = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    /// let url = Connector::new()
    ///     .with_tls(Arc::new(tls))
    ///     .proxy("postgres://app@db.example:5432/shop?sslmode=verify-full")
    ///     .await?;
    /// # let _ = url;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_tls(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Starts a proxy in front of the server `database_url` names, on
    /// the current tokio runtime, and returns the URL that reaches the
    /// server through it: connect your pool or client to that URL
    /// instead.
    ///
    /// `database_url` is `postgres://` or `postgresql://`, host and port
    /// in the authority or in `host` and `port` parameters (a `host`
    /// starting with `/` being a Unix socket directory). The proxy
    /// listens on a Unix socket in a directory of its own under the
    /// temporary directory (mode 0700; a free loopback TCP port where
    /// there is no Unix socket) and lives as long as the runtime. Each
    /// connection to it opens one to the server; a server that cannot be
    /// reached is the driver's connection error (SQLSTATE `08001`, naming
    /// the server).
    pub async fn proxy(self, database_url: &str) -> Result<String, ProxyError> {
        proxy::start(database_url, self.providers, self.modes, self.tls).await
    }

    /// Connects tokio-postgres to the server `config` names, its
    /// operations read in place as the driver writes and reads them:
    /// the same spans, recordings and replay as through [`proxy`](Self::proxy)
    /// without the hop. Spawn the connection as tokio-postgres's own
    /// `connect` asks.
    ///
    /// The hosts are tried in turn (a `hostaddr` in place of its host's
    /// name, the `connect_timeout` for each); the first that answers is
    /// used. In replay mode none is: the connection is answered from the
    /// recordings. TLS is as [`with_tls`](Self::with_tls) says. Not
    /// covered: `target_session_attrs`, TCP keepalives, and cancelling a
    /// query through the client's cancel token.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use tracetape::postgres::Connector;
    ///
    /// let config: tokio_postgres::Config = "postgres://app@127.0.0.1:5432/shop".parse()?;
    /// let (client, connection) = Connector::new().connect(&config).await?;
    /// tokio::spawn(connection);
    /// // Its queries from now on are children of the span current here.
    /// tracetape::postgres::tokio_postgres_mark(&client).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tokio-postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio-postgres")))]
    pub async fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> Result<(tokio_postgres::Client, TapConnection), tokio_postgres::Error> {
        let stream = tapped::open(&self.providers, &self.modes, self.tls.as_ref(), config).await;
        // TLS, when there is any, is below the stream.
        let mut in_clear = config.clone();
        in_clear.ssl_mode(tokio_postgres::config::SslMode::Disable);
        in_clear.connect_raw(stream, tokio_postgres::NoTls).await
    }
}
