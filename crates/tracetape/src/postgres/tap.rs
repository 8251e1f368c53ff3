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
use super::frames::{FrameRef, Frames};
use super::span::Telemetry;
use super::wire::{self, Opening};
use crate::layer_modes::LayerModes;

/// Bytes accepted from the driver but not yet written to the server
/// past which a write waits for the server to take some.
const HIGH_WATER: usize = 64 * 1024;

/// The driver's stream over the real one, `inner`.
pub(crate) struct Tap<S> {
    inner: S,
    from_driver: Frames,
    from_server: Frames,
    talk: Talk,
}

/// What the tap knows of the connection, and what it holds for each side.
struct Talk {
    telemetry: Arc<Telemetry>,
    conversation: Conversation,
    /// The StartupMessage has gone by.
    started: bool,
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
            from_driver: Frames::client(),
            from_server: Frames::server(),
            talk: Talk {
                telemetry,
                conversation: Conversation::with_modes(modes),
                started: false,
                to_server: BytesMut::new(),
                to_driver: VecDeque::new(),
                reader: None,
            },
        }
    }

    /// Reads the whole messages the driver has written, queuing what goes
    /// on to the server.
    fn driver_wrote(&mut self) -> io::Result<()> {
        let mut read = 0;
        while let Some(frame) = self.from_driver.peek_at(read).map_err(io::Error::other)? {
            read += frame.bytes.len();
            if self.talk.driver_sent(frame)? {
                // The start-up went by: typed messages from now on.
                self.from_driver.set_untyped(false);
            }
        }
        self.from_driver.consume(read);
        Ok(())
    }

    /// Reads the whole messages the server has sent, then hands them to
    /// the driver: copied into `buf` as far as they fit, the rest queued
    /// whole, in one piece.
    fn server_wrote(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        let mut read = 0;
        while let Some(frame) = self.from_server.peek_at(read).map_err(io::Error::other)? {
            read += frame.bytes.len();
            self.talk.server_answered(frame);
        }
        if self.talk.to_driver.is_empty() {
            let n = read.min(buf.remaining());
            buf.put_slice(&self.from_server.held()[..n]);
            self.from_server.consume(n);
            read -= n;
        }
        if read > 0 {
            let rest = self.from_server.take(read).freeze();
            self.talk.to_driver.push_back(rest);
        }
        Ok(())
    }
}

impl Talk {
    /// Reads what the driver sent in `frame` and queues what goes on;
    /// `true` when it was the start-up message.
    fn driver_sent(&mut self, frame: FrameRef<'_>) -> io::Result<bool> {
        if !self.started {
            return match wire::opening(frame).map_err(io::Error::other)? {
                // No TLS or GSSAPI here: the driver goes on without.
                Opening::Encryption => {
                    self.answer(Bytes::from_static(b"N"));
                    Ok(false)
                }
                Opening::Cancel => {
                    self.to_server.extend_from_slice(frame.bytes);
                    Ok(false)
                }
                Opening::Startup { database, user } => {
                    self.conversation.sent(Sent::Startup {
                        database: database.as_deref(),
                        user: user.as_deref(),
                    });
                    self.started = true;
                    self.to_server.extend_from_slice(frame.bytes);
                    Ok(true)
                }
            };
        }
        match wire::client_sent(&mut self.conversation, frame).unwrap_or(Route::Forward) {
            Route::Forward => self.to_server.extend_from_slice(frame.bytes),
            Route::AnswerMarker(status) => self.answer(marker_answer(status)),
        }
        Ok(false)
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
    fn server_answered(&mut self, frame: FrameRef<'_>) {
        let ended = wire::server_answered(&mut self.conversation, frame);
        if let Ok(Some(operation)) = ended {
            let database = self.conversation.database.clone();
            connection::end(&self.telemetry, operation, database.as_ref());
        }
    }
}

impl<S: AsyncWrite + Unpin> Tap<S> {
    /// Writes queued messages to the server until all are written
    /// (`Ready`) or it takes no more for now.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let to_server = &mut self.talk.to_server;
        while !to_server.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, to_server))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            to_server.advance(written);
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
            if !this.talk.to_driver.is_empty() {
                // As many messages as fit: the driver decodes them all
                // before it reads again.
                let to_driver = &mut this.talk.to_driver;
                while buf.remaining() > 0
                    && let Some(front) = to_driver.front_mut()
                {
                    let n = front.len().min(buf.remaining());
                    buf.put_slice(&front[..n]);
                    front.advance(n);
                    if front.is_empty() {
                        to_driver.pop_front();
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
                    this.talk.reader = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // The end of the stream (a message cut short is dropped
                // with it).
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(_)) => {}
            }
            let before = buf.filled().len();
            this.server_wrote(buf)?;
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
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
        if this.talk.to_server.len() >= HIGH_WATER {
            return Poll::Pending;
        }
        this.from_driver.buffer().extend_from_slice(buf);
        this.driver_wrote()?;
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
