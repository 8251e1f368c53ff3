//! `http.request.method`: the nine standard methods are kept, anything else
//! becomes `_OTHER` with the original in `http.request.method_original`.

/// A request method as the semantic conventions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
    /// Anything outside the methods defined by RFC 9110 and RFC 5789.
    Other,
}

impl Method {
    /// Every value, in [`index`](Self::index) order.
    pub(crate) const ALL: [Method; 10] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
        Method::Other,
    ];

    pub(crate) fn of(method: &http::Method) -> Self {
        match *method {
            http::Method::GET => Method::Get,
            http::Method::HEAD => Method::Head,
            http::Method::POST => Method::Post,
            http::Method::PUT => Method::Put,
            http::Method::DELETE => Method::Delete,
            http::Method::CONNECT => Method::Connect,
            http::Method::OPTIONS => Method::Options,
            http::Method::TRACE => Method::Trace,
            http::Method::PATCH => Method::Patch,
            _ => Method::Other,
        }
    }

    /// The position of this method in [`ALL`](Self::ALL), for tables indexed
    /// by method.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The value of `http.request.method`.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other => "_OTHER",
        }
    }

    /// The method as it starts a span name: `HTTP` for unknown methods.
    pub(crate) fn span_name(self) -> &'static str {
        match self {
            Method::Other => "HTTP",
            known => known.attribute(),
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

    #[test]
    fn the_index_is_the_position_in_all() {
        for (i, method) in Method::ALL.into_iter().enumerate() {
            assert_eq!(method.index(), i, "{method:?}");
        }
        let names: Vec<_> = Method::ALL.iter().map(|m| m.attribute()).collect();
        assert_eq!(
            names,
            [
                "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
                "_OTHER"
            ]
        );
    }
}
