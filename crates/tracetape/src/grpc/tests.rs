//! gRPC calls served through the server layer over real HTTP/2 on
//! loopback, called with tonic's own client: span names and attributes,
//! the status read from trailers and from trailers-only answers, which
//! codes are errors on the server, a stream's span ending with the stream,
//! a cancelled stream, and the call duration metric.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use http::uri::PathAndQuery;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::{SpanKind, Status as SpanStatus};
use tokio::sync::Notify;
use tonic::{Code as GrpcCode, Status};
use tonic_prost::ProstCodec;

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SpanData;

use crate::client;
use crate::server::{RequestBody, TraceLayer};
use crate::test_support::{Harness, attr_i64, attr_str};

/// The one message of the test service.
#[derive(Clone, PartialEq, prost::Message)]
struct Note {
    #[prost(string, tag = "1")]
    text: String,
    /// `Say`: the status to fail with (0: answer). `Count`: how many
    /// notes to send.
    #[prost(int32, tag = "2")]
    code: i32,
}

type NoteStream = Pin<Box<dyn Stream<Item = Result<Note, Status>> + Send>>;

/// `test.Notes`: `Say` answers a note with itself or fails with the code
/// it asks for; `Count` sends `code` notes, the last one only once
/// `release` is notified (so a test can look at the spans before the
/// stream ends), or, with code -1, one note and then nothing, forever;
/// `Echo` (both ways streaming) sends back each note as it comes.
async fn notes(
    request: http::Request<RequestBody<hyper::body::Incoming>>,
    release: Arc<Notify>,
) -> Result<http::Response<tonic::body::Body>, Infallible> {
    let mut grpc = tonic::server::Grpc::new(ProstCodec::<Note, Note>::default());
    let response = match request.uri().path() {
        "/test.Notes/Say" => {
            let say = tower::service_fn(|request: tonic::Request<Note>| async move {
                let note = request.into_inner();
                match note.code {
                    0 => Ok(tonic::Response::new(note)),
                    code => Err(Status::new(GrpcCode::from_i32(code), "asked to fail")),
                }
            });
            grpc.unary(say, request).await
        }
        "/test.Notes/Count" => {
            let count = tower::service_fn(move |request: tonic::Request<Note>| {
                let release = release.clone();
                async move {
                    let asked = request.into_inner().code;
                    let stream = async_stream(asked, release);
                    Ok::<_, Status>(tonic::Response::new(stream))
                }
            });
            grpc.server_streaming(count, request).await
        }
        "/test.Notes/Explode" => panic!("the handler exploded"),
        "/test.Notes/Echo" => {
            let echo = tower::service_fn(|request: tonic::Request<tonic::Streaming<Note>>| async {
                let echoed: NoteStream = Box::pin(request.into_inner());
                Ok::<_, Status>(tonic::Response::new(echoed))
            });
            grpc.streaming(echo, request).await
        }
        _ => Status::unimplemented("no such method").into_http(),
    };
    Ok(response)
}

/// `Count`'s notes.
fn async_stream(asked: i32, release: Arc<Notify>) -> NoteStream {
    let note = |n: i32| {
        Ok(Note {
            text: format!("note {n}"),
            code: n,
        })
    };
    if asked < 0 {
        let first = futures_util::stream::iter([note(0)]);
        return Box::pin(futures_util::StreamExt::chain(
            first,
            futures_util::stream::pending(),
        ));
    }
    let before = futures_util::stream::iter((1..asked).map(note));
    let last = futures_util::stream::once(async move {
        release.notified().await;
        note(asked)
    });
    Box::pin(futures_util::StreamExt::chain(before, last))
}

/// Serves `test.Notes` behind the server layer over HTTP/2 on loopback.
async fn serve(harness: &Harness, release: Arc<Notify>) -> SocketAddr {
    serve_with(harness, release, || {}).await
}

/// As [`serve`], running `each` as each call comes in.
async fn serve_with(
    harness: &Harness,
    release: Arc<Notify>,
    each: impl Fn() + Clone + Send + Sync + 'static,
) -> SocketAddr {
    let layer = TraceLayer::new()
        .with_tracer_provider(harness.tracer_provider.clone())
        .with_meter_provider(&harness.meter_provider)
        .with_propagator(TraceContextPropagator::new());
    serve_behind(layer, release, each).await
}

/// Serves `test.Notes` behind `layer` over HTTP/2 on loopback.
async fn serve_behind(
    layer: TraceLayer,
    release: Arc<Notify>,
    each: impl Fn() + Clone + Send + Sync + 'static,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let release = release.clone();
            let each = each.clone();
            let service = tower::ServiceBuilder::new()
                .layer(layer.clone())
                .service_fn(move |request| {
                    each();
                    notes(request, release.clone())
                });
            tokio::spawn(async move {
                let service = hyper_util::service::TowerToHyperService::new(service);
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// tonic's client on a channel to `addr`.
async fn client(addr: SocketAddr) -> tonic::client::Grpc<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic::client::Grpc::new(channel)
}

/// A channel to `addr` traced by the client layer, as tonic's client.
async fn traced_client(addr: SocketAddr, harness: &Harness) -> tonic::client::Grpc<Traced> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = endpoint.connect().await.unwrap();
    let layer = client::TraceLayer::new()
        .with_tracer_provider(harness.tracer_provider.clone())
        .with_meter_provider(&harness.meter_provider)
        .with_propagator(TraceContextPropagator::new())
        .with_origin(endpoint.uri())
        .grpc();
    tonic::client::Grpc::new(tower::ServiceBuilder::new().layer(layer).service(channel))
}

type Traced = client::Trace<client::GrpcChannel<tonic::transport::Channel>>;

/// `test.Notes/Say` with a note asking for `code`.
async fn say<T>(grpc: &mut tonic::client::Grpc<T>, code: i32) -> Result<Note, Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<crate::client::BoxError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<crate::client::BoxError> + Send,
{
    let note = Note {
        text: "hello".into(),
        code,
    };
    unary(grpc, "/test.Notes/Say", note).await
}

/// A unary call of the method at `path` with `note`, once the channel is
/// ready.
async fn unary<T>(
    grpc: &mut tonic::client::Grpc<T>,
    path: &'static str,
    note: Note,
) -> Result<Note, Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<crate::client::BoxError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<crate::client::BoxError> + Send,
{
    let ready: Result<(), crate::client::BoxError> = grpc.ready().await.map_err(Into::into);
    ready.unwrap();
    let path = PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(note), path, ProstCodec::default())
        .await
        .map(tonic::Response::into_inner)
}

async fn count<T>(grpc: &mut tonic::client::Grpc<T>, code: i32) -> tonic::Streaming<Note>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<crate::client::BoxError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<crate::client::BoxError> + Send,
{
    let ready: Result<(), crate::client::BoxError> = grpc.ready().await.map_err(Into::into);
    ready.unwrap();
    let note = Note {
        text: "count".into(),
        code,
    };
    let path = PathAndQuery::from_static("/test.Notes/Count");
    grpc.server_streaming(tonic::Request::new(note), path, ProstCodec::default())
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_unary_call_is_a_server_span_named_for_its_method_with_its_status() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = client(addr).await;

    assert_eq!(say(&mut grpc, 0).await.unwrap().text, "hello");
    let span = harness.wait_for_spans(1).await.remove(0);
    assert_eq!(span.name, "test.Notes/Say");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(attr_str(&span, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attr_str(&span, "rpc.service").as_deref(),
        Some("test.Notes")
    );
    assert_eq!(attr_str(&span, "rpc.method").as_deref(), Some("Say"));
    assert_eq!(attr_i64(&span, "rpc.grpc.status_code"), Some(0));
    assert_eq!(
        attr_str(&span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(attr_i64(&span, "server.port"), Some(i64::from(addr.port())));
    assert_eq!(span.status, SpanStatus::Unset);
    // What the HTTP request under the call says is not repeated.
    assert_eq!(attr_str(&span, "http.request.method"), None);
    assert_eq!(attr_i64(&span, "http.response.status_code"), None);

    let points = harness.metric_points();
    let calls: Vec<_> = points
        .iter()
        .filter(|(name, _, _)| name == "rpc.server.call.duration")
        .collect();
    let [(_, attributes, count)] = calls.as_slice() else {
        panic!("one call duration point: {points:?}");
    };
    assert_eq!(*count, 1.0);
    let value = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(value("rpc.method").as_deref(), Some("Say"));
    assert_eq!(value("rpc.grpc.status_code").as_deref(), Some("0"));
    assert!(
        points
            .iter()
            .all(|(name, _, _)| name != "http.server.request.duration"),
        "a call is measured as a call: {points:?}"
    );
}

#[tokio::test]
async fn a_server_s_error_codes_are_fewer_than_its_client_s() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = client(addr).await;

    // NOT_FOUND: the server doing its job; INTERNAL: the server failing.
    let not_found = say(&mut grpc, GrpcCode::NotFound as i32).await.unwrap_err();
    assert_eq!(not_found.code(), GrpcCode::NotFound);
    let internal = say(&mut grpc, GrpcCode::Internal as i32).await.unwrap_err();
    assert_eq!(internal.code(), GrpcCode::Internal);
    let spans = harness.wait_for_spans(2).await;
    let by_code = |code: i64| {
        spans
            .iter()
            .find(|span| attr_i64(span, "rpc.grpc.status_code") == Some(code))
            .unwrap_or_else(|| panic!("a span with status {code}: {spans:#?}"))
    };
    let not_found = by_code(5);
    assert_eq!(not_found.status, SpanStatus::Unset);
    assert_eq!(attr_str(not_found, "error.type"), None);
    let internal = by_code(13);
    assert!(matches!(internal.status, SpanStatus::Error { .. }));
    assert_eq!(
        attr_str(internal, "error.type").as_deref(),
        Some("INTERNAL")
    );
}

#[tokio::test]
async fn an_unknown_method_answered_trailers_only_is_unimplemented_and_an_error() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = client(addr).await;

    let answer = unary(&mut grpc, "/test.Notes/Shout", Note::default())
        .await
        .unwrap_err();
    assert_eq!(answer.code(), GrpcCode::Unimplemented);
    let span = harness.wait_for_spans(1).await.remove(0);
    assert_eq!(span.name, "test.Notes/Shout");
    assert_eq!(attr_i64(&span, "rpc.grpc.status_code"), Some(12));
    assert_eq!(
        attr_str(&span, "error.type").as_deref(),
        Some("UNIMPLEMENTED")
    );
}

#[tokio::test]
async fn a_streaming_call_s_span_ends_when_its_stream_ends() {
    let harness = Harness::new();
    let release = Arc::new(Notify::new());
    let addr = serve(&harness, release.clone()).await;
    let mut grpc = client(addr).await;

    let mut stream = count(&mut grpc, 3).await;
    for n in 1..3 {
        assert_eq!(stream.message().await.unwrap().unwrap().code, n);
    }
    // Two notes read, the response head long gone: the call goes on.
    assert!(harness.spans().is_empty(), "{:#?}", harness.spans());
    release.notify_one();
    assert_eq!(stream.message().await.unwrap().unwrap().code, 3);
    assert!(stream.message().await.unwrap().is_none());
    let span = harness.wait_for_spans(1).await.remove(0);
    assert_eq!(span.name, "test.Notes/Count");
    assert_eq!(attr_i64(&span, "rpc.grpc.status_code"), Some(0));
    assert_eq!(span.status, SpanStatus::Unset);
}

#[tokio::test]
async fn a_stream_the_client_cancels_is_cancelled_and_not_an_error() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = client(addr).await;

    let mut stream = count(&mut grpc, -1).await;
    assert_eq!(stream.message().await.unwrap().unwrap().code, 0);
    drop(stream);
    let span = harness.wait_for_spans(1).await.remove(0);
    assert_eq!(span.name, "test.Notes/Count");
    assert_eq!(attr_i64(&span, "rpc.grpc.status_code"), Some(1));
    assert_eq!(span.status, SpanStatus::Unset);
    assert_eq!(attr_str(&span, "error.type"), None);
}

/// The one span of `kind` among `spans`.
fn of_kind(spans: &[SpanData], kind: SpanKind) -> &SpanData {
    let found: Vec<_> = spans.iter().filter(|span| span.span_kind == kind).collect();
    let [span] = found.as_slice() else {
        panic!("one {kind:?} span: {spans:#?}");
    };
    span
}

#[tokio::test]
async fn a_traced_channel_s_call_is_a_client_span_whose_context_reaches_the_server() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = traced_client(addr, &harness).await;

    let tracer = harness.tracer_provider.tracer("test");
    let parent = tracer.start("handler");
    let parent_cx = opentelemetry::Context::current_with_span(parent);
    let answer = {
        let _attached = parent_cx.clone().attach();
        say(&mut grpc, 0).await
    };
    assert_eq!(answer.unwrap().text, "hello");
    parent_cx.span().end();
    let spans = harness.wait_for_spans(3).await;
    let client_span = of_kind(&spans, SpanKind::Client);
    let server_span = of_kind(&spans, SpanKind::Server);
    assert_eq!(client_span.name, "test.Notes/Say");
    assert_eq!(attr_str(client_span, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attr_str(client_span, "rpc.service").as_deref(),
        Some("test.Notes")
    );
    assert_eq!(attr_str(client_span, "rpc.method").as_deref(), Some("Say"));
    assert_eq!(attr_i64(client_span, "rpc.grpc.status_code"), Some(0));
    // The channel's requests carry only their path: the origin says where.
    assert_eq!(
        attr_str(client_span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr_i64(client_span, "server.port"),
        Some(i64::from(addr.port()))
    );
    assert_eq!(attr_str(client_span, "url.full"), None);
    assert_eq!(client_span.status, SpanStatus::Unset);
    // One trace: the handler, its call, the call served.
    let handler = spans.iter().find(|span| span.name == "handler").unwrap();
    assert_eq!(client_span.parent_span_id, handler.span_context.span_id());
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
    assert_eq!(
        server_span.span_context.trace_id(),
        handler.span_context.trace_id()
    );
    let points = harness.metric_points();
    assert!(
        points.iter().any(|(name, attributes, count)| {
            name == "rpc.client.call.duration"
                && *count == 1.0
                && attributes.iter().any(|kv| {
                    kv.key.as_str() == "rpc.grpc.status_code" && kv.value.to_string() == "0"
                })
        }),
        "{points:?}"
    );
    assert!(
        points
            .iter()
            .all(|(name, _, _)| name != "http.client.request.duration"),
        "{points:?}"
    );
}

#[tokio::test]
async fn every_code_but_ok_is_an_error_on_the_client() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = traced_client(addr, &harness).await;

    let status = say(&mut grpc, GrpcCode::NotFound as i32).await.unwrap_err();
    assert_eq!(status.code(), GrpcCode::NotFound);
    let spans = harness.wait_for_spans(2).await;
    let client_span = of_kind(&spans, SpanKind::Client);
    assert_eq!(attr_i64(client_span, "rpc.grpc.status_code"), Some(5));
    assert_eq!(
        attr_str(client_span, "error.type").as_deref(),
        Some("NOT_FOUND")
    );
    assert!(matches!(client_span.status, SpanStatus::Error { .. }));
    let server_span = of_kind(&spans, SpanKind::Server);
    assert_eq!(server_span.status, SpanStatus::Unset);
}

#[tokio::test]
async fn a_client_span_of_a_stream_ends_with_the_stream_or_its_cancellation() {
    let harness = Harness::new();
    let release = Arc::new(Notify::new());
    let addr = serve(&harness, release.clone()).await;
    let mut grpc = traced_client(addr, &harness).await;

    let mut stream = count(&mut grpc, 3).await;
    for n in 1..3 {
        assert_eq!(stream.message().await.unwrap().unwrap().code, n);
    }
    // The head and two notes are in: neither end of the call is over.
    assert!(harness.spans().is_empty(), "{:#?}", harness.spans());
    release.notify_one();
    assert_eq!(stream.message().await.unwrap().unwrap().code, 3);
    assert!(stream.message().await.unwrap().is_none());
    let spans = harness.wait_for_spans(2).await;
    let client_span = of_kind(&spans, SpanKind::Client);
    assert_eq!(client_span.name, "test.Notes/Count");
    assert_eq!(attr_i64(client_span, "rpc.grpc.status_code"), Some(0));

    // A stream dropped by its caller: CANCELLED, and no error.
    let mut stream = count(&mut grpc, -1).await;
    assert_eq!(stream.message().await.unwrap().unwrap().code, 0);
    drop(stream);
    let spans = harness.wait_for_spans(4).await;
    let cancelled: Vec<_> = spans
        .iter()
        .filter(|span| attr_i64(span, "rpc.grpc.status_code") == Some(1))
        .collect();
    assert_eq!(cancelled.len(), 2, "both ends cancelled: {spans:#?}");
    assert!(
        cancelled
            .iter()
            .all(|span| span.status == SpanStatus::Unset)
    );
}

/// Record, then replay with the dependency never reached: gRPC calls made
/// by a request's handler are recorded with their trailers, and tonic
/// takes the replayed answers (a status it reads from the trailers, a
/// status sent trailers-only, a stream) as it took the real ones.
#[cfg(feature = "record-replay")]
mod record_replay {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::State;
    use axum::routing::get;

    use super::*;
    use crate::record::testing::Collected;
    use crate::record::{ExchangeKind, RecordSettings, Recorder};
    use crate::replay::{REPLAY_HEADER, ReplayId, Replayer};

    /// What `/run` hands its gRPC client: the channel's layer.
    #[derive(Clone)]
    struct Front {
        backend: SocketAddr,
        layer: client::GrpcTraceLayer,
    }

    /// `/run`: a unary call answered, one failing with NOT_FOUND, and a
    /// stream of two notes, through the client layer.
    async fn run(State(front): State<Front>) -> String {
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://{}", front.backend)).unwrap();
        // Lazy: in replay nothing below the layer is ever called.
        let channel = endpoint.connect_lazy();
        let layer = front.layer.clone();
        let mut grpc =
            tonic::client::Grpc::new(tower::ServiceBuilder::new().layer(layer).service(channel));
        let said = say(&mut grpc, 0).await.map(|note| note.text);
        let missing = say(&mut grpc, GrpcCode::NotFound as i32)
            .await
            .map(|note| note.text);
        let mut stream = count(&mut grpc, 2).await;
        let mut counted = Vec::new();
        while let Some(note) = stream.message().await.unwrap() {
            counted.push(note.code);
        }
        format!(
            "{said:?} {:?} {counted:?}",
            missing.map_err(|status| status.code())
        )
    }

    async fn serve_front(front: Front, server: TraceLayer) -> SocketAddr {
        let app = Router::new()
            .route("/run", get(run))
            .with_state(front)
            .layer(server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// The backend, counting the calls it gets.
    async fn counted_backend(harness: &Harness) -> (SocketAddr, Arc<AtomicUsize>) {
        let release = Arc::new(Notify::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let addr = serve_with(harness, release.clone(), move || {
            seen.fetch_add(1, Ordering::SeqCst);
            // Every stream may end at once.
            release.notify_one();
        })
        .await;
        (addr, calls)
    }

    #[tokio::test]
    async fn a_panicking_handler_is_recorded_as_the_internal_it_answered() {
        let harness = Harness::new();
        let collected = Collected::new("notes");
        let layer = TraceLayer::new()
            .with_tracer_provider(harness.tracer_provider.clone())
            .with_recorder(collected.recorder(&RecordSettings::default()));
        let addr = serve_behind(layer, Arc::new(Notify::new()), || {}).await;
        let mut grpc = client(addr).await;
        let answered = unary(&mut grpc, "/test.Notes/Explode", Note::default()).await;
        assert_eq!(answered.unwrap_err().code(), GrpcCode::Internal);
        let recording = collected.wait_for_one().await;
        let response = recording.exchanges[0].response.as_ref().unwrap();
        // What the client got, so that a replay of the same panic passes.
        assert_eq!(response.status, 200);
        assert!(
            response
                .headers
                .iter()
                .any(|h| h.name == "grpc-status" && h.value.as_ref() == b"13"),
            "{response:?}"
        );
    }

    #[tokio::test]
    async fn grpc_calls_recorded_with_their_trailers_replay_without_the_dependency() {
        let harness = Harness::new();
        let (backend, calls) = counted_backend(&harness).await;
        let collected = Collected::new("front");
        let recorder: Recorder = collected.recorder(&RecordSettings::default());
        let front = Front {
            backend,
            layer: client::TraceLayer::new()
                .with_tracer_provider(harness.tracer_provider.clone())
                .with_origin(&format!("http://{backend}").parse().unwrap())
                .grpc(),
        };
        let server = TraceLayer::new().with_tracer_provider(harness.tracer_provider.clone());
        let addr = serve_front(front.clone(), server.clone().with_recorder(recorder)).await;
        let recorded = reqwest::get(format!("http://{addr}/run"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(recorded, r#"Ok("hello") Err(NotFound) [1, 2]"#);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let recording = collected.wait_for_one().await;
        let grpc_calls: Vec<_> = recording
            .exchanges
            .iter()
            .filter(|exchange| exchange.kind == ExchangeKind::Client)
            .collect();
        assert_eq!(grpc_calls.len(), 3, "{recording:#?}");
        // Where the channel went, though its requests named no server.
        assert_eq!(
            grpc_calls[0].request.url,
            format!("http://{backend}/test.Notes/Say")
        );
        let status = |exchange: &crate::record::Exchange| {
            let response = exchange.response.as_ref().unwrap();
            response
                .trailers
                .iter()
                .chain(&response.headers)
                .find(|header| header.name == "grpc-status")
                .map(|header| String::from_utf8_lossy(&header.value).into_owned())
        };
        assert_eq!(status(grpc_calls[0]).as_deref(), Some("0"));
        assert!(
            grpc_calls[0]
                .response
                .as_ref()
                .unwrap()
                .trailers
                .iter()
                .any(|h| h.name == "grpc-status"),
            "a unary answer's status is in its trailers: {:#?}",
            grpc_calls[0]
        );
        assert_eq!(status(grpc_calls[1]).as_deref(), Some("5"));
        assert_eq!(status(grpc_calls[2]).as_deref(), Some("0"));

        // Replay, from the file the recording is written to.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("run.json"),
            recording.to_otlp_json().unwrap(),
        )
        .unwrap();
        let settings = RecordSettings {
            dir: dir.path().to_owned(),
            ..RecordSettings::default()
        };
        let replayer = Replayer::load(&settings, "front").unwrap();
        let id = ReplayId::of(&recording).unwrap();
        let replaying = Front {
            backend,
            layer: client::TraceLayer::new()
                .with_tracer_provider(harness.tracer_provider.clone())
                .with_origin(&format!("http://{backend}").parse().unwrap())
                .with_replayer(replayer.clone())
                .grpc(),
        };
        let addr = serve_front(replaying, server.with_replayer(replayer)).await;
        let replayed = reqwest::Client::new()
            .get(format!("http://{addr}/run"))
            .header(REPLAY_HEADER, id.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(replayed, recorded);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "the backend was called in replay"
        );
    }
}

#[tokio::test]
async fn a_call_streaming_both_ways_ends_its_spans_when_both_streams_end() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = traced_client(addr, &harness).await;

    let (notes, received) = tokio::sync::mpsc::channel::<Note>(4);
    let outgoing = futures_util::stream::unfold(received, |mut received| async move {
        received.recv().await.map(|note| (note, received))
    });
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_static("/test.Notes/Echo");
    let call = grpc.streaming(tonic::Request::new(outgoing), path, ProstCodec::default());
    let send = |code| Note {
        text: "echo".into(),
        code,
    };
    notes.send(send(1)).await.unwrap();
    let mut echoed: tonic::Streaming<Note> = call.await.unwrap().into_inner();
    assert_eq!(echoed.message().await.unwrap().unwrap().code, 1);
    notes.send(send(2)).await.unwrap();
    assert_eq!(echoed.message().await.unwrap().unwrap().code, 2);
    // Both streams still open: neither end of the call is over.
    assert!(harness.spans().is_empty(), "{:#?}", harness.spans());
    drop(notes);
    assert!(echoed.message().await.unwrap().is_none());
    let spans = harness.wait_for_spans(2).await;
    for kind in [SpanKind::Client, SpanKind::Server] {
        let span = of_kind(&spans, kind);
        assert_eq!(span.name, "test.Notes/Echo");
        assert_eq!(attr_i64(span, "rpc.grpc.status_code"), Some(0));
        assert_eq!(span.status, SpanStatus::Unset);
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_a_grpc_client_internal() {
    let harness = Harness::new();
    let addr = serve(&harness, Arc::new(Notify::new())).await;
    let mut grpc = client(addr).await;

    let status = unary(&mut grpc, "/test.Notes/Explode", Note::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), GrpcCode::Internal, "{status:?}");
    let span = harness.wait_for_spans(1).await.remove(0);
    assert_eq!(attr_i64(&span, "rpc.grpc.status_code"), Some(13));
    assert_eq!(attr_str(&span, "error.type").as_deref(), Some("INTERNAL"));
    assert!(span.events.iter().any(|event| event.name == "exception"));
    // The service goes on answering.
    assert_eq!(say(&mut grpc, 0).await.unwrap().text, "hello");
}
