//! The address of the connection's other end, for `network.peer.*` and as
//! the last resort for `client.address`.

use std::net::SocketAddr;

use http::Extensions;

/// The remote address of the connection a request came in on. Insert it
/// into the request extensions when serving with plain hyper; with axum,
/// `into_make_service_with_connect_info::<SocketAddr>()` is read directly.
///
/// ```
/// use std::net::SocketAddr;
/// use tracetape::server::PeerAddr;
///
/// let mut request = http::Request::new(());
/// let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
/// request.extensions_mut().insert(PeerAddr(peer));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

pub(crate) fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(*addr);
    }
    axum_connect_info(extensions)
}

#[cfg(feature = "axum")]
fn axum_connect_info(extensions: &Extensions) -> Option<SocketAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

#[cfg(not(feature = "axum"))]
fn axum_connect_info(_: &Extensions) -> Option<SocketAddr> {
    None
}
