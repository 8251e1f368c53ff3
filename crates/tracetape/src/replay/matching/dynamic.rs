//! Values that differ between two runs of the same call by their nature:
//! ids, clocks, nonces, signatures and tokens. At the
//! [`Dynamic`](super::Level::Dynamic) level a recorded value of one of
//! these kinds stands for a live value of the same kind.
//!
//! Dates are not among them: a date sent to a dependency is a business
//! value (a due date), and with the replay's clock at the recorded time
//! one derived from "now" comes out as recorded.

use serde_json::Value;

use super::redacted::looks_redacted;
use crate::replay::values::Dynamic;

/// Shortest hex string taken for a nonce, hash or signature.
const MIN_HEX: usize = 16;
/// Shortest base64 string taken for a token.
const MIN_BASE64: usize = 20;

/// The kind of a run-to-run value, as matching tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A UUID, an RFC 3339 timestamp, epoch seconds or milliseconds, or a
    /// JWT (the comparison's kinds, dates left out).
    Known(Dynamic),
    /// Hex digits, with letters and digits both, at least 16: a nonce, a
    /// hash or a signature, of this many characters.
    Hex(usize),
    /// Base64 or base64url, with upper and lower case letters and digits,
    /// at least 20 characters: a token, of this many characters.
    Base64(usize),
}

/// The kind of `text`, if it is a run-to-run value.
pub(super) fn of_str(text: &str) -> Option<Kind> {
    match Dynamic::of_str(text) {
        Some(Dynamic::Date) => None,
        Some(known) => Some(Kind::Known(known)),
        None if is_hex(text) => Some(Kind::Hex(text.len())),
        None if is_base64(text) => Some(Kind::Base64(text.len())),
        None => None,
    }
}

/// Whether the recorded text `recorded` stands for `live`: equal, hidden
/// by redaction, or a run-to-run value of the same kind on both sides.
pub(super) fn alike_str(recorded: &str, live: &str) -> bool {
    recorded == live
        || looks_redacted(recorded)
        || matches!((of_str(recorded), of_str(live)), (Some(r), Some(l)) if r == l)
}

/// Whether the recorded JSON leaf `recorded` stands for `live`: equal
/// (an integer is not a float), strings as [`alike_text`] (a timestamp
/// inside a sentence included), or epoch numbers of the same unit on both
/// sides.
pub(super) fn alike_json(recorded: &Value, live: &Value) -> bool {
    match (recorded, live) {
        (Value::String(r), Value::String(l)) => looks_redacted(r) || alike_text(r, l),
        (Value::String(r), _) if looks_redacted(r) => true,
        (Value::Number(r), Value::Number(l)) => {
            r == l
                || matches!(
                    (Dynamic::of_number(r), Dynamic::of_number(l)),
                    (Some(a), Some(b)) if a == b
                        && (r.is_f64() == l.is_f64())
                )
        }
        _ => recorded == live,
    }
}

/// Hex digits only, at least [`MIN_HEX`], with a letter and a digit.
fn is_hex(text: &str) -> bool {
    text.len() >= MIN_HEX
        && text.bytes().all(|b| b.is_ascii_hexdigit())
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Base64 or base64url characters only (padding at the end), at least
/// [`MIN_BASE64`], with an upper and a lower case letter and a digit.
fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len() >= MIN_BASE64
        && text.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/-_".contains(&b))
        && body.bytes().any(|b| b.is_ascii_uppercase())
        && body.bytes().any(|b| b.is_ascii_lowercase())
        && body.bytes().any(|b| b.is_ascii_digit())
}

/// `text` cut into alternating pieces: runs of characters a dynamic value
/// may hold, and runs of those it may not (spaces, quotes, brackets,
/// `,;&?|<>`). Pieces of both kinds are kept, so that equal separators are
/// part of being alike.
pub(super) fn pieces(text: &str) -> Vec<&str> {
    let separator = |c: char| c.is_whitespace() || "\"',;()[]{}<>&?|".contains(c);
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_separator = None;
    for (at, c) in text.char_indices() {
        let here = separator(c);
        if in_separator.is_some_and(|was| was != here) {
            pieces.push(&text[start..at]);
            start = at;
        }
        in_separator = Some(here);
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Whether the recorded text stands for the live one: the same pieces
/// ([`pieces`]), each [`alike_str`].
pub(super) fn alike_text(recorded: &str, live: &str) -> bool {
    let recorded = pieces(recorded);
    let live = pieces(live);
    recorded.len() == live.len()
        && recorded
            .iter()
            .zip(&live)
            .all(|(recorded, live)| alike_str(recorded, live))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_clocks_nonces_and_tokens_stand_for_their_kind() {
        for (recorded, live) in [
            (
                "6f1c2e9a-3b4d-4c5e-8f70-112233445566",
                "01890a5d-ac96-774b-bcce-b302099a8057",
            ),
            ("2025-01-02T03:04:05Z", "2026-12-06T05:00:00.123+01:00"),
            ("1733462400", "1765000000"),
            ("1733462400123", "1765000000999"),
            (
                "9f86d081884c7d659a2feaa0c55ad015",
                "2c26b46b68ffc68ff99b453c1d304134",
            ),
            ("dGhpcyBpcyBhIHRva2VuMTIz", "YW5vdGhlciBUb2tlbjQ1Njc4"),
        ] {
            assert!(alike_str(recorded, live), "{recorded} ~ {live}");
        }
    }

    #[test]
    fn business_values_dates_and_changed_kinds_do_not() {
        for (recorded, live) in [
            ("tea", "coffee"),
            // A date is a business value (a due date).
            ("2025-01-02", "2025-01-03"),
            // Seconds that became milliseconds.
            ("1733462400", "1733462400123"),
            // A signature of another length.
            ("9f86d081884c7d659a2feaa0c55ad015", "9f86d081884c7d65"),
            // Short hex and plain numbers are not nonces.
            ("abc123", "def456"),
            ("1234567890123456789", "9876543210987654321"),
            ("6f1c2e9a-3b4d-4c5e-8f70-112233445566", "order-1"),
        ] {
            assert!(!alike_str(recorded, live), "{recorded} !~ {live}");
        }
        // Redacted recorded values stand for anything.
        assert!(alike_str("REDACTED:0123456789abcdef", "secret"));
    }

    #[test]
    fn json_numbers_keep_their_type() {
        assert!(alike_json(&json!(2), &json!(2)));
        assert!(!alike_json(&json!(2), &json!(2.0)));
        assert!(alike_json(&json!(1_733_462_400), &json!(1_765_000_000)));
        assert!(!alike_json(&json!(1_733_462_400), &json!(1_765_000_000.5)));
        assert!(alike_json(&json!("REDACTED"), &json!({"a": 1})));
    }

    #[test]
    fn text_is_alike_piece_by_piece() {
        assert!(alike_text(
            "order 6f1c2e9a-3b4d-4c5e-8f70-112233445566 at 2025-01-02T03:04:05Z",
            "order 01890a5d-ac96-774b-bcce-b302099a8057 at 2026-12-06T05:00:00Z"
        ));
        assert!(!alike_text("qty=2 sku=tea", "qty=3 sku=tea"));
        assert!(!alike_text("a b", "a  b"));
        assert_eq!(pieces("a, b"), ["a", ", ", "b"]);
        assert!(pieces("").is_empty());
    }
}
