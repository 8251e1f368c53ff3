//! One replayed request: rebuilt from the recorded inbound exchange, sent
//! to the service marked with the recording's [`ReplayId`], and its whole
//! response read back with the replay log.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url, redirect};
use tracetape::record::{BodyRecord, HeaderRecord, ResponseRecord};
use tracetape::replay::{
    REPLAY_GROUP_HEADER, REPLAY_HEADER, REPLAY_LOG_HEADER, REPLAY_STATUS, REPLAY_STATUS_HEADER,
    ReplayLog, ReplayStatus,
};

use super::order::Group;
use super::select::Replayable;
use super::shown;
use crate::format::chain;

/// Recorded request headers that are not sent again: those about one
/// connection or one message's framing (the client sets its own), and the
/// trace context, so that each replay starts a fresh trace.
const NOT_SENT: [&str; 12] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "traceparent",
    "tracestate",
    REPLAY_HEADER,
    REPLAY_GROUP_HEADER,
];

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Bytes of a response body kept, at most: the rest is read, counted and
/// dropped, and the body marked truncated, so that a service answering
/// without end (or with gigabytes) cannot exhaust the driver's memory;
/// the comparison then judges what both sides kept.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Sends requests to the service.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: reqwest::Client,
    /// HTTP/2 from the first byte (prior knowledge), for gRPC recordings
    /// and services that speak nothing else (tonic's, by default) over
    /// cleartext; over TLS, `client` agrees on HTTP/2 itself.
    h2c: reqwest::Client,
    base: Url,
    timeout: Duration,
    /// Sent instead of the recorded headers of the same name.
    headers: Arc<[(HeaderName, HeaderValue)]>,
    /// Sent instead of the recorded values of the same query keys.
    query: Arc<[(String, String)]>,
}

/// What the service answered.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The whole response, but for the replay log header.
    pub(crate) response: ResponseRecord,
    /// The replay log header, read; `None` when there was none.
    pub(crate) log: Option<Result<ReplayLog, String>>,
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The recorded request cannot be sent again.
    Unsendable(String),
    /// No whole response within the request timeout.
    Timeout(Duration),
    /// The connection could not be made, or broke.
    Transport(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsendable(why) => f.write_str(why),
            Self::Timeout(timeout) => write!(
                f,
                "no whole response within {} (request_timeout)",
                humane(*timeout)
            ),
            Self::Transport(why) => write!(f, "the request failed: {why}"),
        }
    }
}

/// `30s`, `1.5s`, `250ms`.
pub(crate) fn humane(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

impl Sender {
    /// A sender to the service at `base` that gives up on a request after
    /// `timeout`. It follows no redirects and decodes no bodies: what the
    /// service answers is compared as it is. An https service's
    /// certificate is verified against the platform's roots, unless
    /// `insecure`.
    pub(crate) fn new(base: Url, timeout: Duration, insecure: bool) -> anyhow::Result<Self> {
        let builder = || {
            reqwest::Client::builder()
                .tls_danger_accept_invalid_certs(insecure)
                .redirect(redirect::Policy::none())
                .no_proxy()
                .no_gzip()
                .no_brotli()
                .no_deflate()
                .no_zstd()
        };
        let client = builder()
            .build()
            .context("failed to set up the HTTP client")?;
        let h2c = builder()
            .http2_prior_knowledge()
            .build()
            .context("failed to set up the HTTP/2 client")?;
        Ok(Self {
            client,
            h2c,
            base,
            timeout,
            headers: Arc::new([]),
            query: Arc::new([]),
        })
    }

    /// Sends `headers` with every request instead of the recorded headers
    /// of the same names.
    pub(crate) fn with_headers(mut self, headers: &[(HeaderName, HeaderValue)]) -> Self {
        self.headers = headers.into();
        self
    }

    /// Sends `query`'s values for the keys of each request's query instead
    /// of the recorded ones.
    pub(crate) fn with_query(mut self, query: &[(String, String)]) -> Self {
        self.query = query.into();
        self
    }

    /// The service's base URL.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The base URL followed by `target`, the recorded path and query.
    pub(crate) fn url(&self, target: &str) -> Result<Url, String> {
        // An absolute-form target keeps its path and query.
        let target = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
            None => target,
        };
        if !target.starts_with('/') {
            return Err(format!("the recorded target {target:?} is not a path"));
        }
        let url = format!("{}{target}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&url).map_err(|err| {
            let url = shown::scrub(&url);
            format!("the recorded target makes no URL ({url}): {err}")
        })
    }

    /// Sends `replayable`'s request again and reads the whole response.
    pub(crate) async fn replay(
        &self,
        replayable: &Replayable,
        group: Option<Group>,
    ) -> Result<Reply, SendError> {
        let mut request = self.request(replayable).map_err(SendError::Unsendable)?;
        if let Some(group) = group.and_then(|group| HeaderValue::try_from(group.to_string()).ok()) {
            request.headers_mut().insert(REPLAY_GROUP_HEADER, group);
        }
        let client = if tracetape::grpc::is_grpc(request.headers()) && self.base.scheme() == "http"
        {
            &self.h2c
        } else {
            &self.client
        };
        let exchange = async {
            let response = client.execute(request).await.map_err(transport)?;
            let status = response.status().as_u16();
            let mut log = None;
            let mut headers = Vec::with_capacity(response.headers().len());
            for (name, value) in response.headers() {
                if name == REPLAY_LOG_HEADER {
                    log = Some(ReplayLog::from_json(value.as_bytes()).map_err(|err| {
                        format!("the {REPLAY_LOG_HEADER} header cannot be read: {err}")
                    }));
                } else {
                    headers.push(HeaderRecord {
                        name: name.as_str().to_owned(),
                        value: value.as_bytes().to_vec().into(),
                    });
                }
            }
            let (body, trailers) = read_body(response, MAX_RESPONSE_BYTES).await?;
            Ok(Reply {
                response: ResponseRecord {
                    status,
                    headers,
                    body,
                    trailers,
                },
                log,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout(self.timeout))?
    }

    /// The request `replayable` recorded, addressed to the service.
    fn request(&self, replayable: &Replayable) -> Result<reqwest::Request, String> {
        let inbound = replayable
            .inbound()
            .ok_or("the recording has no inbound request")?;
        let recorded = &inbound.request;
        let method = Method::from_bytes(recorded.method.as_bytes())
            .map_err(|_| format!("the recorded method {:?} is not valid", recorded.method))?;
        let mut url = self.url(&recorded.url)?;
        if let Some(query) = url
            .query()
            .and_then(|query| super::query::replace(query, &self.query))
        {
            url.set_query(Some(&query));
        }
        if recorded.body.truncated {
            return Err(format!(
                "the recording kept {} of the {} bytes of the request body \
                 (TRACETAPE_RECORD_MAX_BODY_BYTES, or a body redaction could not read), so the \
                 request cannot be sent again",
                recorded.body.bytes.len(),
                recorded.body.size
            ));
        }
        let mut headers = HeaderMap::with_capacity(recorded.headers.len() + 1);
        for header in &recorded.headers {
            if NOT_SENT
                .iter()
                .any(|name| header.name.eq_ignore_ascii_case(name))
            {
                continue;
            }
            let name = HeaderName::from_bytes(header.name.as_bytes());
            let value = HeaderValue::from_bytes(&header.value);
            let (Ok(name), Ok(value)) = (name, value) else {
                return Err(format!(
                    "the recorded header {:?} cannot be sent again",
                    header.name
                ));
            };
            headers.append(name, value);
        }
        // gRPC servers may require `te: trailers`, the one value HTTP/2
        // allows (the recorded one is left out with the other
        // per-connection headers).
        if tracetape::grpc::is_grpc(&headers) {
            headers.insert(reqwest::header::TE, HeaderValue::from_static("trailers"));
        }
        let id = HeaderValue::from_str(&replayable.id.to_string())
            .map_err(|_| "the replay id is not a header value".to_owned())?;
        headers.insert(REPLAY_HEADER, id);
        for (name, value) in self.headers.iter() {
            headers.insert(name.clone(), value.clone());
        }
        let mut request = reqwest::Request::new(method, url);
        *request.headers_mut() = headers;
        *request.body_mut() = Some(recorded.body.bytes.clone().into());
        Ok(request)
    }

    /// The replay's status, as the service's server layer tells it: the
    /// calls made outside the replayed requests and after their
    /// responses. An error when the service does not say (it is not
    /// replaying, or the layer does not wrap `/`).
    pub(crate) async fn status(&self) -> Result<ReplayStatus, String> {
        let url = self.url("/")?;
        let response = self
            .get(url, |request| request.header(REPLAY_HEADER, REPLAY_STATUS))
            .await
            .map_err(|err| shown::scrub(&chain(&err)).into_owned())?;
        let header = response
            .headers()
            .get(REPLAY_STATUS_HEADER)
            .ok_or_else(|| format!("the service's answer has no {REPLAY_STATUS_HEADER} header"))?;
        ReplayStatus::from_json(header.as_bytes())
            .map_err(|err| format!("its {REPLAY_STATUS_HEADER} header cannot be read: {err}"))
    }

    /// A GET of `url`, as `build` finishes it, within the probe timeout:
    /// over HTTP/1.1, then, when that fails on a cleartext service, over
    /// HTTP/2 from the first byte (a tonic server speaks nothing else).
    async fn get(
        &self,
        url: Url,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let send =
            |client: &reqwest::Client| build(client.get(url.clone()).timeout(PROBE_TIMEOUT)).send();
        match send(&self.client).await {
            Err(error) if url.scheme() == "http" => send(&self.h2c).await.map_err(|_| error),
            answered => answered,
        }
    }

    /// The status a GET of `path` answers with.
    pub(crate) async fn probe(&self, path: &str) -> Result<StatusCode, ProbeError> {
        let url = self.url(path).map_err(ProbeError::Failed)?;
        let response = self.get(url, |request| request).await.map_err(|err| {
            let text = explain(&err);
            if refused_certificate(&text) {
                ProbeError::Certificate(text)
            } else {
                ProbeError::Failed(text)
            }
        })?;
        Ok(response.status())
    }
}

/// The body of `response`: its first `limit` bytes, and its whole size;
/// and the trailers that followed it (a gRPC call's status).
async fn read_body(
    response: reqwest::Response,
    limit: usize,
) -> Result<(BodyRecord, Vec<HeaderRecord>), SendError> {
    use http_body_util::BodyExt as _;

    let mut body = reqwest::Body::from(response);
    let mut kept = Vec::new();
    let mut size: u64 = 0;
    let mut trailers = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(transport)?;
        if let Some(chunk) = frame.data_ref() {
            size += chunk.len() as u64;
            let room = limit.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        } else if let Some(fields) = frame.trailers_ref() {
            trailers.extend(fields.iter().map(|(name, value)| HeaderRecord {
                name: name.as_str().to_owned(),
                value: value.as_bytes().to_vec().into(),
            }));
        }
    }
    let body = BodyRecord {
        truncated: size > kept.len() as u64,
        bytes: kept.into(),
        size,
    };
    Ok((body, trailers))
}

/// Why a readiness probe got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeError {
    /// The service's TLS certificate was refused: asking again will not
    /// help.
    Certificate(String),
    /// Anything else (not listening yet, say).
    Failed(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate(why) | Self::Failed(why) => f.write_str(why),
        }
    }
}

fn transport(err: reqwest::Error) -> SendError {
    SendError::Transport(explain(&err))
}

/// The error's chain, with what to do when it is the service's
/// certificate that was refused.
fn explain(err: &reqwest::Error) -> String {
    let text = shown::scrub(&chain(err)).into_owned();
    if refused_certificate(&text) {
        format!(
            "{text} (for a self-signed certificate, or one signed by a CA this machine does \
             not trust, add --insecure)"
        )
    } else {
        text
    }
}

/// Whether rustls refused the service's certificate. reqwest does not
/// expose the TLS error's type, so it is told by rustls's message
/// (`invalid peer certificate: ...`).
fn refused_certificate(chain: &str) -> bool {
    chain.contains("invalid peer certificate")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sender(base: &str) -> Sender {
        Sender::new(Url::parse(base).unwrap(), Duration::from_secs(1), false).unwrap()
    }

    /// A response larger than the limit keeps the limit's bytes and its
    /// whole size, marked truncated; a smaller one is kept whole.
    #[tokio::test]
    async fn a_response_body_is_kept_up_to_the_limit() {
        let app = axum::Router::new()
            .route("/big", axum::routing::get(|| async { "b".repeat(10_000) }))
            .route("/small", axum::routing::get(|| async { "small" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(format!("http://{addr}{path}")).send();

        let (big, trailers) = read_body(get("/big").await.unwrap(), 1000).await.unwrap();
        assert!(trailers.is_empty());
        assert_eq!(
            (big.bytes.len(), big.size, big.truncated),
            (1000, 10_000, true)
        );
        assert!(big.bytes.iter().all(|&b| b == b'b'));

        let (small, _) = read_body(get("/small").await.unwrap(), 1000).await.unwrap();
        assert_eq!(
            (&small.bytes[..], small.size, small.truncated),
            (&b"small"[..], 5, false)
        );
    }

    #[test]
    fn targets_are_appended_to_the_base_url() {
        let plain = sender("http://127.0.0.1:8081");
        assert_eq!(
            plain.url("/orders/7?x=1&y=%20").unwrap().as_str(),
            "http://127.0.0.1:8081/orders/7?x=1&y=%20"
        );
        let prefixed = sender("http://localhost:9000/api/");
        assert_eq!(
            prefixed.url("/orders").unwrap().as_str(),
            "http://localhost:9000/api/orders"
        );
        assert_eq!(
            plain.url("http://old-host:1/a?b").unwrap().as_str(),
            "http://127.0.0.1:8081/a?b"
        );
        assert!(plain.url("*").unwrap_err().contains("is not a path"));
    }

    #[test]
    fn the_recorded_request_is_sent_again_without_connection_and_trace_headers() {
        let mut replayable = super::super::outcome::tests::replayable("{}");
        let inbound = &mut replayable.recording.exchanges[0].request;
        for (name, value) in [
            ("host", "old-host:8081"),
            ("content-type", "application/json"),
            ("Connection", "keep-alive"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("x-request-id", "r-1"),
            ("x-request-id", "r-2"),
            ("x-tracetape-replay", "stale"),
        ] {
            inbound.headers.push(HeaderRecord {
                name: name.to_owned(),
                value: value.as_bytes().to_vec().into(),
            });
        }
        inbound.body = BodyRecord {
            bytes: b"{\"id\":1}".to_vec().into(),
            truncated: false,
            size: 8,
        };
        let request = sender("http://127.0.0.1:9").request(&replayable).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.url().as_str(), "http://127.0.0.1:9/orders?dry=1");
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-request-id".to_owned(), "r-1".to_owned()),
                ("x-request-id".to_owned(), "r-2".to_owned()),
                (REPLAY_HEADER.to_owned(), replayable.id.to_string()),
            ]
        );
        let body = request.body().and_then(reqwest::Body::as_bytes);
        assert_eq!(body, Some(&b"{\"id\":1}"[..]));
    }

    #[test]
    fn a_grpc_request_is_sent_with_te_trailers() {
        let mut replayable = super::super::outcome::tests::replayable("{}");
        let inbound = &mut replayable.recording.exchanges[0].request;
        for (name, value) in [("content-type", "application/grpc"), ("te", "trailers")] {
            inbound.headers.push(HeaderRecord {
                name: name.to_owned(),
                value: value.as_bytes().to_vec().into(),
            });
        }
        let request = sender("http://127.0.0.1:9").request(&replayable).unwrap();
        assert_eq!(request.headers()["te"], "trailers");
        // Not for anything else.
        let plain = super::super::outcome::tests::replayable("{}");
        let request = sender("http://127.0.0.1:9").request(&plain).unwrap();
        assert!(request.headers().get("te").is_none());
    }

    #[test]
    fn headers_given_for_the_replay_replace_the_recorded_ones() {
        let mut replayable = super::super::outcome::tests::replayable("{}");
        let inbound = &mut replayable.recording.exchanges[0].request;
        for (name, value) in [
            ("authorization", "REDACTED:0123456789abcdef"),
            ("x-api-key", "REDACTED:fedcba9876543210"),
            ("x-api-key", "REDACTED:0000000000000000"),
            ("x-request-id", "r-1"),
        ] {
            inbound.headers.push(HeaderRecord {
                name: name.to_owned(),
                value: value.as_bytes().to_vec().into(),
            });
        }
        let given = [
            (
                HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer s3cret"),
            ),
            (
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_static("k-1"),
            ),
        ];
        let request = sender("http://127.0.0.1:9")
            .with_headers(&given)
            .request(&replayable)
            .unwrap();
        let all = |name: &str| -> Vec<&str> {
            request
                .headers()
                .get_all(name)
                .iter()
                .map(|value| value.to_str().unwrap())
                .collect()
        };
        assert_eq!(all("authorization"), ["Bearer s3cret"]);
        assert_eq!(all("x-api-key"), ["k-1"]);
        assert_eq!(all("x-request-id"), ["r-1"]);
    }

    #[test]
    fn query_values_given_for_the_replay_replace_the_recorded_ones() {
        let mut replayable = super::super::outcome::tests::replayable("{}");
        replayable.recording.exchanges[0].request.url =
            "/orders?api_key=REDACTED&q=a%20b".to_owned();
        let given = [("API_KEY".to_owned(), "s3cret".to_owned())];
        let sender = sender("http://127.0.0.1:9").with_query(&given);
        let request = sender.request(&replayable).unwrap();
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/orders?api_key=s3cret&q=a%20b"
        );
        // A query without the key is sent as recorded.
        replayable.recording.exchanges[0].request.url = "/orders?q=1".to_owned();
        let request = sender.request(&replayable).unwrap();
        assert_eq!(request.url().as_str(), "http://127.0.0.1:9/orders?q=1");
    }

    #[test]
    fn a_body_the_recording_cut_cannot_be_sent() {
        let mut replayable = super::super::outcome::tests::replayable("{}");
        replayable.recording.exchanges[0].request.body = BodyRecord {
            bytes: b"{\"id\"".to_vec().into(),
            truncated: true,
            size: 100,
        };
        let err = sender("http://127.0.0.1:9")
            .request(&replayable)
            .unwrap_err();
        assert!(
            err.starts_with("the recording kept 5 of the 100 bytes"),
            "{err}"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(humane(Duration::from_secs(30)), "30s");
        assert_eq!(humane(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humane(Duration::from_millis(250)), "250ms");
    }
}
