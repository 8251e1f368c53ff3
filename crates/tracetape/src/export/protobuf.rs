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
        let mut prefix = Writer::default();
        prefix.varint(len as u64);
        let extra = prefix.buf.len() - 1;
        let end = self.buf.len();
        self.buf.resize(end + extra, 0);
        self.buf.copy_within(at + 1..end, at + 1 + extra);
        self.buf[at..at + prefix.buf.len()].copy_from_slice(&prefix.buf);
    }
}
