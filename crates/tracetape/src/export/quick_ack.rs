//! The gRPC exporter's connections, acknowledging what the collector sends
//! at once.
//!
//! A collector whose server sockets use Nagle's algorithm (tonic's server
//! does unless told otherwise; rotel is one) answers an export with two
//! small writes: a flow-control window update, then the answer. The
//! second leaves only once the first is acknowledged, and Linux delays
//! that acknowledgement by up to 40 ms when the receiver has nothing to
//! send, which an exporter waiting for its answer never has. With one
//! export at a time, the batch processor then mostly waits: at the
//! hello-world benchmark's load, half of the spans were dropped by the full
//! queue, while the exporter and the collector each used a few percent of
//! a core. The socket is put in quick-acknowledgement mode after each read
//! and write (Linux leaves that mode by itself), which takes the wait away;
//! on other systems the connection is tonic's as it is.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Connects as tonic's own connector does (TCP, no Nagle on this side),
/// and hands the connection over as a [`QuickAck`] stream. tonic adds TLS
/// and the connect timeout around it.
#[derive(Debug, Clone)]
pub(super) struct Connector(HttpConnector);

impl Connector {
    pub(super) fn new() -> Self {
        let mut http = HttpConnector::new();
        // The scheme is tonic's business: https is TLS it layers on top.
        http.enforce_http(false);
        http.set_nodelay(true);
        Self(http)
    }
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<TokioIo<QuickAck>, ConnectError>> + Send + 'static>>;
type ConnectError = <HttpConnector as tower_service::Service<Uri>>::Error;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<QuickAck>;
    type Error = ConnectError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let stream = connecting.await?.into_inner();
            Ok(TokioIo::new(QuickAck(stream)))
        })
    }
}

/// A TCP stream that acknowledges what it receives at once.
#[derive(Debug)]
pub(super) struct QuickAck(TcpStream);

impl QuickAck {
    /// Back to quick acknowledgements; a failure only costs the delay.
    fn quick(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = rustix::net::sockopt::set_tcp_quickack(&self.0, true);
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = Pin::new(&mut self.0).poll_read(cx, buf);
        self.quick();
        read
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.0).poll_write(cx, buf);
        self.quick();
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.0).poll_write_vectored(cx, bufs);
        self.quick();
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tower_service::Service as _;

    use super::*;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn the_connection_is_back_in_quick_ack_mode_after_each_read_and_write() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut ask = [0; 4];
            stream.read_exact(&mut ask).await.unwrap();
            stream.write_all(b"pong").await.unwrap();
        });
        let uri: Uri = format!("http://{addr}").parse().unwrap();
        let mut io = Connector::new().call(uri).await.unwrap().into_inner();
        let quick = |io: &QuickAck| rustix::net::sockopt::tcp_quickack(&io.0).unwrap();
        assert!(io.0.nodelay().unwrap());
        io.write_all(b"ping").await.unwrap();
        assert!(quick(&io));
        // Leave quick-ack mode as Linux would after an exchange; a read
        // puts the connection back in it.
        rustix::net::sockopt::set_tcp_quickack(&io.0, false).unwrap();
        assert!(!quick(&io));
        let mut answer = [0; 4];
        io.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"pong");
        assert!(quick(&io));
        peer.await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let uri: Uri = format!("http://{addr}").parse().unwrap();
        assert!(Connector::new().call(uri).await.is_err());
    }
}
