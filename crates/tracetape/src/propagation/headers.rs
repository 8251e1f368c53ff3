//! Request headers as the propagators read them (the server side) and
//! write them (the client side). Like `opentelemetry_http`'s
//! `HeaderExtractor` and `HeaderInjector`, but the names the W3C and B3
//! propagators use at every request are prepared header names, which the
//! header map does not have to parse and validate each time.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static BAGGAGE: HeaderName = HeaderName::from_static("baggage");
static B3: HeaderName = HeaderName::from_static("b3");
static B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
static B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
static B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
static B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
static B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");

/// Reads propagation fields from a request's headers.
pub(crate) struct RequestHeaders<'a>(pub(crate) &'a HeaderMap);

/// The prepared header name of a propagation field.
fn prepared(key: &str) -> Option<&'static HeaderName> {
    match key {
        "traceparent" => Some(&TRACEPARENT),
        "tracestate" => Some(&TRACESTATE),
        "baggage" => Some(&BAGGAGE),
        "b3" => Some(&B3),
        "x-b3-traceid" => Some(&B3_TRACE_ID),
        "x-b3-spanid" => Some(&B3_SPAN_ID),
        "x-b3-parentspanid" => Some(&B3_PARENT_SPAN_ID),
        "x-b3-sampled" => Some(&B3_SAMPLED),
        "x-b3-flags" => Some(&B3_FLAGS),
        _ => None,
    }
}

impl RequestHeaders<'_> {
    fn first(&self, key: &str) -> Option<&HeaderValue> {
        match prepared(key) {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        }
    }
}

impl Extractor for RequestHeaders<'_> {
    /// The first value of `key`, if it is visible ASCII.
    fn get(&self, key: &str) -> Option<&str> {
        self.first(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    /// Every value of `key` that is visible ASCII; `None` when the header
    /// is absent.
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values = match prepared(key) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(key),
        };
        let mut values = values.iter().peekable();
        values.peek()?;
        Some(values.filter_map(|value| value.to_str().ok()).collect())
    }
}

/// Writes propagation fields into a request's headers, keeping what the
/// caller set: a field the caller also set is replaced (the span being
/// sent must be the parent of what the request carries), except `baggage`,
/// whose entries go in one more header next to the caller's.
pub(crate) struct RequestHeadersMut<'a>(pub(crate) &'a mut HeaderMap);

impl Injector for RequestHeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(value) = HeaderValue::from_str(&value) else {
            return;
        };
        let name = match prepared(key) {
            Some(name) => name.clone(),
            None => match HeaderName::from_bytes(key.as_bytes()) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        if name == BAGGAGE && self.0.contains_key(&BAGGAGE) {
            self.0.append(name, value);
        } else {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_http::HeaderExtractor;

    use super::*;

    #[test]
    fn reads_the_same_as_the_header_extractor() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
            ("baggage", "k=v"),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers.append(
            "baggage",
            HeaderValue::from_bytes(b"\xff").unwrap_or(HeaderValue::from_static("")),
        );
        let ours = RequestHeaders(&headers);
        let theirs = HeaderExtractor(&headers);
        for key in [
            "traceparent",
            "tracestate",
            "baggage",
            "X-B3-TraceId",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-sampled",
            "x-b3-flags",
            "x-b3-parentspanid",
            "b3",
            "absent",
            "not a header name",
        ] {
            assert_eq!(ours.get(key), theirs.get(key), "{key}");
            assert_eq!(ours.get_all(key), theirs.get_all(key), "{key}");
        }
        assert_eq!(ours.keys(), theirs.keys());
    }
}
