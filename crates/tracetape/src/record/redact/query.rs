//! Query parameters in a recorded URL (`https://host/path?a=1&b=2` or
//! `/path?a=1`), rewritten in place.

use super::{RedactAction, RedactionKey};

/// Rewrites every value of the parameter `name` in `url` (by its name as
/// written); returns whether there was one.
pub(crate) fn apply(
    url: &mut String,
    name: &str,
    action: &RedactAction,
    key: &RedactionKey,
) -> bool {
    let (without_fragment, fragment) = match url.split_once('#') {
        Some((before, after)) => (before, Some(after)),
        None => (url.as_str(), None),
    };
    let Some((base, query)) = without_fragment.split_once('?') else {
        return false;
    };
    let mut found = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (key_part, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key_part != name {
                return pair.to_owned();
            }
            found = true;
            match action.rewrite(value.as_bytes(), key) {
                Some(text) => format!("{key_part}={}", encode(&text)),
                None => pair.to_owned(),
            }
        })
        .collect();
    if found {
        let mut rebuilt = format!("{base}?{}", pairs.join("&"));
        if let Some(fragment) = fragment {
            rebuilt.push('#');
            rebuilt.push_str(fragment);
        }
        *url = rebuilt;
    }
    found
}

/// `text` with everything but unreserved characters (and the `*` and `:`
/// of masked and redacted values) percent-encoded.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~*:".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_value_of_the_key_and_nothing_else() {
        let key = RedactionKey::ephemeral().unwrap();
        let replace = RedactAction::Replace("a b&c".into());
        let mut url = "https://h.test/p?token=1&x=token&token=2&tokens=3#token=4".to_owned();
        assert!(apply(&mut url, "token", &replace, &key));
        assert_eq!(
            url,
            "https://h.test/p?token=a%20b%26c&x=token&token=a%20b%26c&tokens=3#token=4"
        );
        let mut inbound = "/p?token&a=1".to_owned();
        assert!(apply(&mut inbound, "token", &RedactAction::Redact, &key));
        assert_eq!(inbound, format!("/p?token={}&a=1", key.redact(b"")));
        let mut untouched = "/p?a=1".to_owned();
        assert!(!apply(&mut untouched, "token", &RedactAction::Redact, &key));
        assert!(!apply(
            &mut "/p".to_owned(),
            "token",
            &RedactAction::Redact,
            &key
        ));
        // Dropping only reports the find.
        let mut kept = "/p?token=1".to_owned();
        assert!(apply(&mut kept, "token", &RedactAction::Drop, &key));
        assert_eq!(kept, "/p?token=1");
    }
}
