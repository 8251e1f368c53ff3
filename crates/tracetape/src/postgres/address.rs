//! The server a `postgres://` URL names, and the same URL pointed at the
//! proxy instead.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// What a host of a URL may hold unencoded: letters, digits, `-._~`.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

use super::ProxyError;
use super::dial::Encryption;

/// PostgreSQL's port when the URL names none.
const DEFAULT_PORT: u16 = 5432;

/// Where the real server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// A host name or address, and a port.
    Tcp { host: String, port: u16 },
    /// A Unix socket: `{directory}/.s.PGSQL.{port}`.
    Unix { directory: String, port: u16 },
}

impl Upstream {
    /// `server.address` and `server.port` of the spans.
    pub(crate) fn address_and_port(&self) -> (String, u16) {
        match self {
            Self::Tcp { host, port } => (host.clone(), *port),
            Self::Unix { directory, port } => (directory.clone(), *port),
        }
    }

    /// Opens a connection to the server, at `address` instead of the
    /// host's name when given (a `hostaddr`).
    pub(crate) async fn connect(
        &self,
        address: Option<std::net::IpAddr>,
    ) -> std::io::Result<Box<dyn Stream>> {
        match self {
            Self::Tcp { host, port } => {
                let stream = match address {
                    Some(address) => tokio::net::TcpStream::connect((address, *port)).await?,
                    None => tokio::net::TcpStream::connect((host.as_str(), *port)).await?,
                };
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            #[cfg(unix)]
            Self::Unix { directory, port } => Ok(Box::new(
                tokio::net::UnixStream::connect(format!("{directory}/.s.PGSQL.{port}")).await?,
            )),
            #[cfg(not(unix))]
            Self::Unix { .. } => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }

    /// The servers a tokio-postgres configuration names, in the order it
    /// names them: each host with its port (one port for all, or 5432
    /// when none is given), and the `hostaddr` to connect to instead of
    /// looking the host's name up, when given (the name still names the
    /// server in spans and in its certificate).
    #[cfg(feature = "tokio-postgres")]
    pub(crate) fn all_in(config: &tokio_postgres::Config) -> Vec<(Self, Option<std::net::IpAddr>)> {
        use tokio_postgres::config::Host;

        let ports = config.get_ports();
        let addresses = config.get_hostaddrs();
        let port = |at: usize| match ports {
            [] => DEFAULT_PORT,
            [one] => *one,
            many => many.get(at).copied().unwrap_or(DEFAULT_PORT),
        };
        config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(at, host)| match host {
                Host::Tcp(name) => {
                    let server = Self::Tcp {
                        host: name.clone(),
                        port: port(at),
                    };
                    (server, addresses.get(at).copied())
                }
                #[cfg(unix)]
                Host::Unix(directory) => {
                    let server = Self::Unix {
                        directory: directory.to_string_lossy().into_owned(),
                        port: port(at),
                    };
                    (server, None)
                }
            })
            .collect()
    }
}

/// A connection to the real server, or a stream that stands for one.
pub(crate) trait Stream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// Where the proxy listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProxyAddress {
    /// A loopback TCP port.
    Tcp { port: u16 },
    /// A Unix socket, `{directory}/.s.PGSQL.{port}`.
    Unix {
        directory: std::path::PathBuf,
        port: u16,
    },
}

/// A database URL read: the server it names, and the URL to give the
/// driver instead, which names the proxy's socket or port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) server: Upstream,
    /// What the URL's `sslmode` asks of the connection to the server.
    pub(crate) encryption: Encryption,
    url: Url,
}

impl Target {
    /// Reads `database_url`: `postgres://` or `postgresql://`, host and
    /// port in the authority or in `host` / `port` query parameters (a
    /// `host` that starts with `/` is a Unix socket directory).
    pub(crate) fn parse(database_url: &str) -> Result<Self, ProxyError> {
        let url = match Url::parse(database_url) {
            // `postgres://user@/db?host=/run/postgresql`: libpq takes a
            // user with no host, the URL standard does not; the host is in
            // the query, so any stands in for it.
            Err(url::ParseError::EmptyHost) if database_url.contains("@/") => {
                Url::parse(&database_url.replacen("@/", "@localhost/", 1))
            }
            parsed => parsed,
        }
        .map_err(|error| ProxyError::Url {
            reason: format!("{error} (tracetape reads the URL form, postgres://user@host:port/db)"),
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(ProxyError::Url {
                reason: format!(
                    "the scheme is {:?}, not postgres or postgresql",
                    url.scheme()
                ),
            });
        }
        let query = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, value)| value.into_owned())
        };
        let encryption = match query("sslmode") {
            Some(mode) => Encryption::from_sslmode(&mode).ok_or_else(|| ProxyError::Url {
                reason: format!("sslmode={mode} is not one libpq knows"),
            })?,
            None => Encryption::default(),
        };
        let port = match query("port") {
            Some(port) => port.parse().map_err(|_| ProxyError::Url {
                reason: format!("the port {port:?} is not a number"),
            })?,
            None => url.port().unwrap_or(DEFAULT_PORT),
        };
        let host = query("host").or_else(|| url.host_str().map(str::to_owned));
        // Several hosts (`host=a,b`): the first, as drivers try it first.
        let host = host.and_then(|h| h.split(',').next().map(str::to_owned));
        let server = match host {
            Some(host) if host.starts_with('/') => Upstream::Unix {
                directory: host,
                port,
            },
            Some(host) if !host.is_empty() => Upstream::Tcp {
                host: host.trim_matches(['[', ']']).to_owned(),
                port,
            },
            _ => Upstream::Tcp {
                host: "localhost".to_owned(),
                port,
            },
        };
        Ok(Self {
            server,
            encryption,
            url,
        })
    }

    /// The URL's `sslmode`, as written.
    pub(crate) fn sslmode(&self) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(key, _)| key == "sslmode")
            .map(|(_, value)| value.into_owned())
    }

    /// The URL the driver connects to: the same user, password, database
    /// and options, with the proxy's address, and no TLS (to the proxy,
    /// on this machine). A Unix socket's directory is the host,
    /// percent-encoded, as drivers read it.
    pub(crate) fn proxied_url(&self, proxy: &ProxyAddress) -> String {
        let mut url = self.url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| !matches!(key.as_ref(), "host" | "hostaddr" | "port" | "sslmode"))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (key, value) in &kept {
                pairs.append_pair(key, value);
            }
            pairs.append_pair("sslmode", "disable");
        }
        let (host, port) = match proxy {
            ProxyAddress::Tcp { port } => ("127.0.0.1".to_owned(), *port),
            ProxyAddress::Unix { directory, port } => {
                let directory = directory.to_string_lossy();
                (
                    utf8_percent_encode(&directory, NOT_UNRESERVED).to_string(),
                    *port,
                )
            }
        };
        // Both succeed on a URL with an authority, which `parse` saw.
        let _ = url.set_host(Some(&host));
        let _ = url.set_port(Some(port));
        url.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_server_comes_from_the_authority_or_the_query() {
        let target = Target::parse("postgres://app:secret@db.internal:6432/shop").expect("url");
        assert_eq!(
            target.server,
            Upstream::Tcp {
                host: "db.internal".into(),
                port: 6432
            }
        );
        let target = Target::parse("postgresql://app@/shop?host=/run/postgresql").expect("url");
        assert_eq!(
            target.server,
            Upstream::Unix {
                directory: "/run/postgresql".into(),
                port: 5432
            }
        );
        let target = Target::parse("postgres://[::1]/shop?port=7000").expect("url");
        assert_eq!(
            target.server,
            Upstream::Tcp {
                host: "::1".into(),
                port: 7000
            }
        );
        let target = Target::parse("postgres:///shop").expect("url");
        assert_eq!(
            target.server,
            Upstream::Tcp {
                host: "localhost".into(),
                port: 5432
            }
        );
    }

    #[test]
    fn the_driver_gets_the_proxy_with_everything_else_kept() {
        let target = Target::parse(
            "postgres://app:s%40cret@db:6432/shop?application_name=api&sslmode=prefer",
        )
        .expect("url");
        assert_eq!(
            target.proxied_url(&ProxyAddress::Tcp { port: 40000 }),
            "postgres://app:s%40cret@127.0.0.1:40000/shop?application_name=api&sslmode=disable"
        );
        let socket = ProxyAddress::Unix {
            directory: "/tmp/tracetape-pg-1-0".into(),
            port: 5432,
        };
        assert_eq!(
            target.proxied_url(&socket),
            "postgres://app:s%40cret@%2Ftmp%2Ftracetape-pg-1-0:5432/shop?application_name=api&sslmode=disable"
        );
    }

    #[test]
    fn what_cannot_be_proxied_is_said() {
        for (url, says) in [
            ("host=db user=app", "URL form"),
            ("mysql://db/shop", "not postgres"),
            ("postgres://db:5432/shop?port=x", "not a number"),
        ] {
            let error = Target::parse(url).expect_err(url).to_string();
            assert!(error.contains(says), "{url}: {error}");
        }
        assert!(
            Target::parse("postgres://db/shop?sslmode=always")
                .expect_err("no such mode")
                .to_string()
                .contains("sslmode=always")
        );
        let encryption = |url: &str| Target::parse(url).expect(url).encryption;
        assert_eq!(encryption("postgres://db/shop"), Encryption::Prefer);
        assert_eq!(
            encryption("postgres://db/shop?sslmode=verify-full"),
            Encryption::Require
        );
        assert_eq!(
            encryption("postgres://db/shop?sslmode=disable"),
            Encryption::Disable
        );
    }
}
