//! gRPC bodies read without the service's descriptors: the
//! length-prefixed messages of the gRPC framing, each message's protobuf
//! fields by number and wire type (as `protoc --decode_raw` reads them).
//! Replay matches a gRPC call's request, and compares a gRPC response,
//! as the JSON these make ([`messages_json`]), field by field, so the
//! dynamic-value rules reach inside messages; `tracetape show` prints
//! them.

use serde_json::{Map, Value};

/// Nesting read at most; deeper length-delimited fields stay bytes.
const MAX_DEPTH: usize = 8;

/// One field's value, by wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A varint (wire type 0): an integer, enum or bool.
    Varint(u64),
    /// 64 bits (wire type 1): a fixed64, sfixed64 or double.
    Fixed64(u64),
    /// 32 bits (wire type 5): a fixed32, sfixed32 or float.
    Fixed32(u32),
    /// A length-delimited field that is UTF-8 text without control
    /// characters: most likely a string.
    Text(String),
    /// A length-delimited field that parses as a message.
    Message(Vec<(u64, Field)>),
    /// Any other length-delimited field.
    Bytes(Vec<u8>),
}

/// One message of a gRPC body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMessage {
    /// Its length as framed.
    pub length: usize,
    /// Compressed (flag 1): its fields are read only when it could be
    /// decompressed ([`grpc_messages_encoded`]).
    pub compressed: bool,
    /// Its fields, in order; `None` when compressed, cut short or not
    /// protobuf.
    pub fields: Option<Vec<(u64, Field)>>,
    /// The message's bytes as far as the body has them.
    pub bytes: Vec<u8>,
    /// The body ends before the message does.
    pub cut: bool,
}

/// The messages of a gRPC body; `None` when the framing does not add up
/// to the body (a message longer than what is left, unless `truncated`
/// says the body was cut short).
///
/// ```
/// use tracetape::grpc::wire::{Field, grpc_messages};
///
/// // One message: {1: "tea", 2: 2}.
/// let body = [0, 0, 0, 0, 7, 0x0a, 3, b't', b'e', b'a', 0x10, 2];
/// let messages = grpc_messages(&body, false).unwrap();
/// assert_eq!(
///     messages[0].fields,
///     Some(vec![(1, Field::Text("tea".into())), (2, Field::Varint(2))])
/// );
/// ```
pub fn grpc_messages(body: &[u8], truncated: bool) -> Option<Vec<GrpcMessage>> {
    let mut messages = Vec::new();
    let mut rest = body;
    while let Some((&flag, after_flag)) = rest.split_first() {
        let Some((length, after_length)) = after_flag.split_first_chunk::<4>() else {
            return truncated.then_some(messages);
        };
        let length = u32::from_be_bytes(*length) as usize;
        let (bytes, cut) = match after_length.get(..length) {
            Some(bytes) => (bytes, false),
            None if truncated => (after_length, true),
            None => return None,
        };
        rest = &after_length[bytes.len()..];
        let compressed = flag == 1;
        let fields = (!compressed && !cut).then(|| fields(bytes, 0)).flatten();
        messages.push(GrpcMessage {
            length,
            compressed,
            fields,
            bytes: bytes.to_vec(),
            cut,
        });
    }
    Some(messages)
}

/// [`grpc_messages`], its compressed messages decompressed with
/// `encoding` (the body's `grpc-encoding` header: `gzip` or `deflate`)
/// and read: such a message stays `compressed`, with its fields, and its
/// `bytes` are the decompressed ones. One that does not decompress is
/// left as it was.
///
/// ```
/// use std::io::Write as _;
/// use tracetape::grpc::wire::{Field, grpc_messages_encoded};
///
/// let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
/// gzip.write_all(&[0x10, 2]).unwrap();
/// let message = gzip.finish().unwrap();
/// let mut body = vec![1];
/// body.extend_from_slice(&(message.len() as u32).to_be_bytes());
/// body.extend_from_slice(&message);
/// let messages = grpc_messages_encoded(&body, false, Some("gzip")).unwrap();
/// assert_eq!(messages[0].fields, Some(vec![(2, Field::Varint(2))]));
/// ```
#[cfg(feature = "record-replay")]
pub fn grpc_messages_encoded(
    body: &[u8],
    truncated: bool,
    encoding: Option<&str>,
) -> Option<Vec<GrpcMessage>> {
    let mut messages = grpc_messages(body, truncated)?;
    let Some(encoding) = encoding else {
        return Some(messages);
    };
    for message in messages.iter_mut().filter(|m| m.compressed && !m.cut) {
        let limit = crate::record::MAX_DECODED_BODY_BYTES;
        if let Some(plain) = crate::record::decompress_message(encoding, &message.bytes, limit) {
            message.fields = fields(&plain, 0);
            message.bytes = plain;
        }
    }
    Some(messages)
}

/// The `grpc-encoding` a body's `headers` name, `identity` left out.
#[cfg(feature = "record-replay")]
pub fn grpc_encoding(headers: &[crate::record::HeaderRecord]) -> Option<String> {
    headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("grpc-encoding"))
        .map(|header| String::from_utf8_lossy(&header.value).trim().to_owned())
        .filter(|encoding| !encoding.eq_ignore_ascii_case("identity"))
}

/// The fields of a protobuf message, in order; `None` when the bytes are
/// not one.
fn fields(mut bytes: &[u8], depth: usize) -> Option<Vec<(u64, Field)>> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let number = key >> 3;
        if number == 0 {
            return None;
        }
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut bytes)?),
            1 => {
                let (value, rest) = bytes.split_first_chunk::<8>()?;
                bytes = rest;
                Field::Fixed64(u64::from_le_bytes(*value))
            }
            5 => {
                let (value, rest) = bytes.split_first_chunk::<4>()?;
                bytes = rest;
                Field::Fixed32(u32::from_le_bytes(*value))
            }
            2 => {
                let length = usize::try_from(varint(&mut bytes)?).ok()?;
                let value = bytes.get(..length)?;
                bytes = &bytes[length..];
                delimited(value, depth)
            }
            _ => return None,
        };
        fields.push((number, field));
    }
    Some(fields)
}

/// A length-delimited value: text, a nested message, or bytes.
fn delimited(value: &[u8], depth: usize) -> Field {
    if let Ok(text) = std::str::from_utf8(value)
        && !text.chars().any(|c| c.is_control() && !c.is_whitespace())
    {
        return Field::Text(text.to_owned());
    }
    if depth < MAX_DEPTH
        && let Some(nested) = fields(value, depth + 1)
        && !nested.is_empty()
    {
        return Field::Message(nested);
    }
    Field::Bytes(value.to_vec())
}

/// A base-128 varint, taken off the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            *bytes = &bytes[index + 1..];
            return Some(value);
        }
    }
    None
}

/// A gRPC body's messages as JSON, for matching and comparison: an array
/// with one object per message, its members the field numbers (a number
/// seen more than once an array of its values); a message whose fields
/// cannot be read is its bytes in hex.
///
/// ```
/// use tracetape::grpc::wire::{grpc_messages, messages_json};
///
/// let body = [0, 0, 0, 0, 7, 0x0a, 3, b't', b'e', b'a', 0x10, 2];
/// let messages = grpc_messages(&body, false).unwrap();
/// assert_eq!(messages_json(&messages), serde_json::json!([{"1": "tea", "2": 2}]));
/// ```
pub fn messages_json(messages: &[GrpcMessage]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|message| match &message.fields {
                Some(fields) => object(fields),
                None => Value::String(hex(&message.bytes)),
            })
            .collect(),
    )
}

fn object(fields: &[(u64, Field)]) -> Value {
    let mut map = Map::new();
    for (number, field) in fields {
        let value = match field {
            Field::Varint(value) | Field::Fixed64(value) => Value::from(*value),
            Field::Fixed32(value) => Value::from(*value),
            Field::Text(text) => Value::String(text.clone()),
            Field::Message(fields) => object(fields),
            Field::Bytes(bytes) => Value::String(hex(bytes)),
        };
        match map.get_mut(&number.to_string()) {
            Some(Value::Array(repeated)) => repeated.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                map.insert(number.to_string(), value);
            }
        }
    }
    Value::Object(map)
}

/// Bytes as lower-case hex.
///
/// ```
/// assert_eq!(tracetape::grpc::wire::hex(&[0x0a, 0xff]), "0aff");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn framed(message: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    #[test]
    fn messages_read_as_fields_nested_and_repeated() {
        // {1: "tea", 2: 300, 3: {1: 7}, 2: 5}
        let message = [
            0x0a, 3, b't', b'e', b'a', 0x10, 0xac, 0x02, 0x1a, 2, 0x08, 7, 0x10, 5,
        ];
        let messages = grpc_messages(&framed(&message), false).unwrap();
        assert_eq!(
            messages_json(&messages),
            serde_json::json!([{"1": "tea", "2": [300, 5], "3": {"1": 7}}])
        );
    }

    #[test]
    fn framing_that_does_not_add_up_is_not_grpc() {
        assert_eq!(grpc_messages(&[0, 0, 0, 0, 9, 1], false), None);
        let cut = grpc_messages(&[0, 0, 0, 0, 9, 1], true).unwrap();
        assert!(cut[0].cut && cut[0].fields.is_none());
        // Field number 0: not protobuf, kept as bytes.
        let odd = grpc_messages(&framed(&[0x00, 1]), false).unwrap();
        assert_eq!(messages_json(&odd), serde_json::json!(["0001"]));
    }
}
