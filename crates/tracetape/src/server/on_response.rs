//! The hook called when the inner service has produced its response.

use http::Response;
use opentelemetry::trace::SpanRef;

/// Called with each response of a traced request and its SERVER span, before
/// the status attributes are recorded. The body has not been sent yet.
///
/// Implemented for `()` (does nothing) and for closures:
///
/// ```
/// use opentelemetry::KeyValue;
/// use tracetape::server::TraceLayer;
///
/// let layer = TraceLayer::new().with_on_response(
///     |response: &http::Response<axum::body::Body>, span: &opentelemetry::trace::SpanRef<'_>| {
///         if let Some(kind) = response.headers().get("content-type").and_then(|v| v.to_str().ok()) {
///             span.set_attribute(KeyValue::new("app.content_type", kind.to_owned()));
///         }
///     },
/// );
/// # let _ = layer;
/// ```
///
/// A hook that panics is caught: the panic is reported once on standard
/// error and the response is sent as if the hook had returned.
pub trait OnResponse<B> {
    /// Inspects `response`; `span` is the request's SERVER span.
    fn on_response(&self, response: &Response<B>, span: &SpanRef<'_>);
}

impl<B> OnResponse<B> for () {
    #[inline]
    fn on_response(&self, _: &Response<B>, _: &SpanRef<'_>) {}
}

impl<B, F> OnResponse<B> for F
where
    F: Fn(&Response<B>, &SpanRef<'_>),
{
    fn on_response(&self, response: &Response<B>, span: &SpanRef<'_>) {
        self(response, span)
    }
}
