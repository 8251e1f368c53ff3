//! From `http` types to records: headers byte for byte, and the request
//! and response heads around a captured body.

use bytes::Bytes;
use http::{HeaderMap, request, response};

use super::{BodyRecord, ExchangeKind, HeaderRecord, RequestRecord, ResponseRecord};

/// The headers of `headers`, one record per value. Names come out
/// lower-case (as `http` keeps them) and values as their raw bytes, UTF-8
/// or not.
///
/// The order is the map's: names in the order they were first inserted,
/// and all the values of a name together, in the order they were added. A
/// [`HeaderMap`] does not remember how different names were interleaved on
/// the wire, so neither can this.
pub(crate) fn header_records(headers: &HeaderMap) -> Vec<HeaderRecord> {
    headers
        .iter()
        .map(|(name, value)| HeaderRecord {
            name: name.as_str().to_owned(),
            value: Bytes::copy_from_slice(value.as_bytes()),
        })
        .collect()
}

/// The record of a request head and its captured body. An inbound
/// ([`ExchangeKind::Server`]) request keeps the path and query only; an
/// outbound one keeps the URL as given.
pub(crate) fn request_record(
    parts: &request::Parts,
    kind: ExchangeKind,
    body: BodyRecord,
) -> RequestRecord {
    let url = match kind {
        ExchangeKind::Server => parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |path| path.as_str().to_owned()),
        ExchangeKind::Client | ExchangeKind::Database => parts.uri.to_string(),
    };
    RequestRecord {
        method: parts.method.as_str().to_owned(),
        url,
        headers: header_records(&parts.headers),
        body,
    }
}

/// The record of a response head and its captured body.
pub(crate) fn response_record(parts: &response::Parts, body: BodyRecord) -> ResponseRecord {
    ResponseRecord {
        status: parts.status.as_u16(),
        headers: header_records(&parts.headers),
        body,
        trailers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use http::{HeaderValue, Method, Request, Response, StatusCode, header};

    use super::*;
    use crate::record::testing::header;

    fn body(bytes: &'static [u8]) -> BodyRecord {
        BodyRecord {
            bytes: Bytes::from_static(bytes),
            truncated: false,
            size: bytes.len() as u64,
        }
    }

    #[test]
    fn headers_keep_repeats_order_and_raw_bytes() {
        let mut map = HeaderMap::new();
        map.append("X-Tag", HeaderValue::from_static("first"));
        map.append(header::ACCEPT, HeaderValue::from_static("*/*"));
        map.append(
            "x-raw",
            HeaderValue::from_bytes(b"\xff\xfe caf\xc3").unwrap(),
        );
        map.append("x-tag", HeaderValue::from_static("second"));
        map.append("x-tag", HeaderValue::from_static("third"));

        assert_eq!(
            header_records(&map),
            [
                header("x-tag", b"first"),
                header("x-tag", b"second"),
                header("x-tag", b"third"),
                header("accept", b"*/*"),
                header("x-raw", b"\xff\xfe caf\xc3"),
            ]
        );
        assert!(header_records(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn inbound_request_keeps_path_and_query() {
        let (parts, ()) = Request::builder()
            .method(Method::POST)
            .uri("http://shop.example:8080/orders/7?dry_run&tag=a%20b")
            .header("Content-Type", "application/json")
            .body(())
            .unwrap()
            .into_parts();
        let record = request_record(&parts, ExchangeKind::Server, body(b"{}"));
        assert_eq!(
            record,
            RequestRecord {
                method: "POST".to_owned(),
                url: "/orders/7?dry_run&tag=a%20b".to_owned(),
                headers: vec![header("content-type", b"application/json")],
                body: body(b"{}"),
            }
        );
    }

    #[test]
    fn outbound_request_keeps_the_full_url_and_extension_methods() {
        let (parts, ()) = Request::builder()
            .method(Method::from_bytes(b"PURGE").unwrap())
            .uri("http://cache:9000/items?id=3")
            .body(())
            .unwrap()
            .into_parts();
        let record = request_record(&parts, ExchangeKind::Client, BodyRecord::default());
        assert_eq!(record.method, "PURGE");
        assert_eq!(record.url, "http://cache:9000/items?id=3");
        assert!(record.headers.is_empty());
    }

    #[test]
    fn response_keeps_status_headers_and_body() {
        let (parts, ()) = Response::builder()
            .status(StatusCode::CREATED)
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
            .body(())
            .unwrap()
            .into_parts();
        let truncated = BodyRecord {
            bytes: Bytes::from_static(b"\x1f\x8b"),
            truncated: true,
            size: 4096,
        };
        assert_eq!(
            response_record(&parts, truncated.clone()),
            ResponseRecord {
                status: 201,
                headers: vec![header("set-cookie", b"a=1"), header("set-cookie", b"b=2")],
                body: truncated,
                trailers: Vec::new(),
            }
        );
    }
}
