//! Redaction before anything is written. For now the defaults only: the
//! values of the headers that carry credentials become `REDACTED`, and
//! so do the user name, password and signed query values of outbound
//! URLs, as they already are in `url.full`. Configured rules (headers,
//! query keys, JSON paths, with a stable keyed hash so equal secrets still
//! match in replay) come later.

use bytes::Bytes;

use super::{Exchange, ExchangeKind, HeaderRecord, Recording};
use crate::http_attrs::redact_url;

/// Headers whose values are never written, in lower case.
pub(crate) const DEFAULT_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// What a redacted value is written as.
const REDACTED: &str = "REDACTED";

/// `recording` with the default redactions applied.
pub(crate) fn redact(mut recording: Recording) -> Recording {
    for exchange in &mut recording.exchanges {
        redact_exchange(exchange);
    }
    recording
}

fn redact_exchange(exchange: &mut Exchange) {
    redact_headers(&mut exchange.request.headers);
    if let Some(response) = exchange.response.as_mut() {
        redact_headers(&mut response.headers);
    }
    // Inbound URLs are a path and query, without user information; their
    // query is left as the service received it.
    if exchange.kind == ExchangeKind::Client
        && let std::borrow::Cow::Owned(url) = redact_url(&exchange.request.url)
    {
        exchange.request.url = url;
    }
}

fn redact_headers(headers: &mut [HeaderRecord]) {
    for header in headers {
        if DEFAULT_HEADERS.contains(&header.name.as_str()) {
            header.value = Bytes::from_static(REDACTED.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;
    use crate::record::testing::header;
    use crate::record::{BodyRecord, RequestRecord, ResponseRecord};

    fn exchange(kind: ExchangeKind, url: &str) -> Exchange {
        Exchange {
            kind,
            span_id: SpanId::from(1),
            parent_span_id: SpanId::INVALID,
            name: "GET".to_owned(),
            route: None,
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            request: RequestRecord {
                method: "GET".to_owned(),
                url: url.to_owned(),
                headers: vec![
                    header("authorization", "Bearer s3cret-token"),
                    header("x-api-key", "k3y"),
                    header("cookie", "session=abc"),
                    header("accept", "application/json"),
                ],
                body: BodyRecord::default(),
            },
            response: Some(ResponseRecord {
                status: 200,
                headers: vec![header("set-cookie", "session=def"), header("etag", "\"1\"")],
                body: BodyRecord::default(),
            }),
            error: None,
        }
    }

    #[test]
    fn credential_headers_and_url_secrets_are_never_kept() {
        let recording = redact(Recording {
            trace_id: TraceId::from(7),
            service_name: "orders".to_owned(),
            background: false,
            exchanges: vec![
                exchange(ExchangeKind::Server, "/orders?sig=inbound"),
                exchange(
                    ExchangeKind::Client,
                    "https://user:pa55@pay.test/charge?Signature=xyz&id=1",
                ),
            ],
        });
        let written = format!("{recording:?}");
        for secret in [
            "s3cret-token",
            "k3y",
            "session=abc",
            "session=def",
            "pa55",
            "xyz",
        ] {
            assert!(!written.contains(secret), "{secret} was kept");
        }
        let client = &recording.exchanges[1];
        assert_eq!(
            client.request.url,
            "https://REDACTED:REDACTED@pay.test/charge?Signature=REDACTED&id=1"
        );
        assert_eq!(client.request.headers[0].value, "REDACTED");
        assert_eq!(client.request.headers[3].value, "application/json");
        let response = client.response.as_ref().map(|r| &r.headers);
        assert_eq!(
            response.map(|h| h[0].value.clone()),
            Some(Bytes::from("REDACTED"))
        );
        assert_eq!(
            response.map(|h| h[1].value.clone()),
            Some(Bytes::from("\"1\""))
        );
        // The inbound target is kept as the service received it.
        assert_eq!(recording.exchanges[0].request.url, "/orders?sig=inbound");
    }
}
