//! Opt-in header capture: `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*` name
//! the headers to record as `http.{request,response}.header.<name>` string
//! arrays; `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS` names
//! those whose values are replaced by `[REDACTED]`.

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

const SANITIZE_VAR: &str = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS";

/// Which headers to capture on one side of one direction.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderCapture {
    /// (header name, attribute key), names lower-cased.
    headers: Vec<(http::HeaderName, Key)>,
    sanitize: Vec<String>,
}

impl HeaderCapture {
    /// Reads the list from `var` and the sanitise list.
    pub(crate) fn from_env(var: &str, prefix: &'static str) -> Self {
        Self::from_lookup(var, prefix, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read by `lookup`.
    pub(crate) fn from_lookup(
        var: &str,
        prefix: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let names = lookup(var).unwrap_or_default();
        let sanitize = lookup(SANITIZE_VAR).unwrap_or_default();
        Self::new(names.split(','), sanitize.split(','), prefix)
    }

    /// Captures `names` as `{prefix}.<name>`; values of names listed in
    /// `sanitize` (case-insensitive) are recorded as `[REDACTED]`. Names that
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
                (name, key)
            })
            .collect();
        let sanitize = sanitize
            .into_iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        Self { headers, sanitize }
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
        for (name, key) in &self.headers {
            let mut values = headers.get_all(name).iter().peekable();
            if values.peek().is_none() {
                continue;
            }
            let redact = self.sanitize.iter().any(|s| s == name.as_str());
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
