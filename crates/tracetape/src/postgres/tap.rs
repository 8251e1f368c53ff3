//! A driver's connection to the server read in place: the stream the
//! driver writes to and reads from is this one, which hands every byte
//! on to the real socket and reads operations out of them on the way,
//! as the proxy does, without a hop (no second socket, no task between).
//!
//! Writes are taken whole: the bytes of each whole message go on to the
//! server (a marker the tap answers itself does not), the rest of a
//! message waits for the rest of it. Reads give the driver whole
//! messages only, so an answer the tap makes (a marker's, `N` to a TLS
//! request) never lands inside one of the server's.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connection::{self, marker_answer};
use super::conversation::{Conversation, Route, Sent};
use super::frames::{Frame, Frames};
use super::span::Telemetry;
use super::wire::{self, Opening};
use crate::layer_modes::LayerModes;

/// Bytes accepted from the driver but not yet written to the server
/// past which a write waits for the server to take some.
const HIGH_WATER: usize = 64 * 1024;

/// The driver's stream over the real one, `inner`.
pub(crate) struct Tap<S> {
    inner: S,
    telemetry: Arc<Telemetry>,
    conversation: Conversation,
    /// The StartupMessage has gone by.
    started: bool,
    from_driver: Frames,
    from_server: Frames,
    /// Whole messages for the server, not yet written.
    to_server: BytesMut,
    /// Whole messages for the driver (the server's and the tap's own),
    /// not yet read.
    to_driver: VecDeque<Bytes>,
    /// The task waiting to read, woken when the tap answers something
    /// itself.
    reader: Option<Waker>,
}

impl<S> Tap<S> {
    pub(crate) fn new(inner: S, telemetry: Arc<Telemetry>, modes: LayerModes) -> Self {
        Self {
            inner,
            telemetry,
            conversation: Conversation::with_modes(modes),
            started: false,
            from_driver: Frames::client(),
            from_server: Frames::server(),
            to_server: BytesMut::new(),
            to_driver: VecDeque::new(),
            reader: None,
        }
    }

    /// Reads what the driver sent in `frame` and queues what goes on.
    fn driver_sent(&mut self, frame: Frame) -> io::Result<()> {
        if !self.started {
            return match wire::opening(&frame).map_err(io::Error::other)? {
                // No TLS or GSSAPI here: the driver goes on without.
                Opening::Encryption => {
                    self.answer(Bytes::from_static(b"N"));
                    Ok(())
                }
                Opening::Cancel => {
                    self.to_server.extend_from_slice(&frame.bytes);
                    Ok(())
                }
                Opening::Startup { database, user } => {
                    self.conversation.sent(Sent::Startup {
                        database: database.as_deref(),
                        user: user.as_deref(),
                    });
                    self.started = true;
                    self.from_driver.set_untyped(false);
                    self.to_server.extend_from_slice(&frame.bytes);
                    Ok(())
                }
            };
        }
        match wire::client_sent(&mut self.conversation, &frame).unwrap_or(Route::Forward) {
            Route::Forward => self.to_server.extend_from_slice(&frame.bytes),
            Route::AnswerMarker(status) => self.answer(marker_answer(status)),
        }
        Ok(())
    }

    /// Queues an answer of the tap's own for the driver.
    fn answer(&mut self, bytes: Bytes) {
        self.to_driver.push_back(bytes);
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    /// Reads what the server answered in `frame`: an operation it ended
    /// gets its span (and its recording).
    fn server_answered(&mut self, frame: Frame) {
        let ended = wire::server_answered(&mut self.conversation, &frame);
        if let Ok(Some(operation)) = ended {
            let database = self.conversation.database.clone();
            connection::end(&self.telemetry, operation, database.as_ref());
        }
        self.to_driver.push_back(frame.bytes);
    }
}

impl<S: AsyncWrite + Unpin> Tap<S> {
    /// Writes queued messages to the server until all are written
    /// (`Ready`) or it takes no more for now.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.to_server.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.to_server))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.to_server.advance(written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.to_driver.is_empty() {
                // As many messages as fit: the driver decodes them all
                // before it reads again.
                while buf.remaining() > 0
                    && let Some(front) = this.to_driver.front_mut()
                {
                    let n = front.len().min(buf.remaining());
                    buf.put_slice(&front[..n]);
                    front.advance(n);
                    if front.is_empty() {
                        this.to_driver.pop_front();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            let read = tokio_util::io::poll_read_buf(
                Pin::new(&mut this.inner),
                cx,
                this.from_server.buffer(),
            );
            match read {
                Poll::Pending => {
                    this.reader = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // The end of the stream (a message cut short is dropped
                // with it).
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(_)) => {}
            }
            while let Some(frame) = this.from_server.next_frame().map_err(io::Error::other)? {
                this.server_answered(frame);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(error)) = this.poll_drain(cx) {
            return Poll::Ready(Err(error));
        }
        if this.to_server.len() >= HIGH_WATER {
            return Poll::Pending;
        }
        this.from_driver.buffer().extend_from_slice(buf);
        while let Some(frame) = this.from_driver.next_frame().map_err(io::Error::other)? {
            this.driver_sent(frame)?;
        }
        // Written now if the socket takes it, else at the flush that
        // follows every write of a driver.
        if let Poll::Ready(Err(error)) = this.poll_drain(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
