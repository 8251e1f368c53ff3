//! A gRPC body as `show` prints it: each length-prefixed message on its
//! own, its protobuf fields read without the service's descriptors (as
//! `protoc --decode_raw` reads them): field numbers, wire types and
//! values, a length-delimited field shown as text when it is UTF-8, as a
//! nested message when it parses as one, else as bytes.

/// Nesting shown at most; deeper messages are shown as bytes.
const MAX_DEPTH: usize = 8;

/// Bytes of a bytes field shown in hex.
const HEX_PREVIEW: usize = 32;

/// The lines of `bytes`, a gRPC body; `None` when it is not one (the
/// messages' lengths do not add up to the body, unless it was cut
/// short).
pub(super) fn lines(bytes: &[u8], truncated: bool) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    let mut rest = bytes;
    let mut index = 0;
    while !rest.is_empty() {
        index += 1;
        let Some((&flag, after_flag)) = rest.split_first() else {
            break;
        };
        let Some((length, after_length)) = after_flag
            .split_first_chunk::<4>()
            .map(|(length, after)| (u32::from_be_bytes(*length) as usize, after))
        else {
            return truncated.then_some(lines);
        };
        let Some(message) = after_length.get(..length) else {
            if truncated {
                lines.push(format!("message {index} ({length} bytes, cut short)"));
                return Some(lines);
            }
            return None;
        };
        rest = &after_length[length..];
        if flag == 1 {
            lines.push(format!("message {index} ({length} bytes, compressed)"));
            continue;
        }
        lines.push(format!("message {index} ({length} bytes)"));
        match fields(message, 0) {
            Some(fields) => lines.extend(fields.into_iter().map(|line| format!("  {line}"))),
            None => lines.push(format!("  {}", hex(message))),
        }
    }
    Some(lines)
}

/// The fields of a protobuf message, one line each (nested ones
/// indented); `None` when the bytes are not a message.
fn fields(mut bytes: &[u8], depth: usize) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let number = key >> 3;
        if number == 0 {
            return None;
        }
        match key & 7 {
            0 => lines.push(format!("{number}: {}", varint(&mut bytes)?)),
            1 => {
                let (value, rest) = bytes.split_first_chunk::<8>()?;
                bytes = rest;
                lines.push(format!(
                    "{number}: 0x{:016x} (fixed64)",
                    u64::from_le_bytes(*value)
                ));
            }
            5 => {
                let (value, rest) = bytes.split_first_chunk::<4>()?;
                bytes = rest;
                lines.push(format!(
                    "{number}: 0x{:08x} (fixed32)",
                    u32::from_le_bytes(*value)
                ));
            }
            2 => {
                let length = usize::try_from(varint(&mut bytes)?).ok()?;
                let value = bytes.get(..length)?;
                bytes = &bytes[length..];
                lines.extend(delimited(number, value, depth));
            }
            _ => return None,
        }
    }
    Some(lines)
}

/// A length-delimited field: text, a nested message, or bytes.
fn delimited(number: u64, value: &[u8], depth: usize) -> Vec<String> {
    if let Ok(text) = std::str::from_utf8(value)
        && !text.chars().any(|c| c.is_control() && !c.is_whitespace())
    {
        return vec![format!("{number}: {text:?}")];
    }
    if depth < MAX_DEPTH
        && let Some(nested) = fields(value, depth + 1)
        && !nested.is_empty()
    {
        let mut lines = vec![format!("{number} {{")];
        lines.extend(nested.into_iter().map(|line| format!("  {line}")));
        lines.push("}".to_owned());
        return lines;
    }
    vec![format!("{number}: {}", hex(value))]
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

/// `<N bytes> 0a 03 …`
fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes
        .iter()
        .take(HEX_PREVIEW)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let more = if bytes.len() > HEX_PREVIEW {
        " …"
    } else {
        ""
    };
    format!("<{} bytes> {}{more}", bytes.len(), shown.join(" "))
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
            lines(&body, false).unwrap(),
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
        assert_eq!(lines(&[0, 0, 0, 0, 9, 1], false), None);
        // Cut short: said so.
        assert_eq!(
            lines(&[0, 0, 0, 0, 9, 1], true).unwrap(),
            ["message 1 (9 bytes, cut short)"]
        );
        // Field number 0 is no protobuf: the bytes in hex.
        assert_eq!(
            lines(&framed(&[0x00, 1]), false).unwrap(),
            ["message 1 (2 bytes)", "  <2 bytes> 00 01"]
        );
        let mut compressed = framed(&[1, 2, 3]);
        compressed[0] = 1;
        assert_eq!(
            lines(&compressed, false).unwrap(),
            ["message 1 (3 bytes, compressed)"]
        );
    }
}
