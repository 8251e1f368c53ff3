//! Test support: a span exporter that hands finished spans to the test as a
//! signal, and a real axum server on an ephemeral loopback port (one that
//! can be stopped, as a signal that every response it began has ended).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

/// Sends every exported span down a channel.
#[derive(Debug)]
pub(crate) struct ChannelExporter(pub(crate) mpsc::Sender<SpanData>);

impl SpanExporter for ChannelExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        for span in batch {
            let _ = self.0.send(span);
        }
        Ok(())
    }
}

/// A tracer provider whose spans arrive on the returned receiver as they end.
pub(crate) fn channel_provider() -> (SdkTracerProvider, SpanReceiver) {
    let (tx, rx) = mpsc::channel();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(ChannelExporter(tx))
        .build();
    (provider, SpanReceiver(rx))
}

pub(crate) struct SpanReceiver(mpsc::Receiver<SpanData>);

impl SpanReceiver {
    /// The next span to end, waiting at most ten seconds for it.
    pub(crate) fn next(&self) -> SpanData {
        self.0
            .recv_timeout(Duration::from_secs(10))
            .expect("a span should have ended")
    }
}

/// Serves `app` on 127.0.0.1 with an ephemeral port, with peer addresses.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A server from [`serve_stoppable`].
#[cfg(feature = "record-replay")]
pub(crate) struct Stoppable {
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

#[cfg(feature = "record-replay")]
impl Stoppable {
    /// Stops accepting, and returns once every connection has closed: each
    /// response the server began has ended and its body was dropped (so
    /// what the layers do at a response's end has been done).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap();
    }
}

/// As [`serve`], with a handle that stops the server gracefully (for the
/// tests that flush a recorder).
#[cfg(feature = "record-replay")]
pub(crate) async fn serve_stoppable(app: Router) -> (SocketAddr, Stoppable) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, Stoppable { stop, served })
}
