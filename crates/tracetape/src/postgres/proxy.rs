//! The proxy's listener, a task per connection on the runtime that started
//! it.
//!
//! On Unix the proxy listens on a Unix socket in a directory of its own
//! (mode 0700, removed when the runtime ends): a hop through it costs less
//! than one through loopback TCP, and only this user can connect. Where
//! that cannot be had (another platform, a temporary directory whose path
//! is too long for a socket), it listens on a free loopback TCP port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::rustls::ClientConfig;

use super::ProxyError;
use super::address::{ProxyAddress, Target};
use super::connection;
use super::dial::Dial;
use super::span::Telemetry;
use crate::layer_modes::LayerModes;
use crate::providers::Providers;

/// How long the listener waits after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The port in the socket's name (`.s.PGSQL.{port}`), which drivers
/// build from the URL's port.
const SOCKET_PORT: u16 = 5432;

/// Starts a proxy for `database_url` and returns the URL that reaches the
/// server through it.
pub(crate) async fn start(
    database_url: &str,
    providers: Providers,
    modes: LayerModes,
    tls: Option<Arc<ClientConfig>>,
) -> Result<String, ProxyError> {
    let target = Target::parse(database_url)?;
    let server = Dial::new(target.server.clone(), target.encryption, tls);
    if server.lacks_tls() {
        let sslmode = target.sslmode().unwrap_or_default();
        return Err(ProxyError::TlsRequired { sslmode });
    }
    let (address, server_port) = target.server.address_and_port();
    let telemetry = Arc::new(Telemetry::new(providers, address, server_port));
    let server = Arc::new(server);
    #[cfg(unix)]
    if let Some((listener, directory)) = unix_listener() {
        let url = target.proxied_url(&ProxyAddress::Unix {
            directory: directory.path.clone(),
            port: SOCKET_PORT,
        });
        tokio::spawn(async move {
            // Removed when the task ends with the runtime.
            let _directory = directory;
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        let connection = connection::serve(
                            client,
                            server.clone(),
                            telemetry.clone(),
                            modes.clone(),
                        );
                        tokio::spawn(connection);
                    }
                    Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
                }
            }
        });
        return Ok(url);
    }
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .map_err(ProxyError::Listen)?;
    let port = listener.local_addr().map_err(ProxyError::Listen)?.port();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((client, _)) => {
                    let _ = client.set_nodelay(true);
                    let connection =
                        connection::serve(client, server.clone(), telemetry.clone(), modes.clone());
                    tokio::spawn(connection);
                }
                // Too many open files, say: connections already served go
                // on, and accepting is tried again a little later.
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            }
        }
    });
    Ok(target.proxied_url(&ProxyAddress::Tcp { port }))
}

/// A directory of the proxy's own, removed when dropped.
#[cfg(unix)]
struct OwnDirectory {
    path: PathBuf,
}

#[cfg(unix)]
impl Drop for OwnDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A Unix socket in a new directory under the temporary directory, or
/// `None` when one cannot be made.
#[cfg(unix)]
fn unix_listener() -> Option<(tokio::net::UnixListener, OwnDirectory)> {
    use std::os::unix::fs::DirBuilderExt;

    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "tracetape-pg-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = std::env::temp_dir().join(name);
    std::fs::DirBuilder::new().mode(0o700).create(&path).ok()?;
    let directory = OwnDirectory { path };
    let socket = directory.path.join(format!(".s.PGSQL.{SOCKET_PORT}"));
    let listener = tokio::net::UnixListener::bind(socket).ok()?;
    Some((listener, directory))
}
