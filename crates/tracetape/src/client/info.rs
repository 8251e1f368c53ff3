//! What hooks and predicates see of an outbound request and its response,
//! the same whichever client made it.

use http::{HeaderMap, Method, StatusCode, Version};

/// An outbound request as the client layers see it before sending.
///
/// ```
/// use tracetape::client::TraceLayer;
///
/// // Leave calls to the metadata service untraced.
/// let layer = TraceLayer::new().with_exclude(|request| request.url.contains("169.254.169.254"));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestInfo<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The full URL as the client will send it (credentials included:
    /// only the span's `url.full` is redacted).
    pub url: &'a str,
    /// The request headers as the caller set them (the trace context is
    /// injected after hooks and predicates have run).
    pub headers: &'a HeaderMap,
    /// The HTTP version the request asks for.
    pub version: Version,
}

/// The head of a response, as the response hook sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ResponseInfo<'a> {
    /// The response status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: &'a HeaderMap,
    /// The HTTP version of the response.
    pub version: Version,
}

/// How an attempt ended, as the response hook sees it: a response (of any
/// status), or the error that prevented one.
pub type Outcome<'a> = Result<ResponseInfo<'a>, &'a (dyn std::error::Error + 'static)>;
