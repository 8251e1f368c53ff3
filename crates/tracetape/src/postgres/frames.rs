//! A byte stream of the PostgreSQL protocol cut into whole messages.
//!
//! Every message but the client's first ones is a type byte, then a
//! 32-bit length that counts itself and the body. The client's first
//! messages (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage)
//! have no type byte. Messages are handed on as they came, never
//! re-encoded: the proxy forwards the bytes it read.

use bytes::{Buf, Bytes, BytesMut};

/// The largest message taken: PostgreSQL's own limit for a field
/// (1 GB); a length past it is a broken or foreign stream.
const MAX_MESSAGE: usize = 1 << 30;

/// Room made for each read: messages are cut out of the buffer as they
/// come whole, which leaves it no room, and a read into a full buffer
/// takes 64 bytes at a time.
const READ_ROOM: usize = 8 * 1024;

/// A stream's messages could not be told apart.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length field says less than the four bytes it takes itself.
    #[error("a message says it is {0} bytes long, less than its length field")]
    TooShort(i32),
    /// The length is past what PostgreSQL sends or takes.
    #[error("a message says it is {0} bytes long, more than the 1 GB PostgreSQL takes")]
    TooLong(usize),
}

/// One whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The type byte; `None` for a client's untyped first messages.
    pub(crate) tag: Option<u8>,
    /// The whole message, type byte and length included.
    pub(crate) bytes: Bytes,
}

impl Frame {
    /// The message after its type byte and length.
    pub(crate) fn body(&self) -> &[u8] {
        let header = if self.tag.is_some() { 5 } else { 4 };
        &self.bytes[header..]
    }
}

/// Bytes read from one side, cut into messages as they become whole.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    buffer: BytesMut,
    /// The next message has no type byte (a client before its
    /// StartupMessage).
    untyped: bool,
}

impl Frames {
    /// Messages from a client: untyped until its StartupMessage.
    pub(crate) fn client() -> Self {
        Self {
            buffer: BytesMut::with_capacity(READ_ROOM),
            untyped: true,
        }
    }

    /// Messages from a server.
    pub(crate) fn server() -> Self {
        Self {
            buffer: BytesMut::with_capacity(READ_ROOM),
            untyped: false,
        }
    }

    /// Where to read more bytes into, with room for a read of a few
    /// kilobytes (the memory of messages already handed on and dropped
    /// is used again).
    pub(crate) fn buffer(&mut self) -> &mut BytesMut {
        if self.buffer.capacity() - self.buffer.len() < READ_ROOM / 2 {
            self.buffer.reserve(READ_ROOM);
        }
        &mut self.buffer
    }

    /// Says that what follows has type bytes (the StartupMessage was
    /// seen) or not (an SSLRequest was answered, and the client starts
    /// again).
    pub(crate) fn set_untyped(&mut self, untyped: bool) {
        self.untyped = untyped;
    }

    /// The next whole message, `None` until more bytes come.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let header = if self.untyped { 4 } else { 5 };
        if self.buffer.len() < header {
            return Ok(None);
        }
        let tag = (!self.untyped).then(|| self.buffer[0]);
        let mut length = &self.buffer[header - 4..header];
        let declared = length.get_i32();
        let Ok(length) = usize::try_from(declared) else {
            return Err(FrameError::TooShort(declared));
        };
        if length < 4 {
            return Err(FrameError::TooShort(declared));
        }
        if length > MAX_MESSAGE {
            return Err(FrameError::TooLong(length));
        }
        let total = header - 4 + length;
        if self.buffer.len() < total {
            self.buffer.reserve(total - self.buffer.len());
            return Ok(None);
        }
        let bytes = self.buffer.split_to(total).freeze();
        Ok(Some(Frame { tag, bytes }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn typed(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn messages_come_whole_however_the_bytes_arrive() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&8i32.to_be_bytes());
        stream.extend_from_slice(&80877103i32.to_be_bytes());
        let query = typed(b'Q', b"SELECT 1\0");
        let sync = typed(b'S', b"");
        let mut frames = Frames::client();
        let mut seen = Vec::new();
        // One byte at a time, the type switched after the first message.
        for byte in stream.iter().chain(&query).chain(&sync) {
            frames.buffer().extend_from_slice(&[*byte]);
            while let Some(frame) = frames.next_frame().expect("well formed") {
                frames.set_untyped(false);
                seen.push(frame);
            }
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(
            (seen[0].tag, seen[0].body()),
            (None, &80877103i32.to_be_bytes()[..])
        );
        assert_eq!(
            (seen[1].tag, seen[1].body()),
            (Some(b'Q'), &b"SELECT 1\0"[..])
        );
        assert_eq!(seen[1].bytes.as_ref(), query.as_slice());
        assert_eq!((seen[2].tag, seen[2].body()), (Some(b'S'), &b""[..]));
    }

    #[test]
    fn a_length_that_cannot_be_is_an_error() {
        let mut frames = Frames::server();
        frames.buffer().extend_from_slice(&[b'Z', 0, 0, 0, 2]);
        assert_eq!(frames.next_frame(), Err(FrameError::TooShort(2)));
        let mut frames = Frames::server();
        frames
            .buffer()
            .extend_from_slice(&[b'D', 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(frames.next_frame(), Err(FrameError::TooLong(_))));
        let mut frames = Frames::server();
        frames
            .buffer()
            .extend_from_slice(&[b'D', 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(frames.next_frame(), Err(FrameError::TooShort(-1)));
    }
}
