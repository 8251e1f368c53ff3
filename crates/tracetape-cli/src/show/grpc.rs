//! A gRPC body as `show` prints it: each length-prefixed message on its
//! own, its protobuf fields as `tracetape::grpc::wire` reads them
//! without the service's descriptors (field numbers and values, a
//! length-delimited field as text, a nested message or bytes).

use tracetape::grpc::wire::{Field, grpc_messages_encoded, hex};

/// Bytes of a bytes field shown in hex.
const HEX_PREVIEW: usize = 32;

/// The lines of `bytes`, a gRPC body; `None` when it is not one (the
/// messages' lengths do not add up to the body, unless it was cut
/// short).
pub(super) fn lines(bytes: &[u8], truncated: bool, encoding: Option<&str>) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    for (index, message) in grpc_messages_encoded(bytes, truncated, encoding)?
        .iter()
        .enumerate()
    {
        let (number, length) = (index + 1, message.length);
        if message.cut {
            lines.push(format!("message {number} ({length} bytes, cut short)"));
            continue;
        }
        match (message.compressed, &message.fields) {
            (true, None) => {
                lines.push(format!("message {number} ({length} bytes, compressed)"));
                continue;
            }
            (true, Some(_)) => lines.push(format!(
                "message {number} ({length} bytes, compressed, {} decompressed)",
                message.bytes.len()
            )),
            (false, _) => lines.push(format!("message {number} ({length} bytes)")),
        }
        match &message.fields {
            Some(fields) => fields_lines(fields, "  ", &mut lines),
            None => lines.push(format!("  {}", preview(&message.bytes))),
        }
    }
    Some(lines)
}

/// One line per field, nested messages indented under `number {`.
fn fields_lines(fields: &[(u64, Field)], indent: &str, lines: &mut Vec<String>) {
    for (number, field) in fields {
        match field {
            Field::Varint(value) => lines.push(format!("{indent}{number}: {value}")),
            Field::Fixed64(value) => {
                lines.push(format!("{indent}{number}: 0x{value:016x} (fixed64)"));
            }
            Field::Fixed32(value) => {
                lines.push(format!("{indent}{number}: 0x{value:08x} (fixed32)"));
            }
            Field::Text(text) => lines.push(format!("{indent}{number}: {text:?}")),
            Field::Bytes(bytes) => lines.push(format!("{indent}{number}: {}", preview(bytes))),
            Field::Message(nested) => {
                lines.push(format!("{indent}{number} {{"));
                fields_lines(nested, &format!("{indent}  "), lines);
                lines.push(format!("{indent}}}"));
            }
        }
    }
}

/// `<N bytes> 0a03…`: the first bytes in hex.
fn preview(bytes: &[u8]) -> String {
    let shown = hex(&bytes[..bytes.len().min(HEX_PREVIEW)]);
    let more = if bytes.len() > HEX_PREVIEW { "…" } else { "" };
    format!("<{} bytes> {shown}{more}", bytes.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// One length-prefixed message.
    fn framed(message: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    #[test]
    fn messages_show_their_fields_nested_ones_indented() {
        // {1: "tea", 2: 300, 3: {1: 7}}, then an empty message.
        let message = [
            0x0a, 3, b't', b'e', b'a', 0x10, 0xac, 0x02, 0x1a, 2, 0x08, 7,
        ];
        let mut body = framed(&message);
        body.extend(framed(&[]));
        assert_eq!(
            lines(&body, false, None).unwrap(),
            [
                "message 1 (12 bytes)",
                "  1: \"tea\"",
                "  2: 300",
                "  3 {",
                "    1: 7",
                "  }",
                "message 2 (0 bytes)",
            ]
        );
    }

    #[test]
    fn what_is_not_grpc_framing_or_protobuf_says_so() {
        // A length past the body: not gRPC framing.
        assert_eq!(lines(&[0, 0, 0, 0, 9, 1], false, None), None);
        // Cut short: said so.
        assert_eq!(
            lines(&[0, 0, 0, 0, 9, 1], true, None).unwrap(),
            ["message 1 (9 bytes, cut short)"]
        );
        // Field number 0 is no protobuf: the bytes in hex.
        assert_eq!(
            lines(&framed(&[0x00, 1]), false, None).unwrap(),
            ["message 1 (2 bytes)", "  <2 bytes> 0001"]
        );
        let mut compressed = framed(&[1, 2, 3]);
        compressed[0] = 1;
        assert_eq!(
            lines(&compressed, false, None).unwrap(),
            ["message 1 (3 bytes, compressed)"]
        );
    }
}
