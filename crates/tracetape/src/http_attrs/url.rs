//! Full URLs without secrets: user name and password, and the values of
//! sensitive query keys ([`QueryKeys`]), replaced by `REDACTED` (for
//! `url.full`, and in recordings).

use std::borrow::Cow;

use super::{QueryKeys, redact_query};

/// `url` with user name and password replaced by `REDACTED` and the values
/// of sensitive query keys by `REDACTED`, as the conventions ask for
/// `url.full`; borrowed when there is nothing to hide.
pub(crate) fn redact_url<'a>(url: &'a str, keys: &QueryKeys) -> Cow<'a, str> {
    // Neither user information nor a query: nothing to look for.
    if !url.contains(['@', '?']) {
        return Cow::Borrowed(url);
    }
    let credentials = credentials(url);
    let query = query(url);
    let redacted_query = query.map(|(start, end)| redact_query(&url[start..end], keys));
    let query_changed = matches!(redacted_query, Some(Cow::Owned(_)));
    if credentials.is_none() && !query_changed {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    let mut at = 0;
    if let Some((start, end)) = credentials {
        out.push_str(&url[..start]);
        out.push_str(if url[start..end].contains(':') {
            "REDACTED:REDACTED"
        } else {
            "REDACTED"
        });
        at = end;
    }
    match (query, redacted_query) {
        (Some((start, end)), Some(Cow::Owned(redacted))) => {
            out.push_str(&url[at..start]);
            out.push_str(&redacted);
            out.push_str(&url[end..]);
        }
        _ => out.push_str(&url[at..]),
    }
    Cow::Owned(out)
}

/// The byte range of the user information (before the last `@` of the
/// authority), if the URL has one: only after a scheme that starts the URL
/// (`://` later on, in a relative URL's query, is not an authority).
fn credentials(url: &str) -> Option<(usize, usize)> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return None;
    }
    let start = scheme_end + 3;
    let authority_len = url[start..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - start);
    let at = url[start..start + authority_len].rfind('@')?;
    Some((start, start + at))
}

/// The byte range of the query, after `?` and before any `#`.
fn query(url: &str) -> Option<(usize, usize)> {
    let start = url.find('?')? + 1;
    let end = url[start..].find('#').map_or(url.len(), |i| start + i);
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_signatures_are_redacted() {
        for (url, expected) in [
            ("http://a.test/x?y=1", "http://a.test/x?y=1"),
            (
                "https://user:secret@a.test:8443/x",
                "https://REDACTED:REDACTED@a.test:8443/x",
            ),
            ("https://token@a.test/", "https://REDACTED@a.test/"),
            (
                "https://a.test/o?id=1&Signature=abc#frag",
                "https://a.test/o?id=1&Signature=REDACTED#frag",
            ),
            (
                "http://u:p@a.test/?sig=1",
                "http://REDACTED:REDACTED@a.test/?sig=REDACTED",
            ),
            // `://` in a relative URL's query is not an authority (this
            // once sliced backwards and panicked).
            (
                "/cb?sig=1&next=http://u@h/",
                "/cb?sig=REDACTED&next=http://u@h/",
            ),
            ("/?a=&sig&&191etp://Pric@x", "/?a=&sig&&191etp://Pric@x"),
            // An `@` in the path or query is not user information.
            (
                "http://a.test/users/@me?to=a@b",
                "http://a.test/users/@me?to=a@b",
            ),
            ("not a url", "not a url"),
            (
                "postgresql://127.0.0.1:5432/orders",
                "postgresql://127.0.0.1:5432/orders",
            ),
            (
                "https://u:p@a.test/v1?api_key=k&q=tea",
                "https://REDACTED:REDACTED@a.test/v1?api_key=REDACTED&q=tea",
            ),
        ] {
            assert_eq!(redact_url(url, &QueryKeys::default()), expected, "{url}");
        }
        assert!(matches!(
            redact_url("http://a.test/", &QueryKeys::default()),
            Cow::Borrowed(_)
        ));
    }
}
