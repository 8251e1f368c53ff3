//! URLs as the matcher compares them: scheme and host in lower case, the
//! default port left out, user information and fragment dropped, the path
//! as it is, and the query as decoded pairs sorted by key, then value.
//!
//! Parsed by hand rather than with a URL parser, so that any text (a
//! recorded URL a parser would refuse, a relative one) still has a
//! normalised form and nothing here can fail.

use std::collections::BTreeSet;

use super::difference::{CallDifference, CallPart};
use super::dynamic::{alike_str, of_str};
use super::redacted::looks_redacted;
use crate::replay::values::decoded_pairs;

/// A URL in the form the matcher compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NormalUrl {
    /// `scheme://host` or `scheme://host:port`, in lower case, without
    /// the scheme's default port; empty for a URL without scheme and
    /// authority.
    pub(super) origin: String,
    /// The path as sent, `/` when empty.
    pub(super) path: String,
    /// The query's pairs, percent-decoded, sorted by key then value; a
    /// key without `=` has the empty value.
    pub(super) query: Vec<(String, String)>,
}

impl NormalUrl {
    pub(super) fn parse(url: &str) -> Self {
        let url = url.split_once('#').map_or(url, |(before, _)| before);
        let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
        let (origin, path) = split_origin(before_query);
        Self {
            origin,
            path: if path.is_empty() { "/" } else { path }.to_owned(),
            query: pairs(query, false),
        }
    }

    /// How the live path lines up with this recorded one, segment by
    /// segment; `None` when it cannot be the same endpoint: another number
    /// of segments, or a segment that is a word (it has a letter and is
    /// not a run-to-run value) differs.
    pub(super) fn path_fit(&self, live: &Self) -> Option<PathFit> {
        let recorded: Vec<&str> = self.path.split('/').collect();
        let live: Vec<&str> = live.path.split('/').collect();
        if recorded.len() != live.len() {
            return None;
        }
        let mut fit = PathFit {
            alike: 0,
            total: 0,
            differences: Vec::new(),
        };
        for (position, (recorded, live)) in recorded.iter().zip(&live).enumerate().skip(1) {
            fit.total += 1;
            if alike_str(recorded, live) {
                fit.alike += 1;
                continue;
            }
            let word =
                recorded.bytes().any(|b| b.is_ascii_alphabetic()) && of_str(recorded).is_none();
            if word {
                return None;
            }
            fit.differences.push(CallDifference::new(
                CallPart::Path,
                format!("segment {position}"),
                Some(recorded),
                Some(live),
            ));
        }
        Some(fit)
    }

    /// The query keys, each once.
    pub(super) fn keys(&self) -> BTreeSet<&str> {
        self.query.iter().map(|(key, _)| key.as_str()).collect()
    }

    /// Whether this recorded query matches `live`'s when every recorded
    /// value that [looks redacted](looks_redacted) stands for any value:
    /// each key as often in both, and each of its other values found in
    /// `live` as often as recorded.
    pub(super) fn query_matches_redacted(&self, live: &Self) -> bool {
        if self.query.len() != live.query.len() {
            return false;
        }
        let mut left: Vec<Option<&(String, String)>> = live.query.iter().map(Some).collect();
        // First the values that must be equal, then the wildcards take
        // whatever is left under their key.
        let (wildcards, literal): (Vec<_>, Vec<_>) = self
            .query
            .iter()
            .partition(|(_, value)| looks_redacted(value));
        for (key, value) in literal {
            let Some(slot) = left
                .iter_mut()
                .find(|slot| slot.is_some_and(|(k, v)| k == key && v == value))
            else {
                return false;
            };
            *slot = None;
        }
        for (key, _) in wildcards {
            let Some(slot) = left
                .iter_mut()
                .find(|slot| slot.is_some_and(|(k, _)| k == key))
            else {
                return false;
            };
            *slot = None;
        }
        true
    }

    /// The query as `a=1&b=2`, in its sorted, decoded form.
    pub(super) fn query_text(&self) -> String {
        let pairs: Vec<String> = self
            .query
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        pairs.join("&")
    }
}

/// `text` as an origin, in the form the matcher compares origins
/// (`scheme://host[:port]`, scheme and host in lower case, no default
/// port); `None` when it is not one (no scheme or host, or a path, query
/// or fragment after it).
///
/// ```
/// use tracetape::replay::normal_origin;
///
/// assert_eq!(normal_origin("HTTP://Pricing:80/").as_deref(), Some("http://pricing"));
/// assert_eq!(normal_origin("http://127.0.0.1:9000").as_deref(), Some("http://127.0.0.1:9000"));
/// assert_eq!(normal_origin("http://pricing/quote"), None);
/// assert_eq!(normal_origin("pricing:9000"), None);
/// ```
pub fn normal_origin(text: &str) -> Option<String> {
    if text.contains(['?', '#']) {
        return None;
    }
    let (origin, path) = split_origin(text.strip_suffix('/').unwrap_or(text));
    let host = origin.split_once("://").map_or("", |(_, host)| host);
    (!host.is_empty() && !host.starts_with(':') && path.is_empty()).then_some(origin)
}

/// How a live path lines up with a recorded one ([`NormalUrl::path_fit`]).
#[derive(Debug)]
pub(super) struct PathFit {
    /// Segments equal or [alike](alike_str).
    pub(super) alike: u64,
    /// Segments.
    pub(super) total: u64,
    /// The segments that differ.
    pub(super) differences: Vec<CallDifference>,
}

impl PathFit {
    /// Whether every segment is alike.
    pub(super) fn all_alike(&self) -> bool {
        self.alike == self.total
    }
}

/// The `key=value` pairs of a query or form body, percent-decoded (and
/// `+` read as a space, as forms write it, when `plus_is_space`), sorted
/// by key, then value; a key without `=` has the empty value.
pub(super) fn pairs(text: &str, plus_is_space: bool) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = decoded_pairs(text, plus_is_space).collect();
    pairs.sort();
    pairs
}

/// The normalised origin and the path of a URL without query and
/// fragment; no origin for a relative URL (or a scheme that is not one).
fn split_origin(url: &str) -> (String, &str) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (String::new(), url);
    };
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return (String::new(), url);
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, after)| after);
    let (host, port) = split_port(host_port);
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    let port = match port {
        None | Some("") => String::new(),
        Some(port) => match port.parse::<u16>() {
            Ok(number) if Some(number) == default_port => String::new(),
            Ok(number) => format!(":{number}"),
            Err(_) => format!(":{port}"),
        },
    };
    let origin = format!("{scheme}://{}{port}", host.to_ascii_lowercase());
    (origin, path)
}

/// The host and, after a `:`, the port of an authority; an IPv6 host keeps
/// its brackets.
fn split_port(host_port: &str) -> (&str, Option<&str>) {
    if host_port.starts_with('[') {
        return match host_port.find(']') {
            Some(end) => {
                let (host, rest) = host_port.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => (host_port, None),
        };
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(url: &NormalUrl) -> Vec<(&str, &str)> {
        url.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn origins_are_normalised() {
        for (url, origin) in [
            ("http://Inventory.Internal/x", "http://inventory.internal"),
            ("HTTP://inventory:80/x", "http://inventory"),
            ("https://inventory:443/x", "https://inventory"),
            ("https://inventory:80/x", "https://inventory:80"),
            ("http://inventory:08080/x", "http://inventory:8080"),
            ("http://user:pw@inventory:8080/x", "http://inventory:8080"),
            ("http://[::1]:80/x", "http://[::1]"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://inventory:/x", "http://inventory"),
            ("http://inventory:abc/x", "http://inventory:abc"),
            ("/relative?x=1", ""),
            ("not a url", ""),
        ] {
            assert_eq!(NormalUrl::parse(url).origin, origin, "{url}");
        }
    }

    #[test]
    fn paths_are_kept_and_queries_sorted_and_decoded() {
        let url = NormalUrl::parse("http://h/Items/%7Bid%7D?b=2&a=%20x&b=1&&flag#frag?c=3");
        assert_eq!(url.path, "/Items/%7Bid%7D");
        assert_eq!(
            pairs(&url),
            [("a", " x"), ("b", "1"), ("b", "2"), ("flag", "")]
        );
        assert_eq!(url.query_text(), "a= x&b=1&b=2&flag=");
        assert_eq!(NormalUrl::parse("http://h").path, "/");
        assert_eq!(NormalUrl::parse("http://h?x=1").path, "/");
        assert_eq!(NormalUrl::parse("/p?next=http://o/x").path, "/p");
        // A broken escape is kept as written.
        assert_eq!(
            pairs(&NormalUrl::parse("/p?a=%zz%+1%4")),
            [("a", "%zz%+1%4")]
        );
        assert_eq!(
            NormalUrl::parse("http://h/p?a=1&b=2"),
            NormalUrl::parse("http://H:80/p?b=2&a=1#top")
        );
    }

    #[test]
    fn redacted_values_stand_for_any_value_under_their_key() {
        let recorded = NormalUrl::parse("/p?key=REDACTED:00&key=1&q=tea");
        assert!(recorded.query_matches_redacted(&NormalUrl::parse("/p?key=1&key=s3cret&q=tea")));
        assert!(recorded.query_matches_redacted(&NormalUrl::parse("/p?q=tea&key=0&key=1")));
        // The literal value must still be there, and the counts agree.
        assert!(!recorded.query_matches_redacted(&NormalUrl::parse("/p?key=2&key=3&q=tea")));
        assert!(!recorded.query_matches_redacted(&NormalUrl::parse("/p?key=1&q=tea")));
        assert!(!recorded.query_matches_redacted(&NormalUrl::parse("/p?key=1&other=x&q=tea")));
        assert!(!recorded.query_matches_redacted(&NormalUrl::parse("/p?key=1&key=x&q=coffee")));
    }
}
