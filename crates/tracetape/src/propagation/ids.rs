//! What the trace-context and B3 parsers share: lowercase hex ids and
//! optional whitespace.

use opentelemetry::trace::{SpanId, TraceId};

/// The value of one lowercase hex digit; uppercase is not hex here, as
/// both W3C Trace Context and B3 write ids in lowercase only.
fn digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// The number written by `hex`, lowercase digits only, at most 32 of them.
fn number(hex: &[u8]) -> Option<u128> {
    if hex.is_empty() || hex.len() > 32 {
        return None;
    }
    hex.iter().try_fold(0u128, |acc, &byte| {
        Some((acc << 4) | u128::from(digit(byte)?))
    })
}

/// Appends `bytes` as lowercase hex, two digits per byte.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// One byte written as two lowercase hex digits.
pub(crate) fn byte(high: u8, low: u8) -> Option<u8> {
    Some((digit(high)? << 4) | digit(low)?)
}

/// A trace id of exactly 32 lowercase hex digits; `None` when malformed or
/// all zeros.
pub(crate) fn trace_id(hex: &[u8]) -> Option<TraceId> {
    if hex.len() != 32 {
        return None;
    }
    Some(TraceId::from(number(hex)?)).filter(|id| *id != TraceId::INVALID)
}

/// A B3 trace id: 32 lowercase hex digits, or 16 for a 64-bit id, which
/// is widened with leading zeros. `None` when malformed or all zeros.
pub(crate) fn b3_trace_id(hex: &[u8]) -> Option<TraceId> {
    match hex.len() {
        16 | 32 => Some(TraceId::from(number(hex)?)).filter(|id| *id != TraceId::INVALID),
        _ => None,
    }
}

/// A span id of exactly 16 lowercase hex digits; `None` when malformed or
/// all zeros.
pub(crate) fn span_id(hex: &[u8]) -> Option<SpanId> {
    if hex.len() != 16 {
        return None;
    }
    let id = u64::try_from(number(hex)?).ok()?;
    Some(SpanId::from(id)).filter(|id| *id != SpanId::INVALID)
}

/// `text` without the optional whitespace (spaces and horizontal tabs,
/// RFC 9110's OWS) at either end.
pub(crate) fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_hex_of_the_exact_length() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(id.as_bytes()),
            Some(TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736))
        );
        assert_eq!(trace_id(id.to_uppercase().as_bytes()), None);
        assert_eq!(trace_id(&id.as_bytes()[1..]), None);
        assert_eq!(trace_id(b"+bf92f3577b34da6a3ce929d0e0e4736"), None);
        assert_eq!(trace_id(&[b'0'; 32]), None);
        assert_eq!(
            span_id(b"00f067aa0ba902b7"),
            Some(SpanId::from(0x00f0_67aa_0ba9_02b7))
        );
        assert_eq!(span_id(b"00f067aa0ba902b"), None);
        assert_eq!(span_id(&[b'0'; 16]), None);
        assert_eq!(
            b3_trace_id(b"a3ce929d0e0e4736"),
            Some(TraceId::from(0xa3ce_929d_0e0e_4736))
        );
        assert_eq!(b3_trace_id(b"a3ce929d0e0e47361"), None);
        assert_eq!(byte(b'f', b'e'), Some(0xfe));
        assert_eq!(byte(b'F', b'e'), None);
    }
}
