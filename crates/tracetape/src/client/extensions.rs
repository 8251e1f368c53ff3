//! Request extensions a caller sets to tell the client layers what the
//! request alone does not say.

use std::borrow::Cow;

/// The URL template of a request (`/users/{id}`): names the span
/// `{method} {template}` and sets `url.template`.
///
/// Insert it into the request's extensions: with `reqwest-middleware`
/// through `RequestBuilder::with_extension`, with a tower client through
/// `http::Request::extensions_mut`.
///
/// ```
/// use tracetape::client::UrlTemplate;
///
/// let mut request = http::Request::get("http://inventory.internal/items/42")
///     .body(())
///     .unwrap_or_default();
/// request.extensions_mut().insert(UrlTemplate::new("/items/{id}"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(pub Cow<'static, str>);

impl UrlTemplate {
    /// A template such as `/items/{id}`.
    pub fn new(template: impl Into<Cow<'static, str>>) -> Self {
        Self(template.into())
    }
}

/// The number of times this request has been sent before (retries and
/// redirects), recorded as `http.request.resend_count` when above zero.
///
/// The layers count resends by themselves where they can see them (see
/// [`CountResendsLayer`](super::CountResendsLayer) and the reqwest
/// middleware); set this to count them yourself, for example from a
/// hand-written retry loop. A value set here wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendCount(pub u32);
