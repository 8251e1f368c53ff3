//! Unit tests of [`TeeBody`]: bodies driven by hand or collected, the
//! capture read from the sink; and one request body streamed through a real
//! axum server by reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};
use tokio::sync::mpsc;

use super::{BodyCapture, BodyEnd, Capture, INITIAL_CAPACITY, TeeBody};
use crate::record::{BodyRecord, DEFAULT_MAX_BODY_BYTES};

/// The error the test bodies fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TestError;

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("test body failed")
    }
}

impl std::error::Error for TestError {}

/// Every capture a sink was handed, to check it happened exactly once.
#[derive(Clone, Default)]
struct Captures(Arc<Mutex<Vec<BodyCapture>>>);

impl Captures {
    fn sink(&self) -> impl FnOnce(BodyCapture) + Send + Sync + 'static {
        let captures = self.clone();
        move |capture| captures.0.lock().unwrap().push(capture)
    }

    fn all(&self) -> Vec<BodyCapture> {
        self.0.lock().unwrap().clone()
    }

    /// The one capture delivered; fails on none or more than one.
    fn only(&self) -> BodyCapture {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one capture: {all:?}");
        all.into_iter().next().unwrap()
    }
}

fn record(bytes: &[u8], truncated: bool, size: u64) -> BodyRecord {
    BodyRecord {
        bytes: Bytes::copy_from_slice(bytes),
        truncated,
        size,
    }
}

/// A body fed frame by frame from another task; it ends when the sender is
/// dropped, so its end is only known at `Ready(None)`.
#[derive(Debug)]
struct ChannelBody {
    rx: mpsc::Receiver<Result<Frame<Bytes>, TestError>>,
    hint: SizeHint,
}

type FrameSender = mpsc::Sender<Result<Frame<Bytes>, TestError>>;

fn channel(hint: SizeHint) -> (FrameSender, ChannelBody) {
    let (tx, rx) = mpsc::channel(4);
    (tx, ChannelBody { rx, hint })
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = TestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TestError>>> {
        self.rx.poll_recv(cx)
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

/// A body of frames known in advance, of any data type; like `Full`, it
/// is at its end as soon as its last frame is out.
#[derive(Debug)]
struct FramesBody<D> {
    frames: VecDeque<Result<Frame<D>, TestError>>,
}

impl<D> FramesBody<D> {
    fn new(frames: impl IntoIterator<Item = Result<Frame<D>, TestError>>) -> Self {
        Self {
            frames: frames.into_iter().collect(),
        }
    }
}

impl<D: Buf + Unpin> Body for FramesBody<D> {
    type Data = D;
    type Error = TestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<D>, TestError>>> {
        Poll::Ready(self.frames.pop_front())
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }
}

fn data(bytes: &[u8]) -> Result<Frame<Bytes>, TestError> {
    Ok(Frame::data(Bytes::copy_from_slice(bytes)))
}

/// `len` bytes cycling through every byte value (most of them not UTF-8).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

#[tokio::test]
async fn full_body_is_captured_whole() {
    let captures = Captures::default();
    let body = TeeBody::new(
        Full::new(Bytes::from_static(b"hello world")),
        DEFAULT_MAX_BODY_BYTES,
        captures.sink(),
    );
    let read = body.collect().await.unwrap().to_bytes();
    assert_eq!(read, "hello world");
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(capture.body, record(b"hello world", false, 11));
}

// Guards against waiting for a `Ready(None)` that a reader who trusts
// `is_end_stream` (as hyper does) never asks for.
#[tokio::test]
async fn body_is_delivered_with_its_last_frame() {
    let captures = Captures::default();
    let mut body = TeeBody::new(Full::new(Bytes::from_static(b"abc")), 16, captures.sink());
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "abc");
    assert!(body.is_end_stream());
    assert_eq!(captures.only().body, record(b"abc", false, 3));
    drop(body);
    assert_eq!(captures.all().len(), 1, "dropping must not deliver again");
}

#[tokio::test]
async fn empty_body_read_to_its_end_is_complete() {
    let captures = Captures::default();
    let body = TeeBody::new(Empty::<Bytes>::new(), 16, captures.sink());
    assert!(body.collect().await.unwrap().to_bytes().is_empty());
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(capture.body, BodyRecord::default());
}

// An empty request body is often never polled: dropping it unread is its
// end, not an abandoned body.
#[test]
fn empty_body_dropped_unread_is_complete() {
    let captures = Captures::default();
    drop(TeeBody::new(Empty::<Bytes>::new(), 16, captures.sink()));
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(capture.body, BodyRecord::default());
}

#[tokio::test]
async fn streamed_chunks_are_captured_in_order() {
    let captures = Captures::default();
    let (tx, body) = channel(SizeHint::default());
    let body = TeeBody::new(body, DEFAULT_MAX_BODY_BYTES, captures.sink());
    tokio::spawn(async move {
        for chunk in [&b"first "[..], b"second ", b"", b"third"] {
            tx.send(data(chunk)).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let read = body.collect().await.unwrap().to_bytes();
    assert_eq!(read, "first second third");
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(capture.body, record(b"first second third", false, 18));
}

#[tokio::test]
async fn limit_at_one_over_and_far_over() {
    const LIMIT: usize = 100;
    for total in [LIMIT - 1, LIMIT, LIMIT + 1, LIMIT * 50] {
        let bytes = pattern(total);
        // Chunks of 7 so that the limit falls inside a frame.
        for streamed in [false, true] {
            let captures = Captures::default();
            let read = if streamed {
                let (tx, body) = channel(SizeHint::default());
                let body = TeeBody::new(body, LIMIT, captures.sink());
                let chunks: Vec<_> = bytes.chunks(7).map(Bytes::copy_from_slice).collect();
                tokio::spawn(async move {
                    for chunk in chunks {
                        tx.send(Ok(Frame::data(chunk))).await.unwrap();
                    }
                });
                body.collect().await.unwrap().to_bytes()
            } else {
                let body = Full::new(Bytes::from(bytes.clone()));
                let body = TeeBody::new(body, LIMIT, captures.sink());
                body.collect().await.unwrap().to_bytes()
            };
            assert_eq!(read, bytes, "the reader gets every byte ({total})");
            let capture = captures.only();
            assert_eq!(capture.end, BodyEnd::Complete);
            let kept = total.min(LIMIT);
            assert_eq!(
                capture.body,
                record(&bytes[..kept], total > LIMIT, total as u64),
                "total {total}, streamed {streamed}"
            );
        }
    }
}

#[tokio::test]
async fn limit_zero_copies_nothing() {
    let captures = Captures::default();
    let body = TeeBody::new(Full::new(Bytes::from_static(b"secret")), 0, captures.sink());
    assert_eq!(body.collect().await.unwrap().to_bytes(), "secret");
    assert_eq!(captures.only().body, record(b"", true, 6));

    let mut capture = Capture::new(0, None);
    capture.data(&Bytes::from_static(b"secret"), SizeHint::default(), false);
    assert_eq!(capture.kept.capacity(), 0, "nothing allocated");
}

#[tokio::test]
async fn binary_bytes_are_kept_byte_exact() {
    let mut bytes = pattern(256);
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00, 0xc3, 0x28, 0xed, 0xa0, 0x80]);
    let captures = Captures::default();
    let frames = bytes.chunks(13).map(data).collect::<Vec<_>>();
    let body = TeeBody::new(FramesBody::new(frames), 4096, captures.sink());
    assert_eq!(body.collect().await.unwrap().to_bytes(), bytes);
    assert_eq!(
        captures.only().body,
        record(&bytes, false, bytes.len() as u64)
    );
}

#[tokio::test]
async fn trailers_pass_through() {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let captures = Captures::default();
    let body = FramesBody::new([data(b"payload"), Ok(Frame::trailers(trailers.clone()))]);
    let body = TeeBody::new(body, 64, captures.sink());
    let collected = body.collect().await.unwrap();
    assert_eq!(collected.trailers(), Some(&trailers));
    assert_eq!(collected.to_bytes(), "payload");
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(capture.body, record(b"payload", false, 7));
}

#[tokio::test]
async fn error_is_passed_on_and_reported() {
    let captures = Captures::default();
    let body = FramesBody::new([data(b"partial"), Err(TestError), data(b"never")]);
    let mut body = TeeBody::new(body, 64, captures.sink());
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "partial");
    assert!(captures.all().is_empty(), "not over yet");
    assert_eq!(body.frame().await.unwrap().unwrap_err(), TestError);
    let capture = captures.only();
    assert!(matches!(
        capture.end,
        BodyEnd::Error { error_type } if error_type.ends_with("TestError")
    ));
    assert_eq!(capture.body, record(b"partial", false, 7));
    // Whatever comes after the error still reaches the reader, but is not
    // recorded, and nothing is delivered twice.
    assert_eq!(
        body.frame().await.unwrap().unwrap().into_data().unwrap(),
        "never"
    );
    drop(body);
    assert_eq!(captures.all().len(), 1);
}

#[tokio::test]
async fn dropped_mid_stream_delivers_a_partial_capture_once() {
    let captures = Captures::default();
    let (tx, body) = channel(SizeHint::default());
    let mut body = TeeBody::new(body, 64, captures.sink());
    tx.send(data(b"seen ")).await.unwrap();
    tx.send(data(b"also seen")).await.unwrap();
    body.frame().await.unwrap().unwrap();
    body.frame().await.unwrap().unwrap();
    tx.send(data(b"never read")).await.unwrap();
    drop(body);
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Incomplete);
    assert!(!capture.end.is_complete());
    assert_eq!(capture.body, record(b"seen also seen", false, 14));
}

#[tokio::test]
async fn size_hint_and_is_end_stream_are_forwarded() {
    let captures = Captures::default();
    let mut body = TeeBody::new(Full::new(Bytes::from_static(b"12345")), 2, captures.sink());
    assert_eq!(body.size_hint().exact(), Some(5));
    assert!(!body.is_end_stream());
    body.frame().await.unwrap().unwrap();
    assert_eq!(body.size_hint().exact(), Some(0));
    assert!(body.is_end_stream());

    let mut hint = SizeHint::new();
    hint.set_lower(3);
    hint.set_upper(10);
    let (_tx, inner) = channel(hint);
    let body = TeeBody::new(inner, 2, Captures::default().sink());
    assert_eq!(body.size_hint().lower(), 3);
    assert_eq!(body.size_hint().upper(), Some(10));
    assert!(!body.is_end_stream());
}

// A body of known size must cost one allocation of the kept bytes and no
// more: the buffer is sized once, exactly, and handed over without a copy.
#[test]
fn known_size_is_allocated_once_exactly() {
    // One frame, the whole body.
    let mut capture = Capture::new(DEFAULT_MAX_BODY_BYTES, None);
    capture.data(&Bytes::from(pattern(100)), SizeHint::with_exact(0), true);
    assert_eq!(capture.kept.capacity(), 100);

    // Several frames with the rest announced (a `Content-Length` body).
    let mut capture = Capture::new(DEFAULT_MAX_BODY_BYTES, None);
    let bytes = pattern(300);
    let mut pointer = None;
    for (i, chunk) in bytes.chunks(100).enumerate() {
        let rest = 200 - 100 * i as u64;
        capture.data(
            &Bytes::copy_from_slice(chunk),
            SizeHint::with_exact(rest),
            rest == 0,
        );
        assert_eq!(capture.kept.capacity(), 300);
        let now = capture.kept.as_ptr();
        assert!(pointer.is_none_or(|p| p == now), "reallocated");
        pointer = Some(now);
    }
    let record = capture.into_record();
    assert_eq!(record.bytes.as_ptr(), pointer.unwrap(), "copied at the end");
    assert_eq!(record.bytes, bytes);

    // Larger than the limit: the limit, not the size.
    let mut capture = Capture::new(50, None);
    capture.data(
        &Bytes::from(pattern(10)),
        SizeHint::with_exact(1_000_000),
        false,
    );
    assert_eq!(capture.kept.capacity(), 50);
}

#[test]
fn unknown_size_starts_small_and_never_grows_past_the_limit() {
    let mut capture = Capture::new(DEFAULT_MAX_BODY_BYTES, None);
    capture.data(&Bytes::from_static(b"tiny"), SizeHint::default(), false);
    assert_eq!(capture.kept.capacity(), INITIAL_CAPACITY);

    const LIMIT: usize = 10_000;
    let mut capture = Capture::new(LIMIT, None);
    let chunk = Bytes::from(pattern(4096));
    for _ in 0..20 {
        capture.data(&chunk, SizeHint::default(), false);
        assert!(
            capture.kept.capacity() <= LIMIT,
            "{}",
            capture.kept.capacity()
        );
    }
    assert_eq!(capture.kept.len(), LIMIT);
    let record = capture.into_record();
    assert!(record.truncated);
    assert_eq!(record.size, 20 * 4096);
    assert_eq!(
        record.bytes,
        chunk
            .iter()
            .cycle()
            .take(LIMIT)
            .copied()
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn data_in_several_pieces_is_copied_in_order() {
    let captures = Captures::default();
    let frames = [
        Ok(Frame::data(
            Bytes::from_static(b"ab").chain(Bytes::from_static(b"cd")),
        )),
        Ok(Frame::data(
            Bytes::from_static(b"ef").chain(Bytes::from_static(b"gh")),
        )),
    ];
    let body = TeeBody::new(FramesBody::new(frames), 7, captures.sink());
    let read = body.collect().await.unwrap().to_bytes();
    assert_eq!(read, "abcdefgh");
    assert_eq!(captures.only().body, record(b"abcdefg", true, 8));
}

/// Data in two pieces that only shows its first one (`Buf`'s default
/// `chunks_vectored`).
#[derive(Debug)]
struct Opaque {
    first: Bytes,
    second: Bytes,
}

impl Buf for Opaque {
    fn remaining(&self) -> usize {
        self.first.len() + self.second.len()
    }

    fn chunk(&self) -> &[u8] {
        if self.first.is_empty() {
            &self.second
        } else {
            &self.first
        }
    }

    fn advance(&mut self, mut cnt: usize) {
        let from_first = cnt.min(self.first.len());
        self.first.advance(from_first);
        cnt -= from_first;
        self.second.advance(cnt);
    }
}

// Copying past a piece that cannot be seen would leave a hole in the
// middle of the recorded body; the capture must stay a prefix instead.
#[tokio::test]
async fn hidden_pieces_end_the_copy_at_a_prefix() {
    let captures = Captures::default();
    let opaque = |a: &'static [u8], b: &'static [u8]| {
        Ok(Frame::data(Opaque {
            first: Bytes::from_static(a),
            second: Bytes::from_static(b),
        }))
    };
    let frames = [opaque(b"ab", b""), opaque(b"cd", b"ef"), opaque(b"gh", b"")];
    let body = TeeBody::new(FramesBody::new(frames), 64, captures.sink());
    let read = body.collect().await.unwrap().to_bytes();
    assert_eq!(read, "abcdefgh");
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(capture.body, record(b"abcd", true, 8));
}

// A sink is code the body does not control; its panic must not reach the
// reader.
#[tokio::test]
async fn panicking_sink_does_not_break_the_body() {
    let body = TeeBody::new(
        Full::new(Bytes::from_static(b"fine")),
        16,
        |_: BodyCapture| panic!("sink exploded"),
    );
    assert_eq!(body.collect().await.unwrap().to_bytes(), "fine");
}

#[test]
fn boxed_sinks_work_too() {
    let captures = Captures::default();
    let sink: Box<dyn FnOnce(BodyCapture) + Send> = Box::new(captures.sink());
    drop(TeeBody::new(Full::new(Bytes::from_static(b"x")), 16, sink));
    // Never polled and not at its end: abandoned.
    let capture = captures.only();
    assert_eq!(capture.end, BodyEnd::Incomplete);
    assert_eq!(capture.body, BodyRecord::default());
}

// End to end: a request body streamed in chunks by reqwest, wrapped on the
// way into an axum handler that echoes it. The handler and the client see
// every byte; the capture is the first `LIMIT` of them.
#[tokio::test]
async fn streamed_request_body_through_axum_and_reqwest() {
    use axum::Router;
    use axum::body::Body as AxumBody;
    use axum::routing::post;
    use http::{Request, StatusCode};
    use tower::util::MapRequestLayer;

    const LIMIT: usize = 10_000;
    let (captured_tx, mut captured) = mpsc::unbounded_channel();
    let tee = move |request: Request<AxumBody>| {
        let captured_tx = captured_tx.clone();
        request.map(|body| {
            AxumBody::new(TeeBody::new(body, LIMIT, move |capture: BodyCapture| {
                let _ = captured_tx.send(capture);
            }))
        })
    };
    let app = Router::new()
        .route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                // The body must really have come in chunks.
                if headers
                    .get("transfer-encoding")
                    .is_none_or(|v| v != "chunked")
                {
                    return Err(StatusCode::BAD_REQUEST);
                }
                Ok(body)
            }),
        )
        .layer(MapRequestLayer::new(tee));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let bytes = pattern(64 * 1024 + 3);
    let (tx, body) = channel(SizeHint::default());
    let chunks: Vec<_> = bytes.chunks(4096).map(Bytes::copy_from_slice).collect();
    tokio::spawn(async move {
        for chunk in chunks {
            if tx.send(Ok(Frame::data(chunk))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/echo"))
        .body(reqwest::Body::wrap(body))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), bytes);

    let capture = tokio::time::timeout(Duration::from_secs(5), captured.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(capture.end, BodyEnd::Complete);
    assert_eq!(
        capture.body,
        record(&bytes[..LIMIT], true, bytes.len() as u64)
    );
    assert!(captured.try_recv().is_err(), "delivered once");
}
