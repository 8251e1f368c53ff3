//! The hook called when a request arrives, after its span has started.

use http::Request;
use opentelemetry::trace::SpanRef;

/// Called with each traced request and its SERVER span, before the inner
/// service sees the request. Use it to add attributes of your own.
///
/// Implemented for `()` (does nothing) and for closures:
///
/// ```
/// use opentelemetry::KeyValue;
/// use tracetape::server::TraceLayer;
///
/// let layer = TraceLayer::new().with_on_request(
///     |request: &http::Request<axum::body::Body>, span: &opentelemetry::trace::SpanRef<'_>| {
///         if let Some(tenant) = request.headers().get("x-tenant").and_then(|v| v.to_str().ok()) {
///             span.set_attribute(KeyValue::new("tenant.id", tenant.to_owned()));
///         }
///     },
/// );
/// # let _ = layer;
/// ```
///
/// A hook that panics is caught: the panic is reported once on standard
/// error and the request goes on as if the hook had returned.
pub trait OnRequest<B> {
    /// Inspects `request`; `span` is the request's SERVER span.
    fn on_request(&self, request: &Request<B>, span: &SpanRef<'_>);
}

impl<B> OnRequest<B> for () {
    #[inline]
    fn on_request(&self, _: &Request<B>, _: &SpanRef<'_>) {}
}

impl<B, F> OnRequest<B> for F
where
    F: Fn(&Request<B>, &SpanRef<'_>),
{
    fn on_request(&self, request: &Request<B>, span: &SpanRef<'_>) {
        self(request, span)
    }
}
