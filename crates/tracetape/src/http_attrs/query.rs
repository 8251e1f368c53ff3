//! Query strings without secrets: the values of the keys [`QueryKeys`]
//! names (credentials, tokens, signatures) are replaced by `REDACTED`.

use std::borrow::Cow;

use super::QueryKeys;

/// Returns `query` with the values of sensitive keys replaced by
/// `REDACTED`, borrowing when there is nothing to replace.
pub(crate) fn redact_query<'a>(query: &'a str, keys: &QueryKeys) -> Cow<'a, str> {
    let is_signed = |key: &str| keys.is_sensitive(key);
    let needs = query.split('&').any(|pair| {
        let key = pair_key(pair);
        pair.len() > key.len() && is_signed(key)
    });
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

/// A query or form component with its `%XX` escapes decoded (a `%` not
/// followed by two hex digits kept as written) and, in a form body
/// (`plus_is_space`), `+` read as a space; read as UTF-8 with invalid
/// sequences replaced.
pub(crate) fn decode_component(text: &str, plus_is_space: bool) -> String {
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
        let keys = QueryKeys::default();
        let redact_query = |query| redact_query(query, &keys);
        assert_eq!(redact_query("a=1&b=2"), "a=1&b=2");
        assert!(matches!(redact_query("a=1"), Cow::Borrowed(_)));
        assert_eq!(
            redact_query("id=7&Signature=abc&sig=x&X-Goog-Signature=y&AWSAccessKeyId=k"),
            "id=7&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&AWSAccessKeyId=REDACTED"
        );
        // A bare key has no value to hide.
        assert_eq!(redact_query("sig&x=1"), "sig&x=1");
        assert!(matches!(redact_query("sig&x=1"), Cow::Borrowed(_)));
        assert_eq!(redact_query(""), "");
    }

    // The credentials: only the four signature keys were redacted,
    // so `api_key` and `token` values reached `url.query` and `url.full`.
    #[test]
    fn credential_keys_in_any_case_and_encoding_are_redacted() {
        let keys = QueryKeys::default();
        assert_eq!(
            redact_query(
                "page=2&api_key=k1&APIKEY=k2&token=t&access_token=a&password=p&secret=s\
                 &signature=g&api%5Fkey=k3&page_token=keep",
                &keys
            ),
            "page=2&api_key=REDACTED&APIKEY=REDACTED&token=REDACTED&access_token=REDACTED\
             &password=REDACTED&secret=REDACTED&signature=REDACTED&api%5Fkey=REDACTED\
             &page_token=keep"
        );
        assert_eq!(
            redact_query("tenant=acme&Session=x", &keys.with(["session"])),
            "tenant=acme&Session=REDACTED"
        );
    }
}
