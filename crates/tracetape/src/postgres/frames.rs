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

/// One whole message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The type byte; `None` for a client's untyped first messages.
    pub(crate) tag: Option<u8>,
    /// The whole message, type byte and length included.
    pub(crate) bytes: Bytes,
}

impl Frame {
    /// The message, borrowed.
    pub(crate) fn view(&self) -> FrameRef<'_> {
        FrameRef {
            tag: self.tag,
            bytes: &self.bytes,
        }
    }
}

/// One whole message, borrowed from where it was read: what the readers
/// of messages take, so that a message read in place is not cut out of
/// its buffer to be looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameRef<'a> {
    /// The type byte; `None` for a client's untyped first messages.
    pub(crate) tag: Option<u8>,
    /// The whole message, type byte and length included.
    pub(crate) bytes: &'a [u8],
}

impl<'a> FrameRef<'a> {
    /// The message after its type byte and length.
    pub(crate) fn body(&self) -> &'a [u8] {
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
        let Some(FrameRef { tag, bytes }) = self.peek_at(0)? else {
            return Ok(None);
        };
        let total = bytes.len();
        let bytes = self.buffer.split_to(total).freeze();
        Ok(Some(Frame { tag, bytes }))
    }

    /// The whole message that starts `at` bytes into what is held (where
    /// the messages looked at so far end), left in place; `None` until
    /// more bytes come.
    pub(crate) fn peek_at(&mut self, at: usize) -> Result<Option<FrameRef<'_>>, FrameError> {
        let header = if self.untyped { 4 } else { 5 };
        let Some(held) = self.buffer.get(at..) else {
            return Ok(None);
        };
        if held.len() < header {
            return Ok(None);
        }
        let tag = (!self.untyped).then(|| held[0]);
        let mut length = &held[header - 4..header];
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
        if held.len() < total {
            let missing = total - held.len();
            self.buffer.reserve(missing);
            return Ok(None);
        }
        let bytes = &self.buffer[at..at + total];
        Ok(Some(FrameRef { tag, bytes }))
    }

    /// The first `len` bytes held, which whole messages looked at with
    /// [`peek_at`](Self::peek_at) filled: taken out, in one piece.
    #[cfg_attr(not(feature = "tokio-postgres"), allow(dead_code))]
    pub(crate) fn take(&mut self, len: usize) -> BytesMut {
        self.buffer.split_to(len.min(self.buffer.len()))
    }

    /// The first `len` bytes held, dropped.
    #[cfg_attr(not(feature = "tokio-postgres"), allow(dead_code))]
    pub(crate) fn consume(&mut self, len: usize) {
        self.buffer.advance(len.min(self.buffer.len()));
    }

    /// What is held, from its start.
    #[cfg_attr(not(feature = "tokio-postgres"), allow(dead_code))]
    pub(crate) fn held(&self) -> &[u8] {
        &self.buffer
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
            (seen[0].tag, seen[0].view().body()),
            (None, &80877103i32.to_be_bytes()[..])
        );
        assert_eq!(
            (seen[1].tag, seen[1].view().body()),
            (Some(b'Q'), &b"SELECT 1\0"[..])
        );
        assert_eq!(seen[1].bytes.as_ref(), query.as_slice());
        assert_eq!((seen[2].tag, seen[2].view().body()), (Some(b'S'), &b""[..]));
    }

    #[test]
    fn messages_are_looked_at_in_place_then_taken_in_one_piece() {
        let query = typed(b'Q', b"SELECT 1\0");
        let sync = typed(b'S', b"");
        let mut frames = Frames::server();
        frames.buffer().extend_from_slice(&query);
        frames.buffer().extend_from_slice(&sync);
        frames.buffer().extend_from_slice(&sync[..3]);
        let mut at = 0;
        let mut tags = Vec::new();
        while let Some(frame) = frames.peek_at(at).expect("well formed") {
            tags.push(frame.tag);
            at += frame.bytes.len();
        }
        // The third message is not whole yet.
        assert_eq!(tags, [Some(b'Q'), Some(b'S')]);
        assert_eq!(at, query.len() + sync.len());
        let taken = frames.take(query.len());
        assert_eq!(taken.as_ref(), query.as_slice());
        frames.consume(sync.len());
        assert_eq!(frames.held(), &sync[..3]);
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
