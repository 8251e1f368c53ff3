//! Query strings without secrets: the values of signature parameters that
//! the semantic conventions list are replaced by `REDACTED`.

use std::borrow::Cow;

/// Query keys whose values grant access and must never be recorded.
const SIGNED_KEYS: [&str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// Returns `query` with the values of signed keys replaced by `REDACTED`,
/// borrowing when there is nothing to replace.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    let needs = query.split('&').any(|pair| is_signed(pair_key(pair)));
    if !needs {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let key = pair_key(pair);
        if is_signed(key) && pair.len() > key.len() {
            out.push_str(key);
            out.push_str("=REDACTED");
        } else {
            out.push_str(pair);
        }
    }
    Cow::Owned(out)
}

fn pair_key(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(key, _)| key)
}

fn is_signed(key: &str) -> bool {
    SIGNED_KEYS.contains(&key)
}

/// The `key=value` pairs of a query or form body in the order written,
/// each side decoded by [`decode_component`]; a key without `=` has the
/// empty value, and empty pieces are skipped.
pub(crate) fn decoded_pairs(
    text: &str,
    plus_is_space: bool,
) -> impl Iterator<Item = (String, String)> + '_ {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(move |pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                decode_component(key, plus_is_space),
                decode_component(value, plus_is_space),
            )
        })
}

/// A query or form component with its `%XX` escapes decoded (a `%` not
/// followed by two hex digits kept as written) and, in a form body
/// (`plus_is_space`), `+` read as a space; read as UTF-8 with invalid
/// sequences replaced.
fn decode_component(text: &str, plus_is_space: bool) -> String {
    let escaped = text.contains('%') || (plus_is_space && text.contains('+'));
    if !escaped {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                at += 3;
            }
            None => {
                out.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_are_redacted_and_the_rest_kept() {
        assert_eq!(redact_query("a=1&b=2"), "a=1&b=2");
        assert!(matches!(redact_query("a=1"), Cow::Borrowed(_)));
        assert_eq!(
            redact_query("id=7&Signature=abc&sig=x&X-Goog-Signature=y&AWSAccessKeyId=k"),
            "id=7&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED"
        );
        // A bare key has no value to hide.
        assert_eq!(redact_query("sig&x=1"), "sig&x=1");
        assert_eq!(redact_query(""), "");
    }
}
