//! `http.request.method`: the nine standard methods are kept, anything else
//! becomes `_OTHER` with the original in `http.request.method_original`.

/// A request method as the semantic conventions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// One of the methods defined by RFC 9110 and RFC 5789.
    Known(&'static str),
    /// Anything else.
    Other,
}

impl Method {
    pub(crate) fn of(method: &http::Method) -> Self {
        let known = match *method {
            http::Method::GET => "GET",
            http::Method::HEAD => "HEAD",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::DELETE => "DELETE",
            http::Method::CONNECT => "CONNECT",
            http::Method::OPTIONS => "OPTIONS",
            http::Method::TRACE => "TRACE",
            http::Method::PATCH => "PATCH",
            _ => return Method::Other,
        };
        Method::Known(known)
    }

    /// The value of `http.request.method`.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Method::Known(name) => name,
            Method::Other => "_OTHER",
        }
    }

    /// The method as it starts a span name: `HTTP` for unknown methods.
    pub(crate) fn span_name(self) -> &'static str {
        match self {
            Method::Known(name) => name,
            Method::Other => "HTTP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_are_kept_and_others_folded() {
        assert_eq!(Method::of(&http::Method::PATCH).attribute(), "PATCH");
        let odd = http::Method::from_bytes(b"PURGE").unwrap_or(http::Method::GET);
        assert_eq!(Method::of(&odd), Method::Other);
        assert_eq!(Method::of(&odd).attribute(), "_OTHER");
        assert_eq!(Method::of(&odd).span_name(), "HTTP");
        // Methods are case-sensitive: `get` is not `GET`.
        let lower = http::Method::from_bytes(b"get").unwrap_or(http::Method::POST);
        assert_eq!(Method::of(&lower), Method::Other);
    }
}
