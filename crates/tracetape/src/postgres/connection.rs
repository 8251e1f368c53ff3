//! One driver connection through the proxy: its start-up answered or
//! passed on, then every message forwarded as it came, both ways, while
//! the [`Conversation`] reads operations out of them.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use pgwire::messages::PgWireBackendMessage;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conversation::{Conversation, Operation, Route, Sent};
use super::dial::Dial;
use super::frames::{Frame, Frames};
use super::record;
use super::span::Telemetry;
use super::wire::{self, Opening};
use crate::layer_modes::LayerModes;

/// Serves one accepted connection until either side closes it.
pub(crate) async fn serve<S>(
    client: S,
    server: Arc<Dial>,
    telemetry: Arc<Telemetry>,
    modes: LayerModes,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let mut from_client = Frames::client();
    let mut conversation = Conversation::with_modes(modes.clone());
    let Some((first, cancel)) = startup(
        &mut client_read,
        &mut client_write,
        &mut from_client,
        &mut conversation,
    )
    .await
    else {
        return;
    };
    // Replay mode: no database is reached; the proxy answers.
    #[cfg(feature = "record-replay")]
    if super::replay::replaying(modes.replayer.as_ref()) {
        if cancel {
            // Nothing runs that could be cancelled.
            return;
        }
        let database = conversation.database.clone();
        let server = super::replay::Server::new(telemetry, modes.replayer, database);
        server.serve(client_read, client_write, from_client).await;
        return;
    }
    // A cancel request goes on to the server as it came, as a start-up
    // does.
    #[cfg(not(feature = "record-replay"))]
    let _ = cancel;
    let upstream = match server.open().await {
        Ok(upstream) => upstream,
        Err(error) => {
            let message = format!(
                "tracetape's proxy could not reach {:?}: {error}",
                server.upstream
            );
            let _ = client_write.write_all(&unreachable(&message)).await;
            return;
        }
    };
    let (mut server_read, mut server_write) = tokio::io::split(upstream);
    if server_write.write_all(&first.bytes).await.is_err() {
        return;
    }
    let conversation = Mutex::new(conversation);
    let client_write = tokio::sync::Mutex::new(client_write);
    let from_client = async {
        let mut out = BytesMut::new();
        loop {
            match client_read.read_buf(from_client.buffer()).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            loop {
                let frame = match from_client.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(_) => return,
                };
                let route = {
                    let mut conversation =
                        conversation.lock().unwrap_or_else(PoisonError::into_inner);
                    wire::client_sent(&mut conversation, frame.view()).unwrap_or(Route::Forward)
                };
                match route {
                    Route::Forward => out.extend_from_slice(&frame.bytes),
                    Route::AnswerMarker(status) => {
                        let answer = marker_answer(status);
                        if client_write.lock().await.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                }
            }
            if !out.is_empty() {
                if server_write.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
        }
        let _ = server_write.shutdown().await;
    };
    let from_server = async {
        let mut frames = Frames::server();
        let mut out = BytesMut::new();
        loop {
            match server_read.read_buf(frames.buffer()).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            loop {
                let frame = match frames.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(_) => return,
                };
                let ended = {
                    let mut conversation =
                        conversation.lock().unwrap_or_else(PoisonError::into_inner);
                    let ended = wire::server_answered(&mut conversation, frame.view());
                    ended
                        .ok()
                        .flatten()
                        .map(|operation| (operation, conversation.database.clone()))
                };
                out.extend_from_slice(&frame.bytes);
                if let Some((operation, database)) = ended {
                    end(&telemetry, operation, database.as_ref());
                }
            }
            if client_write.lock().await.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        let _ = client_write.lock().await.shutdown().await;
    };
    tokio::join!(from_client, from_server);
}

/// The span of an operation that ended, and its exchange when it is
/// recorded.
pub(crate) fn end(telemetry: &Telemetry, mut operation: Operation, database: Option<&Arc<str>>) {
    let (trace_id, span_id, name) = telemetry.finished(&operation, database);
    if let Some(pending) = operation.recording.take() {
        let url = telemetry.url(database);
        let server = record::Server {
            url: &url,
            trace_id,
            span_id,
            name: &name,
        };
        record::finish(pending, &operation, &server);
    }
}

/// Reads until `frames` holds a whole message; `None` at the end of the
/// stream.
async fn read_frame(
    read: &mut (impl AsyncRead + Unpin),
    frames: &mut Frames,
) -> io::Result<Option<Frame>> {
    loop {
        if let Some(frame) = frames.next_frame().map_err(io::Error::other)? {
            return Ok(Some(frame));
        }
        if read.read_buf(frames.buffer()).await? == 0 {
            return Ok(None);
        }
    }
}

/// The start-up: encryption refused (the proxy is on this machine), then
/// the StartupMessage or a CancelRequest (`true`), to be passed on as it
/// came; `None` when the client went away or sent something else.
async fn startup<R, W>(
    read: &mut R,
    write: &mut W,
    frames: &mut Frames,
    conversation: &mut Conversation,
) -> Option<(Frame, bool)>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let frame = read_frame(read, frames).await.ok()??;
        match wire::opening(frame.view()).ok()? {
            Opening::Encryption => write.write_all(b"N").await.ok()?,
            Opening::Cancel => return Some((frame, true)),
            Opening::Startup { database, user } => {
                conversation.sent(Sent::Startup {
                    database: database.as_deref(),
                    user: user.as_deref(),
                });
                frames.set_untyped(false);
                return Some((frame, false));
            }
        }
    }
}

/// Answers a client's start-up with `message` as a FATAL error, SQLSTATE
/// `08001` (the server could not be reached), and ends.
#[cfg(feature = "tokio-postgres")]
pub(crate) async fn refuse<S>(client: S, message: String)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (mut read, mut write) = tokio::io::split(client);
    let mut frames = Frames::client();
    let mut conversation = Conversation::with_modes(LayerModes::default());
    if startup(&mut read, &mut write, &mut frames, &mut conversation)
        .await
        .is_some()
    {
        let _ = write.write_all(&unreachable(&message)).await;
        let _ = write.shutdown().await;
    }
}

/// The FATAL ErrorResponse that says the server could not be reached.
fn unreachable(message: &str) -> BytesMut {
    encode([wire::error("FATAL", "08001", message)])
}

/// EmptyQueryResponse and ReadyForQuery with `status`: a marker's
/// answer, made once per status (one is sent at every check-out).
pub(crate) fn marker_answer(status: u8) -> Bytes {
    const fn answer(status: u8) -> [u8; 11] {
        [b'I', 0, 0, 0, 4, b'Z', 0, 0, 0, 5, status]
    }
    static IDLE: [u8; 11] = answer(b'I');
    static IN_TRANSACTION: [u8; 11] = answer(b'T');
    static FAILED: [u8; 11] = answer(b'E');
    Bytes::from_static(match status {
        b'T' => &IN_TRANSACTION,
        b'E' => &FAILED,
        _ => &IDLE,
    })
}

/// Messages the proxy writes itself, encoded. Encoding into memory fails
/// only for a message too long for its length field, which these are
/// not.
fn encode<const N: usize>(messages: [PgWireBackendMessage; N]) -> BytesMut {
    let mut out = BytesMut::new();
    for message in messages {
        let _ = message.encode(&mut out);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery, TransactionStatus};

    use super::*;

    #[test]
    fn a_marker_s_answer_is_what_pgwire_encodes() {
        for status in [
            TransactionStatus::Idle,
            TransactionStatus::Transaction,
            TransactionStatus::Error,
        ] {
            let expected = encode([
                PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()),
                PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status)),
            ]);
            let byte = *expected.last().unwrap();
            assert_eq!(marker_answer(byte).as_ref(), expected.as_ref());
        }
    }
}
