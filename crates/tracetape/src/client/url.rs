//! The destination of an outbound request, read the same way from an
//! `http::Uri` (tower clients) and a `reqwest::Url`, and its `url.full`
//! with secrets redacted.

use std::borrow::Cow;

use crate::http_attrs::redact_query;

/// Where a request goes.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The URL as the client sends it.
    pub(crate) full: Cow<'a, str>,
    pub(crate) scheme: Option<&'a str>,
    /// Host name or IP address (IPv6 without brackets).
    pub(crate) host: Option<&'a str>,
    /// The explicit port, else the scheme's default.
    pub(crate) port: Option<u16>,
}

impl<'a> Target<'a> {
    pub(crate) fn from_uri(uri: &'a http::Uri) -> Self {
        let scheme = uri.scheme_str();
        Self {
            full: Cow::Owned(uri.to_string()),
            scheme,
            host: uri.host().map(unbracket),
            port: uri.port_u16().or_else(|| default_port(scheme?)),
        }
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn from_url(url: &'a reqwest::Url) -> Self {
        Self {
            full: Cow::Borrowed(url.as_str()),
            scheme: Some(url.scheme()),
            host: url.host_str().map(unbracket),
            port: url.port_or_known_default(),
        }
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// `url` with user name and password replaced by `REDACTED` and the values
/// of signed query keys by `REDACTED`, as the conventions ask for
/// `url.full`; borrowed when there is nothing to hide.
pub(crate) fn redact(url: &str) -> Cow<'_, str> {
    let credentials = credentials(url);
    let query = query(url);
    let redacted_query = query.map(|(start, end)| redact_query(&url[start..end]));
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
/// authority), if the URL has one.
fn credentials(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
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
            // An `@` in the path or query is not user information.
            (
                "http://a.test/users/@me?to=a@b",
                "http://a.test/users/@me?to=a@b",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact(url), expected, "{url}");
        }
        assert!(matches!(redact("http://a.test/"), Cow::Borrowed(_)));
    }

    #[test]
    fn targets_read_the_same_from_a_uri() {
        let uri: http::Uri = "http://[::1]:8080/a?b=1".parse().unwrap_or_default();
        let target = Target::from_uri(&uri);
        assert_eq!(target.full, "http://[::1]:8080/a?b=1");
        assert_eq!(target.host, Some("::1"));
        assert_eq!(target.port, Some(8080));
        assert_eq!(target.scheme, Some("http"));
        let uri: http::Uri = "https://example.test/".parse().unwrap_or_default();
        assert_eq!(Target::from_uri(&uri).port, Some(443));
        let uri: http::Uri = "/relative".parse().unwrap_or_default();
        let target = Target::from_uri(&uri);
        assert_eq!(
            (target.host, target.port, target.scheme),
            (None, None, None)
        );
    }

    #[cfg(feature = "reqwest")]
    #[test]
    fn targets_read_the_same_from_a_reqwest_url() {
        let Ok(url) = reqwest::Url::parse("http://[::1]:8080/a?b=1") else {
            panic!("test URL parses");
        };
        let target = Target::from_url(&url);
        assert_eq!(target.full, "http://[::1]:8080/a?b=1");
        assert_eq!(target.host, Some("::1"));
        assert_eq!(target.port, Some(8080));
    }
}
