//! How a connection to the real server is made: its address, then TLS
//! when the database URL or configuration asks for it (`sslmode`) and the
//! [`Connector`](super::Connector) was given a rustls configuration.
//!
//! The TLS request is the protocol's own: an SSLRequest, one byte back
//! (`S` to go on in TLS, `N` to go on in clear), then the handshake, and
//! the driver's start-up inside it. tracetape reads the protocol inside
//! the TLS session, so the driver itself speaks in clear to tracetape:
//! the proxy's socket is this user's, the in-place stream is in memory.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use super::address::{Stream, Upstream};
use super::wire::SSL_REQUEST;

/// What the database URL's `sslmode` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Encryption {
    /// No TLS (`disable`, and `allow`, whose second try in TLS is not
    /// made).
    Disable,
    /// TLS when the server takes it and tracetape has a configuration,
    /// else in clear (`prefer`, libpq's default).
    #[default]
    Prefer,
    /// TLS or no connection (`require`, `verify-ca`, `verify-full`; the
    /// certificate checked as the rustls configuration checks it).
    Require,
}

impl Encryption {
    /// The encryption a libpq `sslmode` value asks; `None` for a value
    /// libpq does not know.
    pub(crate) fn from_sslmode(mode: &str) -> Option<Self> {
        match mode {
            "disable" | "allow" => Some(Self::Disable),
            "prefer" => Some(Self::Prefer),
            "require" | "verify-ca" | "verify-full" => Some(Self::Require),
            _ => None,
        }
    }
}

/// The server, and how the connection to it is secured.
#[derive(Debug)]
pub(crate) struct Dial {
    pub(crate) upstream: Upstream,
    /// Where to connect instead of looking the host's name up.
    address: Option<IpAddr>,
    encryption: Encryption,
    tls: Option<Arc<ClientConfig>>,
}

impl Dial {
    pub(crate) fn new(
        upstream: Upstream,
        encryption: Encryption,
        tls: Option<Arc<ClientConfig>>,
    ) -> Self {
        Self {
            upstream,
            address: None,
            encryption,
            tls,
        }
    }

    /// Connects to `address` instead of looking the host's name up (a
    /// `hostaddr`); the name is still the one the certificate must hold.
    #[cfg(feature = "tokio-postgres")]
    pub(crate) fn at(mut self, address: Option<IpAddr>) -> Self {
        self.address = address;
        self
    }

    /// Whether the connection must be in TLS and tracetape has no
    /// configuration to speak it with.
    pub(crate) fn lacks_tls(&self) -> bool {
        self.encryption == Encryption::Require && self.tls.is_none()
    }

    /// Connects, and secures the connection as asked.
    pub(crate) async fn open(&self) -> io::Result<Box<dyn Stream>> {
        let stream = self.upstream.connect(self.address).await?;
        match (&self.tls, self.encryption) {
            (_, Encryption::Disable) | (None, Encryption::Prefer) => Ok(stream),
            (None, Encryption::Require) => Err(io::Error::other(
                "the database URL requires TLS and tracetape was given no TLS configuration",
            )),
            (Some(config), _) => self.negotiate(stream, config.clone()).await,
        }
    }

    /// Asks the server for TLS and makes the handshake when it agrees.
    async fn negotiate(
        &self,
        mut stream: Box<dyn Stream>,
        config: Arc<ClientConfig>,
    ) -> io::Result<Box<dyn Stream>> {
        let mut request = [0; 8];
        request[..4].copy_from_slice(&8i32.to_be_bytes());
        request[4..].copy_from_slice(&SSL_REQUEST.to_be_bytes());
        stream.write_all(&request).await?;
        let mut answer = [0; 1];
        stream.read_exact(&mut answer).await?;
        match (answer[0], self.encryption) {
            (b'S', _) => {
                let name = self.server_name()?;
                let secured = TlsConnector::from(config).connect(name, stream).await?;
                Ok(Box::new(secured))
            }
            (b'N', Encryption::Require) => Err(io::Error::other(
                "the server does not take TLS, which the database URL requires",
            )),
            (b'N', _) => Ok(stream),
            (other, _) => Err(io::Error::other(format!(
                "the server answered the TLS request with {other:#04x}, neither S nor N"
            ))),
        }
    }

    /// The name the server's certificate must hold: its host (a Unix
    /// socket's server takes no TLS, and answers `N` before this).
    fn server_name(&self) -> io::Result<ServerName<'static>> {
        let host = match &self.upstream {
            Upstream::Tcp { host, .. } => host.clone(),
            Upstream::Unix { .. } => "localhost".to_owned(),
        };
        ServerName::try_from(host)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))
    }
}
