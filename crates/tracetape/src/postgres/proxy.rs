//! The proxy's listener: a loopback port whose connections are each
//! served by their own task on the runtime that started it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::ProxyError;
use super::address::Target;
use super::connection;
use super::span::Telemetry;
use crate::providers::Providers;

/// How long the listener waits after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Starts a proxy for `database_url` and returns the URL that reaches the
/// server through it.
pub(crate) async fn start(database_url: &str, providers: Providers) -> Result<String, ProxyError> {
    let target = Target::parse(database_url)?;
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .map_err(ProxyError::Listen)?;
    let port = listener.local_addr().map_err(ProxyError::Listen)?.port();
    let (address, server_port) = target.server.address_and_port();
    let telemetry = Arc::new(Telemetry::new(providers, address, server_port));
    let server = Arc::new(target.server.clone());
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((client, _)) => {
                    tokio::spawn(connection::serve(client, server.clone(), telemetry.clone()));
                }
                // Too many open files, say: connections already served go
                // on, and accepting is tried again a little later.
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            }
        }
    });
    Ok(target.proxied_url(port))
}
