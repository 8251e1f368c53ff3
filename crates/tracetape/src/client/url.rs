//! The destination of an outbound request, read the same way from an
//! `http::Uri` (tower clients) and a `reqwest::Url`.

use std::borrow::Cow;

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
    /// The path (a gRPC call's `/{service}/{method}`).
    pub(crate) path: &'a str,
}

impl<'a> Target<'a> {
    pub(crate) fn from_uri(uri: &'a http::Uri) -> Self {
        let scheme = uri.scheme_str();
        Self {
            full: Cow::Owned(uri.to_string()),
            scheme,
            host: uri.host().map(unbracket),
            port: uri.port_u16().or_else(|| default_port(scheme?)),
            path: uri.path(),
        }
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn from_url(url: &'a reqwest::Url) -> Self {
        Self {
            full: Cow::Borrowed(url.as_str()),
            scheme: Some(url.scheme()),
            host: url.host_str().map(unbracket),
            port: url.port_or_known_default(),
            path: url.path(),
        }
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The port `scheme` uses when none is given.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
