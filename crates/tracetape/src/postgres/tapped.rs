//! tokio-postgres connections read in place
//! ([`Connector::connect`](super::Connector::connect)): the stream the
//! driver gets, how it is opened, and a [`Connector`](super::Connector)
//! as deadpool-postgres's way to connect.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_rustls::rustls::ClientConfig;

use super::address::{Stream, Upstream};
use super::connection;
use super::dial::{Dial, Encryption};
use super::span::Telemetry;
use super::tap::Tap;
use crate::layer_modes::LayerModes;
use crate::providers::Providers;

/// Bytes a local connection's in-memory stream holds each way.
const LOCAL_BUFFER: usize = 64 * 1024;

/// The stream a tokio-postgres connection to `config`'s server goes
/// over: the server's socket (in TLS when `config`'s `sslmode` asks and
/// `tls` is given) read in place; in replay mode, or when no server
/// answers, an in-memory stream to a task that answers as the proxy
/// would. The driver is to connect over it in clear.
pub(crate) async fn open(
    providers: &Providers,
    modes: &LayerModes,
    tls: Option<&Arc<ClientConfig>>,
    config: &tokio_postgres::Config,
) -> TapStream {
    let encryption = match config.get_ssl_mode() {
        SslMode::Disable => Encryption::Disable,
        SslMode::Require => Encryption::Require,
        _ => Encryption::Prefer,
    };
    let servers: Vec<Dial> = Upstream::all_in(config)
        .into_iter()
        .map(|(upstream, address)| Dial::new(upstream, encryption, tls.cloned()).at(address))
        .collect();
    // Spans and recordings name the first server, whichever answers: a
    // replay, which reaches none, must name the same one as the record
    // did.
    let Some(first) = servers.first() else {
        let message = "the tokio-postgres configuration names no host".to_owned();
        return local(|stream| connection::refuse(stream, message));
    };
    let (address, port) = first.upstream.address_and_port();
    let telemetry = Arc::new(Telemetry::new(providers.clone(), address, port));
    #[cfg(feature = "record-replay")]
    if super::replay::replaying(modes.replayer.as_ref()) {
        let server = Arc::new(Dial::new(first.upstream.clone(), Encryption::Disable, None));
        let modes = modes.clone();
        return local(|stream| connection::serve(stream, server, telemetry, modes));
    }
    if first.lacks_tls() {
        let message = "the configuration requires TLS (sslmode=require): give tracetape's \
                       Connector a rustls configuration (Connector::with_tls)"
            .to_owned();
        return local(|stream| connection::refuse(stream, message));
    }
    let mut failures = Vec::new();
    for server in &servers {
        let connected = match config.get_connect_timeout() {
            Some(timeout) => tokio::time::timeout(*timeout, server.open())
                .await
                .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
            None => server.open().await,
        };
        match connected {
            Ok(stream) => {
                let tap = Tap::new(stream, telemetry, modes.clone());
                return TapStream(Box::new(tap));
            }
            Err(error) => failures.push(format!("{:?}: {error}", server.upstream)),
        }
    }
    let message = format!("tracetape could not reach {}", failures.join("; "));
    local(|stream| connection::refuse(stream, message))
}

/// A stream whose other end `serve` answers, on a task of its own.
fn local<F, Fut>(serve: F) -> TapStream
where
    F: FnOnce(tokio::io::DuplexStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (driver, server) = tokio::io::duplex(LOCAL_BUFFER);
    tokio::spawn(serve(server));
    TapStream(Box::new(driver))
}

/// The connection half of what [`Connector::connect`](super::Connector::connect)
/// returns: spawn it, as tokio-postgres's own `connect` asks.
pub type TapConnection = tokio_postgres::Connection<TapStream, tokio_postgres::tls::NoTlsStream>;

/// The stream of a connection made by
/// [`Connector::connect`](super::Connector::connect): the server's socket
/// with tracetape reading the protocol in place, or, in replay mode, an
/// in-memory stream that tracetape answers.
pub struct TapStream(Box<dyn Stream>);

impl std::fmt::Debug for TapStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TapStream")
    }
}

impl AsyncRead for TapStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TapStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A deadpool-postgres pool whose connections are made by
/// [`Connector::connect`](super::Connector::connect): give it to
/// `Manager::from_connect` in place of the TLS connector, and its hooks
/// with [`deadpool_traced`](super::deadpool_traced).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use deadpool_postgres::{Manager, ManagerConfig, Pool};
/// use tracetape::postgres::Connector;
///
/// let config: tokio_postgres::Config = "postgres://app@127.0.0.1:5432/shop".parse()?;
/// let manager = Manager::from_connect(config, Connector::new(), ManagerConfig::default());
/// let pool = tracetape::postgres::deadpool_traced(Pool::builder(manager)).build()?;
/// # let _ = pool;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "deadpool-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool-postgres")))]
impl deadpool_postgres::Connect for super::Connector {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> Pin<
        Box<
            dyn Future<
                    Output = Result<
                        (tokio_postgres::Client, tokio::task::JoinHandle<()>),
                        tokio_postgres::Error,
                    >,
                > + Send
                + '_,
        >,
    > {
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let (client, connection) = super::Connector::connect(self, &pg_config).await?;
            // The connection's end is the client's error; nothing to add.
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok((client, task))
        })
    }
}
