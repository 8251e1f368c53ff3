//! Opt-in header capture: `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*` name
//! the headers to record as `http.{request,response}.header.<name>` string
//! arrays; `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS` names
//! those whose values are replaced by `[REDACTED]`, besides the credential
//! headers ([`SANITIZED_HEADERS`]), which are always replaced unless
//! `TRACETAPE_CAPTURE_HEADERS_SAFE` (or `with_safe_headers` in code) lists
//! them.

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

const SANITIZE_VAR: &str = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS";
/// Credential headers whose values may be captured as they are.
pub(crate) const SAFE_VAR: &str = "TRACETAPE_CAPTURE_HEADERS_SAFE";

/// The headers that carry credentials, in lower case: their captured
/// values are `[REDACTED]` unless listed as safe, and recordings keep only
/// their keyed hash (`record::DEFAULT_HEADERS`). Listed in
/// `docs/security.md`.
pub(crate) const SANITIZED_HEADERS: [&str; 10] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-amz-security-token",
    "x-goog-api-key",
];

/// Which headers to capture on one side of one direction.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderCapture {
    /// (header name, attribute key, whether its value is hidden), names
    /// lower-cased.
    headers: Vec<(http::HeaderName, Key, bool)>,
    sanitize: Vec<String>,
    /// Credential headers the user said may be captured as they are.
    safe: Vec<String>,
}

impl HeaderCapture {
    /// Reads the list from `var`, the sanitise list and the safe list,
    /// each with `lookup`.
    pub(crate) fn from_lookup(
        var: &str,
        prefix: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let names = lookup(var).unwrap_or_default();
        let sanitize = lookup(SANITIZE_VAR).unwrap_or_default();
        let safe = lookup(SAFE_VAR).unwrap_or_default();
        Self::new(names.split(','), sanitize.split(','), prefix).with_safe(safe.split(','))
    }

    /// Captures `names` as `{prefix}.<name>`; values of names listed in
    /// `sanitize` (case-insensitive), and of the credential headers
    /// ([`SANITIZED_HEADERS`]), are recorded as `[REDACTED]`. Names that
    /// are not valid header names are ignored.
    pub(crate) fn new<'a>(
        names: impl IntoIterator<Item = &'a str>,
        sanitize: impl IntoIterator<Item = &'a str>,
        prefix: &'static str,
    ) -> Self {
        let headers = names
            .into_iter()
            .filter_map(|n| http::HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .map(|name| {
                let key = Key::from(format!("{prefix}.{}", name.as_str()));
                (name, key, false)
            })
            .collect();
        let sanitize = lower_case(sanitize);
        Self {
            headers,
            sanitize,
            safe: Vec::new(),
        }
        .decided()
    }

    /// The same, but the credential headers among `safe` (any case) are
    /// captured as they are, unless `sanitize` names them too.
    pub(crate) fn with_safe<'a>(mut self, safe: impl IntoIterator<Item = &'a str>) -> Self {
        self.safe = lower_case(safe);
        self.decided()
    }

    /// The same headers, sanitised and safe as in `other`.
    pub(crate) fn with_safe_of(self, other: &Self) -> Self {
        self.with_safe(other.safe.iter().map(String::as_str))
    }

    /// Decides once which headers are hidden.
    fn decided(mut self) -> Self {
        for (name, _, hidden) in &mut self.headers {
            let name = name.as_str();
            *hidden = self.sanitize.iter().any(|s| s == name)
                || (SANITIZED_HEADERS.contains(&name) && !self.safe.iter().any(|s| s == name));
        }
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// How many headers are configured: the most attributes
    /// [`capture`](Self::capture) appends.
    pub(crate) fn len(&self) -> usize {
        self.headers.len()
    }

    /// Appends one attribute per configured header present in `headers`.
    pub(crate) fn capture(&self, headers: &http::HeaderMap, out: &mut Vec<KeyValue>) {
        for (name, key, redact) in &self.headers {
            let redact = *redact;
            let mut values = headers.get_all(name).iter().peekable();
            if values.peek().is_none() {
                continue;
            }
            let values: Vec<StringValue> = values
                .map(|v| {
                    if redact {
                        StringValue::from("[REDACTED]")
                    } else {
                        StringValue::from(String::from_utf8_lossy(v.as_bytes()).into_owned())
                    }
                })
                .collect();
            out.push(KeyValue::new(
                key.clone(),
                Value::Array(Array::String(values)),
            ));
        }
    }
}

/// Trimmed, lower-cased, empty ones left out.
fn lower_case<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_come_from_the_capture_and_sanitize_variables() {
        let capture = HeaderCapture::from_lookup(
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
            "http.request.header",
            |name| match name {
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST" => {
                    Some(" X-Tenant , cookie,".to_owned())
                }
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS" => {
                    Some("Cookie".to_owned())
                }
                _ => None,
            },
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("x-tenant", http::HeaderValue::from_static("acme"));
        headers.insert("cookie", http::HeaderValue::from_static("session=1"));
        let mut out = Vec::new();
        capture.capture(&headers, &mut out);
        let rendered: Vec<_> = out
            .iter()
            .map(|kv| format!("{}={}", kv.key.as_str(), kv.value))
            .collect();
        assert_eq!(
            rendered,
            [
                "http.request.header.x-tenant=[\"acme\"]",
                "http.request.header.cookie=[\"[REDACTED]\"]"
            ]
        );
        let none = HeaderCapture::from_lookup("X", "p", |_| None);
        assert!(none.is_empty());
    }

    // Capturing `authorization` without also naming it in the sanitise
    // list once exported the bearer token as it was.
    #[test]
    fn credential_headers_are_hidden_unless_listed_as_safe() {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer s3cret"),
            ("cookie", "session=s3cret"),
            ("x-api-key", "k3y"),
            ("x-tenant", "acme"),
        ] {
            headers.insert(name, http::HeaderValue::from_static(value));
        }
        let render = |capture: &HeaderCapture| {
            let mut out = Vec::new();
            capture.capture(&headers, &mut out);
            out.iter()
                .map(|kv| format!("{}={}", kv.key.as_str(), kv.value))
                .collect::<Vec<_>>()
        };
        let names = ["Authorization", "cookie", "X-Api-Key", "x-tenant"];
        let capture = HeaderCapture::new(names, [], "h");
        assert_eq!(
            render(&capture),
            [
                "h.authorization=[\"[REDACTED]\"]",
                "h.cookie=[\"[REDACTED]\"]",
                "h.x-api-key=[\"[REDACTED]\"]",
                "h.x-tenant=[\"acme\"]"
            ]
        );
        let safe = capture.clone().with_safe([" X-API-KEY "]);
        assert_eq!(render(&safe)[2], "h.x-api-key=[\"k3y\"]");
        assert_eq!(render(&safe)[0], "h.authorization=[\"[REDACTED]\"]");
        // Named to be sanitised as well: sanitised.
        let both = HeaderCapture::new(names, ["x-api-key"], "h").with_safe(["x-api-key"]);
        assert_eq!(render(&both)[2], "h.x-api-key=[\"[REDACTED]\"]");
        // A list replaced in code keeps what was said safe.
        let replaced = HeaderCapture::new(names, [], "h").with_safe_of(&safe);
        assert_eq!(render(&replaced)[2], "h.x-api-key=[\"k3y\"]");
        let from_env = HeaderCapture::from_lookup("LIST", "h", |name| match name {
            "LIST" => Some("cookie,x-api-key".to_owned()),
            SAFE_VAR => Some("cookie".to_owned()),
            _ => None,
        });
        assert_eq!(
            render(&from_env),
            [
                "h.cookie=[\"session=s3cret\"]",
                "h.x-api-key=[\"[REDACTED]\"]"
            ]
        );
    }

    #[test]
    fn listed_headers_become_arrays_and_sanitised_ones_are_hidden() {
        let capture = HeaderCapture::new(
            ["X-Custom", "authorization", "not a header", "absent"],
            ["Authorization"],
            "http.request.header",
        );
        let mut headers = http::HeaderMap::new();
        headers.append("x-custom", http::HeaderValue::from_static("a"));
        headers.append("x-custom", http::HeaderValue::from_static("b"));
        headers.append(
            "authorization",
            http::HeaderValue::from_static("Bearer s3cret"),
        );
        let mut out = Vec::new();
        capture.capture(&headers, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].key.as_str(), "http.request.header.x-custom");
        assert_eq!(
            out[0].value,
            Value::Array(Array::String(vec!["a".into(), "b".into()]))
        );
        assert_eq!(out[1].key.as_str(), "http.request.header.authorization");
        assert_eq!(
            out[1].value,
            Value::Array(Array::String(vec!["[REDACTED]".into()]))
        );
    }
}
