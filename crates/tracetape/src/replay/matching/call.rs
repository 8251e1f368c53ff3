//! A live outbound call, and the short form calls are named by in logs
//! and errors.

use std::fmt;

use bytes::Bytes;
use opentelemetry::trace::SpanId;
use serde::Serialize;

use crate::record::{BodyRecord, Exchange, ExchangeKind, HeaderRecord, Redactor, RequestRecord};

/// An outbound call the service makes during replay, to be answered from
/// a recording: the request as the client sends it.
///
/// ```
/// use bytes::Bytes;
/// use tracetape::record::HeaderRecord;
/// use tracetape::replay::matching::LiveCall;
///
/// let call = LiveCall::new("POST", "http://pricing:9090/quote?currency=EUR")
///     .with_headers(vec![HeaderRecord {
///         name: "content-type".to_owned(),
///         value: Bytes::from_static(b"application/json"),
///     }])
///     .with_body(r#"{"sku":"tea","qty":2}"#)
///     .with_route("/quote");
/// assert_eq!(call.method, "POST");
/// assert_eq!(call.route.as_deref(), Some("/quote"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveCall {
    /// The method, as sent.
    pub method: String,
    /// The full URL, as sent.
    pub url: String,
    /// The headers, in order, names in lower case. They are redacted with
    /// the rest but never compared.
    pub headers: Vec<HeaderRecord>,
    /// The whole body, as sent: still encoded when a `content-encoding`
    /// header says so (the matcher decodes it before comparing).
    pub body: Bytes,
    /// The call's URL template (a client `UrlTemplate`), when it has one:
    /// redaction rules limited to routes look at it, as they did when the
    /// call was recorded.
    pub route: Option<String>,
}

impl LiveCall {
    /// A call without headers, body or template.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            route: None,
        }
    }

    /// Sets the headers.
    #[must_use]
    pub fn with_headers(mut self, headers: Vec<HeaderRecord>) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the URL template.
    #[must_use]
    pub fn with_route(mut self, route: impl Into<String>) -> Self {
        self.route = Some(route.into());
        self
    }

    /// The request as a recording of it would hold it: redacted by the
    /// rules and key the recordings were written with, so that a secret
    /// hashes as it did then. `false` when a drop rule matches the call:
    /// recordings never hold calls like it.
    pub(super) fn redacted(&self, redactor: &Redactor) -> (RequestRecord, bool) {
        let mut exchange = Exchange {
            kind: ExchangeKind::Client,
            span_id: SpanId::INVALID,
            parent_span_id: SpanId::INVALID,
            name: self.method.clone(),
            route: self.route.clone(),
            start_unix_nanos: 0,
            end_unix_nanos: 0,
            request: RequestRecord {
                method: self.method.clone(),
                url: self.url.clone(),
                headers: self.headers.clone(),
                body: BodyRecord {
                    bytes: self.body.clone(),
                    truncated: false,
                    size: self.body.len() as u64,
                },
            },
            response: None,
            error: None,
        };
        let kept = redactor.redact_exchange(&mut exchange);
        (exchange.request, kept)
    }
}

/// A call as logs and errors name it: its method and URL, secrets
/// redacted. Shown as `GET http://inventory/stock/tea`.
///
/// ```
/// use tracetape::replay::matching::CallSummary;
///
/// let call = CallSummary::new("GET", "http://inventory/stock/tea");
/// assert_eq!(call.to_string(), "GET http://inventory/stock/tea");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSummary {
    /// The method.
    pub method: String,
    /// The URL, redacted as recordings are.
    pub url: String,
}

impl CallSummary {
    /// A summary of `method` and `url`, taken as they are.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
        }
    }

    pub(super) fn of(request: &RequestRecord) -> Self {
        Self::new(request.method.clone(), request.url.clone())
    }
}

impl fmt::Display for CallSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}
