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
