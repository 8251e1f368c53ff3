//! Record mode over real sockets: axum servers on 127.0.0.1 traced and
//! recorded by the server layer, reqwest and hyper-util clients traced and
//! recorded by the client layers, recorders writing files into a temporary
//! directory, and the recordings read back from disk.
//!
//! Every layer here is given its recorder and tracer provider explicitly,
//! so these tests share nothing through OpenTelemetry's globals or the
//! process-wide recorder and run in parallel (start-up calls through
//! `tracetape::init` are in `record_startup.rs`).
//!
//! Nothing waits by sleeping: a server hands its recording on no later
//! than its SERVER span ends (both happen when the response body ends), so
//! the tests wait for the spans to end, then flush the recorder, which
//! waits until everything handed to it is written.

#![cfg(all(feature = "record-replay", feature = "axum", feature = "reqwest"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::serve;

use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use http::Request;
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::sync::{mpsc, watch};
use tower::{Layer as _, ServiceExt as _};
use tracetape::client::{RequestBody, TracingMiddleware};
use tracetape::propagation::TraceContextPropagator;
use tracetape::record::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Mode, ReadRecordingError, RecordSettings,
    Recorder, Recording, RecordingStore,
};

// ---------------------------------------------------------------------------
// Support
// ---------------------------------------------------------------------------

/// A recorder writing into `dir` as `service`, with the defaults changed
/// by `tweak`.
fn recorder(dir: &Path, service: &str, tweak: impl FnOnce(&mut RecordSettings)) -> Recorder {
    let mut settings = RecordSettings::default();
    settings.mode = Mode::Record;
    settings.dir = dir.to_owned();
    tweak(&mut settings);
    Recorder::start(&settings, service).unwrap()
}

/// Waits until everything handed to `recorder` so far is written (or has
/// failed).
async fn flush(recorder: &Recorder) {
    let recorder = recorder.clone();
    tokio::task::spawn_blocking(move || recorder.flush(Duration::from_secs(20)).unwrap())
        .await
        .unwrap();
}

/// The recordings in `dir`, oldest first; fails on any unreadable file.
fn load(dir: &Path) -> Vec<Recording> {
    let loaded = RecordingStore::new(dir).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let mut recordings: Vec<Recording> = loaded
        .recordings
        .into_iter()
        .map(|stored| stored.recording)
        .collect();
    recordings.reverse();
    recordings
}

/// Counts the SERVER spans that end.
#[derive(Debug)]
struct CountServerSpans(watch::Sender<usize>);

impl SpanExporter for CountServerSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let servers = batch
            .iter()
            .filter(|span| span.span_kind == SpanKind::Server)
            .count();
        self.0.send_modify(|ended| *ended += servers);
        Ok(())
    }
}

/// A tracer provider for the layers (spans go nowhere but are real, so
/// recordings have real trace and span ids) that counts the SERVER spans
/// as they end: the signal the tests wait on.
#[derive(Clone)]
struct Spans {
    provider: SdkTracerProvider,
    ended: watch::Receiver<usize>,
}

impl Spans {
    fn new() -> Self {
        let (count, ended) = watch::channel(0);
        // The simple processor exports each span as it ends.
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(CountServerSpans(count))
            .build();
        Self { provider, ended }
    }

    /// Waits (ten seconds at most) until `count` SERVER spans have ended.
    async fn wait_for_servers(&self, count: usize) {
        let mut ended = self.ended.clone();
        tokio::time::timeout(Duration::from_secs(10), ended.wait_for(|n| *n >= count))
            .await
            .unwrap_or_else(|_| panic!("{count} SERVER spans did not end within 10s"))
            .unwrap();
    }

    fn server_layer(&self, recorder: &Recorder) -> tracetape::server::TraceLayer {
        tracetape::server::TraceLayer::new()
            .with_tracer_provider(self.provider.clone())
            .with_propagator(TraceContextPropagator::new())
            .with_recorder(recorder.clone())
    }

    /// A client layer with no recorder of its own: it records only the
    /// calls made while serving a recorded request.
    fn client_layer(&self) -> tracetape::client::TraceLayer {
        tracetape::client::TraceLayer::new()
            .with_tracer_provider(self.provider.clone())
            .with_propagator(TraceContextPropagator::new())
    }
}

/// hyper-util's client, traced (and recorded) by `layer`.
type TowerClient<B> = tracetape::client::Trace<Client<HttpConnector, RequestBody<B>>>;

fn tower_client<B>(layer: &tracetape::client::TraceLayer) -> TowerClient<B>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    layer.layer(Client::builder(TokioExecutor::new()).build_http())
}

fn reqwest_client(layer: &tracetape::client::TraceLayer) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(TracingMiddleware::from(layer.clone()))
        .build()
}

/// Sends `request` through the tower client; the status, headers and
/// whole body.
async fn tower_call<B>(client: &TowerClient<B>, request: Request<B>) -> (u16, HeaderMap, Bytes)
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response = client.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

/// Fails with the lengths and the first difference rather than printing
/// large bodies whole.
#[track_caller]
fn assert_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual != expected {
        let at = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "{what}: {} bytes, expected {}; first difference at byte {at}",
            actual.len(),
            expected.len()
        );
    }
}

/// [`assert_bytes`] for a body record.
#[track_caller]
fn assert_body(actual: &BodyRecord, expected: &BodyRecord, what: &str) {
    assert_eq!(
        (actual.truncated, actual.size),
        (expected.truncated, expected.size),
        "{what}: truncated, size"
    );
    assert_bytes(&actual.bytes, &expected.bytes, what);
}

/// A body kept whole.
fn whole(bytes: impl AsRef<[u8]>) -> BodyRecord {
    let bytes = bytes.as_ref();
    BodyRecord {
        bytes: Bytes::copy_from_slice(bytes),
        truncated: false,
        size: bytes.len() as u64,
    }
}

/// The values of the headers named `name`.
fn values<'a>(headers: &'a [HeaderRecord], name: &str) -> Vec<&'a [u8]> {
    headers
        .iter()
        .filter(|h| h.name == name)
        .map(|h| &h.value[..])
        .collect()
}

/// The one value of the header `name`, as text.
fn value(headers: &[HeaderRecord], name: &str) -> Option<String> {
    let found = values(headers, name);
    assert!(found.len() <= 1, "{name}: {found:?}");
    found
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// `len` bytes counting up from 0 to 250, over and over (a cycle of 251,
/// so that no power-of-two chunking lines up with it).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// A body whose frames are sent, one chunk at a time, through a channel:
/// no length known up front, so HTTP/1.1 sends it chunked.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// A body that streams `bytes` in chunks of `chunk` bytes, each sent
/// after the previous one was taken.
fn streamed(bytes: Vec<u8>, chunk: usize) -> ChannelBody {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for piece in bytes.chunks(chunk) {
            if tx.send(Bytes::copy_from_slice(piece)).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
    });
    ChannelBody(rx)
}

/// Whether `headers` carry a `traceparent` naming `exchange`'s span in the
/// trace `trace`.
fn carries_traceparent_of(headers: &[HeaderRecord], trace: &str, exchange: &Exchange) -> bool {
    let prefix = format!("00-{trace}-{}-", exchange.span_id);
    values(headers, "traceparent")
        .iter()
        .any(|v| v.starts_with(prefix.as_bytes()))
}

// ---------------------------------------------------------------------------
// Round trip: JSON, text, binary and empty bodies, in and out
// ---------------------------------------------------------------------------

const JSON: &str = r#"{"order_id":"o-1","items":[{"sku":"tea","qty":2}],"note":"café ☕"}"#;
const TEXT: &str = "prix : 7 €\nligne 2\ttabulée\n";
const ANSWER: &str = r#"{"ok":true,"total_cents":1400}"#;

/// One outbound call as the test expects it recorded: the request sent
/// and the response, whose body is an echo of the request's.
struct Call<'a> {
    method: &'a str,
    url: String,
    content_type: Option<&'a str>,
    body: &'a [u8],
    status: u16,
}

/// An untraced server: `POST /echo` answers its body with its content
/// type, `GET /empty` answers 204, `GET /big` answers 200 000 bytes.
async fn upstream() -> SocketAddr {
    let app = Router::new()
        .route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .cloned()
                    .unwrap_or_else(|| "application/octet-stream".parse().unwrap());
                ([(header::CONTENT_TYPE, content_type)], body)
            }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/big", get(|| async { pattern(200_000) }));
    serve(app).await
}

#[derive(Clone)]
struct Front {
    upstream: SocketAddr,
    reqwest: ClientWithMiddleware,
    tower_bytes: TowerClient<Full<Bytes>>,
}

/// `POST /run`: checks its JSON body, calls the upstream four times (JSON
/// and text through reqwest, binary and empty through hyper-util) and
/// answers JSON. A call that does not come back as sent panics, which the
/// test sees as a 500.
async fn run(State(front): State<Front>, headers: HeaderMap, body: Bytes) -> Response {
    assert_eq!(body, JSON);
    assert_eq!(headers["x-tag"], "round-trip");
    let base = format!("http://{}", front.upstream);

    let response = front
        .reqwest
        .post(format!("{base}/echo?kind=json"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), JSON);

    let response = front
        .reqwest
        .post(format!("{base}/echo?kind=text"))
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(TEXT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), TEXT);

    let every_byte: Vec<u8> = (0..=255).collect();
    let request = Request::post(format!("{base}/echo?kind=binary"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Full::new(Bytes::from(every_byte.clone())))
        .unwrap();
    let (status, _, body) = tower_call(&front.tower_bytes, request).await;
    assert_eq!((status, &body[..]), (200, &every_byte[..]));

    let request = Request::get(format!("{base}/empty"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = tower_call(&front.tower_bytes, request).await;
    assert_eq!((status, body.len()), (204, 0));

    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-answer"), "42"),
        ],
        ANSWER,
    )
        .into_response()
}

/// The recorded front server and the upstream it calls.
async fn front(spans: &Spans, recorder: &Recorder) -> (SocketAddr, SocketAddr) {
    let client_layer = spans.client_layer();
    let upstream = upstream().await;
    let state = Front {
        upstream,
        reqwest: reqwest_client(&client_layer),
        tower_bytes: tower_client(&client_layer),
    };
    let app = Router::new()
        .route("/run", post(run))
        .with_state(state)
        .layer(spans.server_layer(recorder));
    (serve(app).await, upstream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_traffic_is_written_and_read_back_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let recorder = recorder(&dir, "front", |_| {});
    let spans = Spans::new();
    let (front, upstream) = front(&spans, &recorder).await;

    let response = reqwest::Client::new()
        .post(format!("http://{front}/run?dry_run=1&tag=a%20b"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-tag", "round-trip")
        .body(JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), ANSWER);
    spans.wait_for_servers(1).await;
    flush(&recorder).await;
    assert_eq!(
        (recorder.written(), recorder.failed(), recorder.dropped()),
        (1, 0, 0)
    );

    let [recording] = load(&dir).try_into().unwrap();
    assert_eq!(recording.service_name, "front");
    assert!(!recording.background);
    let trace = recording.trace_id.to_string();
    assert_ne!(trace, "00000000000000000000000000000000");
    assert_eq!(recording.exchanges.len(), 5, "{recording:#?}");

    // The inbound request, as received and answered.
    let inbound = &recording.exchanges[0];
    assert_eq!(inbound.kind, ExchangeKind::Server);
    assert_eq!(recording.inbound(), Some(inbound));
    assert_eq!(inbound.name, "POST /run");
    assert_eq!(inbound.route.as_deref(), Some("/run"));
    assert_ne!(inbound.span_id, SpanId::INVALID);
    assert_eq!(
        inbound.parent_span_id,
        SpanId::INVALID,
        "no traceparent sent"
    );
    assert!(0 < inbound.start_unix_nanos && inbound.start_unix_nanos <= inbound.end_unix_nanos);
    assert_eq!(inbound.error, None);
    let request = &inbound.request;
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "/run?dry_run=1&tag=a%20b");
    assert_eq!(
        value(&request.headers, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        value(&request.headers, "x-tag").as_deref(),
        Some("round-trip")
    );
    assert_eq!(
        value(&request.headers, "content-length"),
        Some(JSON.len().to_string())
    );
    assert_eq!(request.body, whole(JSON));
    let response = inbound.response.as_ref().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        value(&response.headers, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(value(&response.headers, "x-answer").as_deref(), Some("42"));
    assert_eq!(response.body, whole(ANSWER));

    // The four calls, in the order they were made.
    let base = format!("http://{upstream}");
    let every_byte: Vec<u8> = (0..=255).collect();
    let call = |method, url: &str, content_type, body, status| Call {
        method,
        url: format!("{base}{url}"),
        content_type,
        body,
        status,
    };
    let expected = [
        call(
            "POST",
            "/echo?kind=json",
            Some("application/json"),
            JSON.as_bytes(),
            200,
        ),
        call(
            "POST",
            "/echo?kind=text",
            Some("text/plain; charset=utf-8"),
            TEXT.as_bytes(),
            200,
        ),
        call(
            "POST",
            "/echo?kind=binary",
            Some("application/octet-stream"),
            &every_byte,
            200,
        ),
        call("GET", "/empty", None, b"", 204),
    ];
    let outbound: Vec<&Exchange> = recording.outbound().collect();
    assert_eq!(outbound.len(), expected.len());
    let mut previous_start = inbound.start_unix_nanos;
    for (exchange, expected) in outbound.iter().zip(expected) {
        let Call {
            method,
            url,
            content_type,
            body,
            status,
        } = expected;
        let what = format!("{method} {url}");
        assert_eq!(exchange.kind, ExchangeKind::Client, "{what}");
        assert_eq!(exchange.name, method, "{what}");
        assert_eq!(exchange.route, None, "{what}");
        assert_eq!(exchange.parent_span_id, inbound.span_id, "{what}");
        assert!(previous_start <= exchange.start_unix_nanos, "{what}");
        assert!(
            exchange.start_unix_nanos <= exchange.end_unix_nanos,
            "{what}"
        );
        assert!(exchange.end_unix_nanos <= inbound.end_unix_nanos, "{what}");
        previous_start = exchange.start_unix_nanos;
        assert_eq!(exchange.error, None, "{what}");

        assert_eq!(exchange.request.method, method);
        assert_eq!(exchange.request.url, url);
        assert!(
            carries_traceparent_of(&exchange.request.headers, &trace, exchange),
            "{what}: {:?}",
            exchange.request.headers
        );
        assert_eq!(
            value(&exchange.request.headers, "content-type").as_deref(),
            content_type,
            "{what}"
        );
        assert_eq!(exchange.request.body, whole(body), "{what}");

        let response = exchange.response.as_ref().unwrap();
        assert_eq!(response.status, status, "{what}");
        assert_eq!(
            value(&response.headers, "content-type").as_deref(),
            content_type,
            "{what}"
        );
        assert_eq!(response.body, whole(body), "{what}");
    }
    // Text and binary bodies come back byte for byte, UTF-8 or not.
    assert!(std::str::from_utf8(&outbound[2].request.body.bytes).is_err());
    assert_eq!(
        std::str::from_utf8(&outbound[1].response.as_ref().unwrap().body.bytes).unwrap(),
        TEXT
    );

    // The segment holds it as one line of OTLP/JSON TracesData, after its
    // header, readable by any OpenTelemetry tool, and saying the same.
    let [path] = RecordingStore::new(&dir)
        .paths()
        .unwrap()
        .try_into()
        .unwrap();
    let file = std::fs::read(&path).unwrap();
    assert!(file.ends_with(b"\n"));
    let lines: Vec<&[u8]> = file[..file.len() - 1].split(|&b| b == b'\n').collect();
    let [_header, line] = lines.as_slice() else {
        panic!("a header and one recording: {} lines", lines.len());
    };
    assert_traces_data_says(line, &recording);
}

/// Parses `file` with opentelemetry-proto's own types and checks it holds
/// `recording`: its service, and per exchange a span with its ids, kind,
/// name and bodies.
fn assert_traces_data_says(file: &[u8], recording: &Recording) {
    let document: TracesData = serde_json::from_slice(file).unwrap();
    let [resource_spans] = &document.resource_spans[..] else {
        panic!("one resource expected: {document:?}");
    };
    let resource = resource_spans.resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(
        service,
        Some(any_value::Value::StringValue(
            recording.service_name.clone()
        ))
    );
    let [scope_spans] = &resource_spans.scope_spans[..] else {
        panic!("one scope expected");
    };
    assert_eq!(scope_spans.scope.as_ref().unwrap().name, "tracetape.record");
    assert_eq!(scope_spans.spans.len(), recording.exchanges.len());
    for (span, exchange) in scope_spans.spans.iter().zip(&recording.exchanges) {
        assert_eq!(span.trace_id, recording.trace_id.to_bytes());
        assert_eq!(span.span_id, exchange.span_id.to_bytes());
        if exchange.parent_span_id == SpanId::INVALID {
            assert!(span.parent_span_id.is_empty());
        } else {
            assert_eq!(span.parent_span_id, exchange.parent_span_id.to_bytes());
        }
        let kind = match exchange.kind {
            ExchangeKind::Server => 2,
            ExchangeKind::Client | ExchangeKind::Database => 3,
        };
        assert_eq!(span.kind, kind);
        assert_eq!(span.name, exchange.name);
        let attribute = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref()?.value.clone())
        };
        assert_eq!(
            attribute("tracetape.http.request.body"),
            Some(any_value::Value::BytesValue(
                exchange.request.body.bytes.to_vec()
            ))
        );
        assert_eq!(
            attribute("http.request.body.size"),
            Some(any_value::Value::IntValue(
                exchange.request.body.size as i64
            ))
        );
        let response = exchange.response.as_ref().unwrap();
        assert_eq!(
            attribute("tracetape.http.response.body"),
            Some(any_value::Value::BytesValue(response.body.bytes.to_vec()))
        );
        assert_eq!(
            attribute("http.response.status_code"),
            Some(any_value::Value::IntValue(i64::from(response.status)))
        );
    }
}

// ---------------------------------------------------------------------------
// Chunked, streamed bodies
// ---------------------------------------------------------------------------

/// What the streaming handler received, for the test to compare.
type Received = Arc<Mutex<Vec<Bytes>>>;

/// `POST /stream`: reads a chunked request body to its end and answers
/// with a chunked body of its own, the received bytes reversed.
async fn stream_back(State(received): State<Received>, headers: HeaderMap, body: Body) -> Response {
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v == "chunked");
    let bytes = body.collect().await.unwrap().to_bytes();
    received.lock().unwrap().push(bytes.clone());
    if !chunked {
        return (StatusCode::BAD_REQUEST, "expected a chunked body").into_response();
    }
    let mut reversed = bytes.to_vec();
    reversed.reverse();
    Response::new(Body::new(streamed(reversed, 8 * 1024)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_bodies_are_recorded_whole_on_both_sides_and_arrive_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    // The limit is well above the bodies: nothing is truncated.
    let recorder = recorder(&dir, "edge", |_| {});
    let spans = Spans::new();
    let received = Received::default();
    let app = Router::new()
        .route("/stream", post(stream_back))
        .with_state(Arc::clone(&received))
        .layer(spans.server_layer(&recorder));
    let addr = serve(app).await;
    // Calls outside any request: background recordings of this recorder.
    let layer = spans.client_layer().with_recorder(recorder.clone());
    let sent = pattern(256 * 1024 + 17);
    let mut expected_back = sent.clone();
    expected_back.reverse();
    let url = format!("http://{addr}/stream");

    // hyper-util: the tower layer sees the request body as hyper sends it.
    let request = Request::post(&url)
        .body(streamed(sent.clone(), 4 * 1024))
        .unwrap();
    let (status, headers, body) = tower_call(&tower_client(&layer), request).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::TRANSFER_ENCODING], "chunked");
    assert_bytes(&body, &expected_back, "the caller reads every byte");

    // reqwest: a streamed request body, then a streamed response.
    let response = reqwest_client(&layer)
        .post(&url)
        .body(reqwest::Body::wrap(streamed(sent.clone(), 4 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_bytes(
        &response.bytes().await.unwrap(),
        &expected_back,
        "reqwest reads every byte",
    );

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for body in &received {
        assert_bytes(body, &sent, "the handler reads every byte");
    }

    spans.wait_for_servers(2).await;
    flush(&recorder).await;
    let recordings = load(&dir);
    assert_eq!(recordings.len(), 4, "{recordings:#?}");
    let (servers, clients): (Vec<&Recording>, Vec<&Recording>) =
        recordings.iter().partition(|r| !r.background);
    assert_eq!((servers.len(), clients.len()), (2, 2));

    for server in &servers {
        let inbound = server.inbound().unwrap();
        assert_eq!(server.exchanges.len(), 1);
        assert_eq!(
            value(&inbound.request.headers, "transfer-encoding").as_deref(),
            Some("chunked")
        );
        assert_body(&inbound.request.body, &whole(&sent), "server request");
        let response = inbound.response.as_ref().unwrap();
        assert_eq!(response.status, 200);
        assert_body(&response.body, &whole(&expected_back), "server response");
        assert_eq!(inbound.error, None);
        // The server's recording is the child of the call that reached it.
        let client = clients
            .iter()
            .find(|c| c.trace_id == server.trace_id)
            .expect("each server recording has its caller's trace");
        assert_eq!(inbound.parent_span_id, client.exchanges[0].span_id);
    }

    // Both calls, each a background recording of one exchange.
    let by_url = |client: &&Recording| client.exchanges[0].request.url == url;
    assert!(clients.iter().all(by_url));
    for client in &clients {
        assert_eq!(client.exchanges.len(), 1);
        let exchange = &client.exchanges[0];
        assert_eq!(exchange.kind, ExchangeKind::Client);
        assert_eq!(exchange.parent_span_id, SpanId::INVALID);
        let response = exchange.response.as_ref().unwrap();
        assert_body(&response.body, &whole(&expected_back), "client response");
        assert_eq!(exchange.error, None);
    }
    // The tower call is the first made; its request body was teed as
    // hyper sent it. reqwest cannot read a streamed body without sending
    // it, so its middleware records it as empty, truncated, of unknown
    // size (as `TracingMiddleware` documents).
    let (tower, reqwest) = (&clients[0].exchanges[0], &clients[1].exchanges[0]);
    assert!(tower.start_unix_nanos < reqwest.start_unix_nanos);
    assert_body(&tower.request.body, &whole(&sent), "tower request");
    assert_eq!(
        reqwest.request.body,
        BodyRecord {
            bytes: Bytes::new(),
            truncated: true,
            size: 0
        }
    );
}

// ---------------------------------------------------------------------------
// gzip-encoded bodies, both ways
// ---------------------------------------------------------------------------

const ORDER: &str = r#"{"order_id":"gz-1","items":[{"sku":"tea","qty":200}]}"#;

/// The JSON `POST /gzip` answers for `ORDER`.
fn gzip_answer() -> String {
    format!(r#"{{"received":{ORDER},"status":"compressed"}}"#)
}

/// `POST /gzip`: takes a gzip-compressed JSON body (`content-encoding:
/// gzip`) and answers JSON compressed by the handler with flate2.
async fn gzip_echo(headers: HeaderMap, body: Bytes) -> Response {
    if headers
        .get(header::CONTENT_ENCODING)
        .is_none_or(|v| v != "gzip")
    {
        return (StatusCode::BAD_REQUEST, "expected gzip").into_response();
    }
    let order = gunzip(&body);
    if order != ORDER.as_bytes() {
        return (StatusCode::BAD_REQUEST, "unexpected order").into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        gzip(gzip_answer().as_bytes()),
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_recorded_as_they_crossed_each_layer_and_decode_to_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let recorder = recorder(&dir, "gzip", |_| {});
    let spans = Spans::new();
    let app = Router::new()
        .route("/gzip", post(gzip_echo))
        .layer(spans.server_layer(&recorder));
    let addr = serve(app).await;
    let layer = spans.client_layer().with_recorder(recorder.clone());
    let url = format!("http://{addr}/gzip");
    let request_wire = gzip(ORDER.as_bytes());
    let answer = gzip_answer();

    // hyper-util has no decompression: the caller gets the wire bytes.
    let request = Request::post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Full::new(Bytes::from(request_wire.clone())))
        .unwrap();
    let (status, headers, tower_wire) = tower_call(&tower_client(&layer), request).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gunzip(&tower_wire), answer.as_bytes());

    // reqwest with its gzip feature decodes before the middleware.
    let response = reqwest_client(&layer)
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(request_wire.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(response.text().await.unwrap(), answer);

    spans.wait_for_servers(2).await;
    flush(&recorder).await;
    let recordings = load(&dir);
    assert_eq!(recordings.len(), 4, "{recordings:#?}");
    let (servers, clients): (Vec<&Recording>, Vec<&Recording>) =
        recordings.iter().partition(|r| !r.background);
    assert_eq!((servers.len(), clients.len()), (2, 2));
    let (tower, reqwest) = (&clients[0].exchanges[0], &clients[1].exchanges[0]);
    assert!(tower.start_unix_nanos < reqwest.start_unix_nanos);
    let server_of = |client: &Exchange| -> &Exchange {
        servers
            .iter()
            .flat_map(|r| &r.exchanges)
            .find(|e| e.parent_span_id == client.span_id)
            .unwrap()
    };

    // Every request body was recorded as sent: gzip bytes, with the header
    // that says so, decoding to the order.
    for exchange in [tower, reqwest, server_of(tower), server_of(reqwest)] {
        let request = &exchange.request;
        assert_eq!(
            value(&request.headers, "content-encoding").as_deref(),
            Some("gzip")
        );
        assert_eq!(request.body, whole(&request_wire));
        assert_eq!(&*request.decoded_body().unwrap(), ORDER.as_bytes());
    }

    // The server and the tower client saw the wire: the same gzip bytes,
    // `content-encoding: gzip`, decoding to the answer.
    for exchange in [server_of(tower), server_of(reqwest), tower] {
        let response = exchange.response.as_ref().unwrap();
        assert_eq!(
            value(&response.headers, "content-encoding").as_deref(),
            Some("gzip")
        );
        assert_eq!(response.body, whole(&tower_wire));
        assert_eq!(&*response.decoded_body().unwrap(), answer.as_bytes());
    }

    // reqwest asked for gzip and decoded it before the middleware saw the
    // response: the recording holds what the caller read, with no
    // content-encoding (nor the compressed content-length) left to undo.
    let asked = &server_of(reqwest).request.headers;
    assert!(
        values(asked, "accept-encoding")
            .iter()
            .any(|v| String::from_utf8_lossy(v).contains("gzip")),
        "{asked:?}"
    );
    let response = reqwest.response.as_ref().unwrap();
    assert!(values(&response.headers, "content-encoding").is_empty());
    assert!(values(&response.headers, "content-length").is_empty());
    assert_eq!(response.body, whole(&answer));
    assert!(matches!(
        response.decoded_body().unwrap(),
        std::borrow::Cow::Borrowed(bytes) if bytes == answer.as_bytes()
    ));
}

// ---------------------------------------------------------------------------
// Oversized bodies
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_truncated_in_the_file_and_delivered_whole() {
    const LIMIT: usize = 1000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let recorder = recorder(&dir, "front", |settings| settings.max_body_bytes = LIMIT);
    let spans = Spans::new();
    let upstream = upstream().await;
    let layer = spans.client_layer();
    let state = (upstream, reqwest_client(&layer), tower_client(&layer));
    let app = Router::new()
        .route(
            "/big",
            post(
                |State((upstream, reqwest, tower)): State<(
                    SocketAddr,
                    ClientWithMiddleware,
                    TowerClient<Full<Bytes>>,
                )>,
                 body: Bytes| async move {
                    // The handler gets the whole request body.
                    assert_bytes(&body, &pattern(300_000), "the handler reads it all");
                    let url = format!("http://{upstream}/big");
                    let through_reqwest = reqwest.get(&url).send().await.unwrap();
                    let through_reqwest = through_reqwest.bytes().await.unwrap();
                    assert_bytes(&through_reqwest, &pattern(200_000), "reqwest reads it all");
                    let request = Request::get(&url).body(Full::new(Bytes::new())).unwrap();
                    let (_, _, through_tower) = tower_call(&tower, request).await;
                    // Both callers get the whole response body.
                    assert_bytes(&through_tower, &pattern(200_000), "tower reads it all");
                    // Answered with all of it.
                    through_tower
                },
            ),
        )
        .with_state(state)
        .layer(spans.server_layer(&recorder));
    let front = serve(app).await;

    let response = reqwest::Client::new()
        .post(format!("http://{front}/big"))
        .body(pattern(300_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.unwrap(),
        pattern(200_000),
        "the client receives the whole body"
    );
    spans.wait_for_servers(1).await;
    flush(&recorder).await;

    let truncated = |size: usize| BodyRecord {
        bytes: Bytes::from(pattern(LIMIT)),
        truncated: true,
        size: size as u64,
    };
    let [recording] = load(&dir).try_into().unwrap();
    let inbound = recording.inbound().unwrap();
    assert_eq!(inbound.request.body, truncated(300_000));
    assert_eq!(inbound.response.as_ref().unwrap().body, truncated(200_000));
    let outbound: Vec<&Exchange> = recording.outbound().collect();
    assert_eq!(outbound.len(), 2);
    for exchange in outbound {
        assert_eq!(exchange.request.body, BodyRecord::default());
        let response = exchange.response.as_ref().unwrap();
        assert_eq!(response.body, truncated(200_000));
        assert_eq!(exchange.error, None, "read to its end");
    }
}

// ---------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------

/// Serves a recorded server whose `GET /order` calls the upstream once
/// through reqwest (middleware without a recorder), sends it `requests`
/// requests one after the other, checks each is answered, and waits until
/// every recording it handed on is written.
async fn sampled_front(spans: &Spans, recorder: &Recorder, requests: usize) {
    let upstream = upstream().await;
    let client = reqwest_client(&spans.client_layer());
    let app = Router::new()
        .route(
            "/order",
            get(
                |State((upstream, client)): State<(SocketAddr, ClientWithMiddleware)>| async move {
                    let url = format!("http://{upstream}/echo");
                    let response = client.post(url).body("ping").send().await.unwrap();
                    response.bytes().await.unwrap()
                },
            ),
        )
        .with_state((upstream, client))
        .layer(spans.server_layer(recorder));
    let front = serve(app).await;
    let caller = reqwest::Client::new();
    for _ in 0..requests {
        let response = caller
            .get(format!("http://{front}/order"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap(), "ping");
    }
    spans.wait_for_servers(requests).await;
    flush(recorder).await;
}

/// Each recording is one request and its one call.
fn assert_request_and_call(recordings: &[Recording]) {
    for recording in recordings {
        assert!(!recording.background);
        assert_eq!(recording.exchanges.len(), 2, "{recording:#?}");
        let inbound = recording.inbound().unwrap();
        assert_eq!(inbound.request.url, "/order");
        let call = recording.outbound().next().unwrap();
        assert_eq!(call.parent_span_id, inbound.span_id);
        assert_eq!(call.request.body, whole("ping"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_rates_zero_and_one_record_no_request_or_every_request() {
    let tmp = tempfile::tempdir().unwrap();
    let spans = Spans::new();

    let never_dir = tmp.path().join("never");
    let never = recorder(&never_dir, "front", |s| s.sample_rate = 0.0);
    sampled_front(&spans, &never, 20).await;
    assert_eq!(
        (never.written(), never.failed(), never.dropped()),
        (0, 0, 0)
    );
    assert!(load(&never_dir).is_empty());
    assert!(RecordingStore::new(&never_dir).paths().unwrap().is_empty());

    let always_dir = tmp.path().join("always");
    let always = recorder(&always_dir, "front", |s| s.sample_rate = 1.0);
    sampled_front(&spans, &always, 20).await;
    assert_eq!(always.written(), 20);
    let recordings = load(&always_dir);
    assert_eq!(recordings.len(), 20);
    assert_request_and_call(&recordings);
    let traces: std::collections::HashSet<_> = recordings.iter().map(|r| r.trace_id).collect();
    assert_eq!(traces.len(), 20, "one recording per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_rate_one_half_records_about_half_of_the_requests() {
    // 400 requests each recorded with probability 1/2: the count is
    // Binomial(400, 0.5), mean 200 and standard deviation 10. The bounds
    // 140..=260 (35% to 65%) are six standard deviations either side: a
    // correct sampler falls outside them about twice in a billion runs,
    // while one stuck at 0, 1, or a badly biased rate (under 35% or over
    // 65%) fails every time.
    const REQUESTS: usize = 400;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let recorder = recorder(&dir, "front", |s| s.sample_rate = 0.5);
    let spans = Spans::new();
    sampled_front(&spans, &recorder, REQUESTS).await;

    let recordings = load(&dir);
    let recorded = recordings.len();
    assert!(
        (140..=260).contains(&recorded),
        "{recorded} of {REQUESTS} recorded"
    );
    assert_eq!(recorder.written(), recorded as u64);
    assert_eq!((recorder.failed(), recorder.dropped()), (0, 0));
    // An unsampled request leaves its call unrecorded too; a sampled one
    // has it.
    assert_request_and_call(&recordings);
}

// ---------------------------------------------------------------------------
// A full queue, an unwritable store, a damaged file
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_recordings_and_every_request_is_answered() {
    // The writer holds at most 16 MiB of recordings waiting or being
    // written. One request whose recording alone is larger (a 12 MiB body,
    // kept twice: request and echoed response) is taken, since nothing
    // else waits, and keeps the writer busy encoding and writing it; the
    // small recordings handed on meanwhile do not fit and are dropped.
    const BIG: usize = 12 * 1024 * 1024;
    const SMALL: usize = 20;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let recorder = recorder(&dir, "front", |s| s.max_body_bytes = 2 * BIG);
    let spans = Spans::new();
    let app = Router::new()
        .route("/echo", post(|body: Bytes| async move { body }))
        .route("/small", get(|| async { "small" }))
        .layer(DefaultBodyLimit::disable())
        .layer(spans.server_layer(&recorder));
    let front = serve(app).await;
    let caller = reqwest::Client::new();

    let big = pattern(BIG);
    let response = caller
        .post(format!("http://{front}/echo"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_bytes(&response.bytes().await.unwrap(), &big, "the big echo");
    // The big recording has been handed to the writer.
    spans.wait_for_servers(1).await;

    let mut answered = tokio::task::JoinSet::new();
    for _ in 0..SMALL {
        let caller = caller.clone();
        answered.spawn(async move {
            let response = caller
                .get(format!("http://{front}/small"))
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        });
    }
    while let Some(result) = answered.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!((status.as_u16(), body.as_str()), (200, "small"));
    }
    spans.wait_for_servers(1 + SMALL).await;
    let dropped_while_busy = recorder.dropped();
    flush(&recorder).await;

    assert!(dropped_while_busy > 0, "nothing was dropped");
    assert_eq!(recorder.dropped(), dropped_while_busy);
    assert_eq!(recorder.failed(), 0);
    assert_eq!(recorder.written() + recorder.dropped(), 1 + SMALL as u64);
    let recordings = load(&dir);
    assert_eq!(recordings.len() as u64, recorder.written());
    // The big one was written whole.
    let first = recordings[0].inbound().unwrap();
    assert_eq!(first.request.url, "/echo");
    assert_body(&first.request.body, &whole(&big), "the big recording");
    // Once drained there is room again.
    let response = caller
        .get(format!("http://{front}/small"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    spans.wait_for_servers(2 + SMALL).await;
    flush(&recorder).await;
    assert_eq!(load(&dir).len() as u64, recordings.len() as u64 + 1);
    assert_eq!(recorder.dropped(), dropped_while_busy);
}

/// Set for the child process [`an_unwritable_store_warns_once_and_the_service_still_answers`]
/// runs: the store directory it must fail to write.
const UNWRITABLE_DIR: &str = "TRACETAPE_TEST_UNWRITABLE_DIR";

/// The scenario, run in a process of its own so that its standard error
/// (where the warning goes, once per process) can be read: a recorded
/// server whose store cannot be created still answers every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by an_unwritable_store_warns_once_and_the_service_still_answers"]
async fn unwritable_store_child() {
    let Some(dir) = std::env::var_os(UNWRITABLE_DIR) else {
        return;
    };
    let recorder = recorder(Path::new(&dir), "front", |_| {});
    let spans = Spans::new();
    let app = Router::new()
        .route("/orders", post(|body: Bytes| async move { body }))
        .layer(spans.server_layer(&recorder));
    let front = serve(app).await;
    for n in 0..5 {
        let body = format!("order {n}");
        let response = reqwest::Client::new()
            .post(format!("http://{front}/orders"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), body);
    }
    spans.wait_for_servers(5).await;
    flush(&recorder).await;
    assert_eq!(
        (recorder.written(), recorder.failed(), recorder.dropped()),
        (0, 5, 0)
    );
    println!("child: 5 answered, 5 failed");
}

#[test]
fn an_unwritable_store_warns_once_and_the_service_still_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-directory");
    std::fs::write(&file, b"a regular file").unwrap();
    // Below a regular file: no one can create it, root included.
    let dir: PathBuf = file.join("recordings");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "unwritable_store_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(UNWRITABLE_DIR, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("child: 5 answered, 5 failed"), "{stdout}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("RecordingWriter.WriteFailed"))
        .collect();
    let [warning] = warnings[..] else {
        panic!("expected one warning, got {warnings:?}\n{stderr}");
    };
    assert!(warning.starts_with("tracetape: warning: "), "{warning}");
    assert!(
        warning.contains(&format!("failed to create directory {}", dir.display())),
        "{warning}"
    );
    assert!(warning.contains("recordings are being lost"), "{warning}");
    assert!(file.is_file(), "left as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_damaged_on_disk_is_reported_and_the_others_still_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let recorder = recorder(&dir, "front", |_| {});
    let spans = Spans::new();
    let app = Router::new()
        .route("/orders/{id}", post(|body: Bytes| async move { body }))
        .layer(spans.server_layer(&recorder));
    let front = serve(app).await;
    for id in 1..=3 {
        let response = reqwest::Client::new()
            .post(format!("http://{front}/orders/{id}"))
            .body(format!(r#"{{"id":{id}}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // One at a time, so the files are written in request order.
        spans.wait_for_servers(id).await;
        flush(&recorder).await;
    }
    let before = load(&dir);
    assert_eq!(before.len(), 3);
    let urls: Vec<&str> = before
        .iter()
        .map(|r| r.inbound().unwrap().request.url.as_str())
        .collect();
    assert_eq!(urls, ["/orders/1", "/orders/2", "/orders/3"]);

    // The segment's second recording loses its last third, as if
    // something had overwritten its end.
    let store = RecordingStore::new(&dir);
    let [segment] = store.paths().unwrap().try_into().unwrap();
    let text = std::fs::read(&segment).unwrap();
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let second = lines[2];
    let damaged = [&second[..second.len() * 2 / 3], b"\n"].concat();
    lines[2] = &damaged;
    std::fs::write(&segment, lines.concat()).unwrap();

    let loaded = store.load().unwrap();
    let [err] = &loaded.errors[..] else {
        panic!("expected one error, got {:?}", loaded.errors);
    };
    assert_eq!((err.path(), err.line()), (segment.as_path(), Some(3)));
    assert!(matches!(err, ReadRecordingError::Line { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "failed to read the recording on line 3 of {}",
            segment.display()
        )
    );
    let read: Vec<&Recording> = loaded.recordings.iter().map(|s| &s.recording).collect();
    // Newest first, the two others exactly as before.
    assert_eq!(read, [&before[2], &before[0]]);
}
