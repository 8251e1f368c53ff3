//! The few protobuf wire-format primitives OTLP needs, writing straight
//! into one buffer.
//!
//! A nested message is written in place: one byte is reserved for its
//! length, the message is written after it, and the length is patched in,
//! moving the message up when the length needs more than one byte. That
//! keeps encoding to one pass with no intermediate structures.

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// A protobuf writer over a growable buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from((field << 3) | wire_type));
    }

    /// A `bytes` or `string` field; omitted when empty, as proto3 does.
    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.bytes_always(field, value);
        }
    }

    /// A `bytes` or `string` field written even when empty (a oneof member).
    pub(crate) fn bytes_always(&mut self, field: u32, value: &[u8]) {
        self.key(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    /// A `uint32`, `int32` or enum field; omitted when zero.
    pub(crate) fn uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value);
        }
    }

    /// An `int64` oneof member (written even when zero).
    pub(crate) fn int64_always(&mut self, field: u32, value: i64) {
        self.key(field, VARINT);
        self.varint(value as u64);
    }

    /// A `bool` oneof member (written even when false).
    pub(crate) fn bool_always(&mut self, field: u32, value: bool) {
        self.key(field, VARINT);
        self.varint(u64::from(value));
    }

    /// A `double` oneof member (written even when zero).
    pub(crate) fn double_always(&mut self, field: u32, value: f64) {
        self.key(field, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `fixed64` field; omitted when zero.
    pub(crate) fn fixed64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, FIXED64);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A `fixed32` field; omitted when zero.
    pub(crate) fn fixed32(&mut self, field: u32, value: u32) {
        if value != 0 {
            self.key(field, FIXED32);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A nested message written by `body`, present even when empty.
    pub(crate) fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        self.key(field, LEN);
        let at = self.buf.len();
        self.buf.push(0);
        body(self);
        let len = self.buf.len() - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
            return;
        }
        let (prefix, prefix_len) = varint_bytes(len as u64);
        let extra = prefix_len - 1;
        let end = self.buf.len();
        self.buf.resize(end + extra, 0);
        self.buf.copy_within(at + 1..end, at + 1 + extra);
        self.buf[at..at + prefix_len].copy_from_slice(&prefix[..prefix_len]);
    }
}

/// `value` as a varint on the stack (at most ten bytes), and its length.
fn varint_bytes(mut value: u64) -> ([u8; 10], usize) {
    let mut bytes = [0; 10];
    let mut len = 0;
    while value >= 0x80 {
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    (bytes, len + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_varint_on_the_stack_is_the_varint_in_the_buffer() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut writer = Writer::default();
            writer.varint(value);
            let (bytes, len) = varint_bytes(value);
            assert_eq!(&bytes[..len], writer.buf.as_slice(), "{value}");
        }
    }

    #[test]
    fn a_long_nested_message_gets_its_length_in_front() {
        let mut writer = Writer::default();
        writer.message(1, |w| w.bytes(2, &[7; 300]));
        // Field 1, LEN; length 303 (0xaf 0x02); field 2, LEN; 300 (0xac 0x02).
        assert_eq!(&writer.buf[..6], &[0x0a, 0xaf, 0x02, 0x12, 0xac, 0x02]);
        assert_eq!(writer.buf.len(), 3 + 303);
    }
}
