//! Where a request really came from and was addressed to: `Forwarded`
//! (RFC 7239), `X-Forwarded-For`, `X-Forwarded-Host`, `X-Forwarded-Proto`,
//! then `Host`. Malformed values are ignored, never an error.

use http::header::{FORWARDED, HOST};
use http::{HeaderMap, HeaderName};

// Looked up by name rather than by string, which the header map would have
// to parse and validate at every request.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The first element of a `Forwarded` header, as far as we use it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Forwarded<'a> {
    pub(crate) for_: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) proto: Option<&'a str>,
}

/// Parses the first (client-most) element of the first `Forwarded` header.
pub(crate) fn forwarded(headers: &HeaderMap) -> Forwarded<'_> {
    let Some(value) = headers.get(FORWARDED).and_then(|v| v.to_str().ok()) else {
        return Forwarded::default();
    };
    let first = value.split(',').next().unwrap_or_default();
    let mut out = Forwarded::default();
    for pair in first.split(';') {
        let Some((key, raw)) = pair.split_once('=') else {
            continue;
        };
        let raw = raw.trim();
        let value = match raw.strip_prefix('"') {
            Some(rest) => match rest.strip_suffix('"') {
                Some(inner) => inner,
                None => continue,
            },
            None => raw,
        };
        if value.is_empty() {
            continue;
        }
        // Parameter names are case-insensitive.
        let key = key.trim();
        if key.eq_ignore_ascii_case("for") {
            out.for_ = Some(value);
        } else if key.eq_ignore_ascii_case("host") {
            out.host = Some(value);
        } else if key.eq_ignore_ascii_case("proto") {
            out.proto = Some(value);
        }
    }
    out
}

/// The client address from a `Forwarded` `for=` node or the first
/// `X-Forwarded-For` entry, without its port. `unknown` and obfuscated
/// identifiers (`_hidden`) are not addresses.
pub(crate) fn client_address<'a>(headers: &'a HeaderMap, fwd: &Forwarded<'a>) -> Option<&'a str> {
    let from_forwarded = fwd.for_.and_then(node_address);
    from_forwarded.or_else(|| {
        headers
            .get(&X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| node_address(v.trim()))
    })
}

fn node_address(node: &str) -> Option<&str> {
    if node.is_empty() || node.eq_ignore_ascii_case("unknown") || node.starts_with('_') {
        return None;
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest
            .split_once(']')
            .map(|(addr, _)| addr)
            .filter(|a| !a.is_empty());
    }
    // One colon: IPv4 (or name) with a port. More: a bare IPv6 address.
    match node.matches(':').count() {
        1 => node.split_once(':').map(|(addr, _)| addr),
        _ => Some(node),
    }
}

/// Splits `host[:port]` (with `[v6]:port`) into name and port; a port that
/// is not a number is dropped.
pub(crate) fn split_host(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.trim();
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, port.parse().ok())),
        Some(_) => Some((authority, None)),
        None => Some((authority, None)),
    }
}

/// `server.address` and `server.port` from `Forwarded` `host=`,
/// `X-Forwarded-Host`, the request target's authority, then `Host`.
pub(crate) fn server_authority<'a>(
    headers: &'a HeaderMap,
    uri: &'a http::Uri,
    fwd: &Forwarded<'a>,
) -> Option<(&'a str, Option<u16>)> {
    let header = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    fwd.host
        .or_else(|| header(&X_FORWARDED_HOST).and_then(|v| v.split(',').next()))
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .or_else(|| header(&HOST))
        .and_then(split_host)
}

/// `url.scheme`: the request target's, then `Forwarded` `proto=`, then
/// `X-Forwarded-Proto`, else `http`.
pub(crate) fn scheme<'a>(
    headers: &'a HeaderMap,
    uri: &'a http::Uri,
    fwd: &Forwarded<'a>,
) -> &'a str {
    uri.scheme_str()
        .or(fwd.proto)
        .or_else(|| {
            headers
                .get(&X_FORWARDED_PROTO)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
        })
        .filter(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
        .unwrap_or("http")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, http::HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn forwarded_first_element_wins() {
        let h = headers(&[(
            "forwarded",
            "for=\"[2001:db8::17]:4711\";proto=https;host=shop.example:8443, for=10.0.0.1",
        )]);
        let f = forwarded(&h);
        assert_eq!(client_address(&h, &f), Some("2001:db8::17"));
        assert_eq!(f.proto, Some("https"));
        assert_eq!(
            server_authority(&h, &http::Uri::from_static("/"), &f),
            Some(("shop.example", Some(8443)))
        );
    }

    #[test]
    fn malformed_forwarded_is_ignored() {
        for bad in [
            "for",
            "for=",
            "for=\"unterminated",
            ";;;,,,",
            "for=unknown",
            "for=_hidden",
            "for=\"[\"",
            "=x;proto",
        ] {
            let h = headers(&[
                ("forwarded", bad),
                ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
            ]);
            let f = forwarded(&h);
            // A useless Forwarded falls back to X-Forwarded-For.
            assert_eq!(client_address(&h, &f), Some("203.0.113.9"), "{bad}");
        }
    }

    #[test]
    fn x_forwarded_for_with_port_and_v6() {
        let h = headers(&[("x-forwarded-for", "198.51.100.4:1234")]);
        assert_eq!(client_address(&h, &forwarded(&h)), Some("198.51.100.4"));
        let h = headers(&[("x-forwarded-for", "2001:db8::1")]);
        assert_eq!(client_address(&h, &forwarded(&h)), Some("2001:db8::1"));
        let h = headers(&[]);
        assert_eq!(client_address(&h, &forwarded(&h)), None);
    }

    #[test]
    fn server_authority_order() {
        let uri = http::Uri::from_static("/x");
        let h = headers(&[
            ("host", "api.local:8080"),
            ("x-forwarded-host", "public.example"),
        ]);
        assert_eq!(
            server_authority(&h, &uri, &forwarded(&h)),
            Some(("public.example", None))
        );
        let h = headers(&[("host", "api.local:notaport")]);
        assert_eq!(
            server_authority(&h, &uri, &forwarded(&h)),
            Some(("api.local", None))
        );
        let h = headers(&[("host", "[::1]:9000")]);
        assert_eq!(
            server_authority(&h, &uri, &forwarded(&h)),
            Some(("::1", Some(9000)))
        );
        let absolute = http::Uri::from_static("http://target.example:81/x");
        let h = headers(&[("host", "ignored")]);
        assert_eq!(
            server_authority(&h, &absolute, &forwarded(&h)),
            Some(("target.example", Some(81)))
        );
    }

    #[test]
    fn scheme_sources() {
        let uri = http::Uri::from_static("/");
        assert_eq!(scheme(&headers(&[]), &uri, &Forwarded::default()), "http");
        let h = headers(&[("x-forwarded-proto", "https")]);
        assert_eq!(scheme(&h, &uri, &forwarded(&h)), "https");
        let h = headers(&[("x-forwarded-proto", "ht tp<>")]);
        assert_eq!(scheme(&h, &uri, &forwarded(&h)), "http");
    }
}
