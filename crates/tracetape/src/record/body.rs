//! [`TeeBody`]: a body that lets every frame through untouched while it
//! keeps a copy of the first bytes, and hands that copy to a [`BodySink`]
//! once the body is over.
//!
//! The copy is a prefix of what crossed the wire, byte for byte (still
//! compressed if the body was), capped at a limit. Bytes past the limit are
//! counted but not kept. The reader is never made to wait for the copy:
//! each frame is passed on in the same poll that produced it.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::budget::Held;
use super::{BodyRecord, HeaderRecord};

/// The first allocation for a body whose size is not known in advance,
/// unless the limit is smaller. Later growth doubles, up to the limit.
const INITIAL_CAPACITY: usize = 4 * 1024;

/// How many separate pieces of one data frame are looked at when the frame
/// is not one contiguous slice.
const MAX_SLICES: usize = 16;

/// How a captured body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyEnd {
    /// The body reached its end: every byte it had was seen (and kept, up
    /// to the limit).
    Complete,
    /// The body failed part-way. The error itself went on to the reader
    /// unchanged; the capture holds what was seen before it.
    Error {
        /// The Rust type of the body's error, usable as an `error.type`.
        error_type: &'static str,
    },
    /// The body was dropped before its end (the reader stopped reading,
    /// e.g. the peer went away or the handler never read it); the capture
    /// holds what was seen.
    Incomplete,
}

impl BodyEnd {
    /// Whether the body reached its end.
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete)
    }
}

/// What a [`TeeBody`] hands its [`BodySink`]: the bytes kept and how the
/// body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyCapture {
    /// The kept prefix, whether bytes were left out, and the size of all
    /// the bytes seen.
    pub body: BodyRecord,
    /// How the body ended.
    pub end: BodyEnd,
    /// The trailers that followed the data, in order; empty when there
    /// were none.
    pub trailers: Vec<HeaderRecord>,
}

/// Receives the capture of a [`TeeBody`], exactly once, when the body ends,
/// fails or is dropped.
///
/// Any `FnOnce(BodyCapture)` closure is a sink, and so is a
/// `Box<dyn FnOnce(BodyCapture) + Send>` when one body type must serve
/// several kinds of sink. A sink runs on the reader's task, inside its poll
/// or its drop, so it should be quick (hand the capture on, don't write it
/// out). A panicking sink is reported once and otherwise ignored.
pub trait BodySink {
    /// Takes the finished capture.
    fn finish(self, capture: BodyCapture);
}

impl<F> BodySink for F
where
    F: FnOnce(BodyCapture),
{
    fn finish(self, capture: BodyCapture) {
        self(capture);
    }
}

pin_project! {
    /// A body that passes every frame of `B` through unchanged (data,
    /// trailers, errors, [`size_hint`](Body::size_hint) and
    /// [`is_end_stream`](Body::is_end_stream)) while it copies the first
    /// `limit` data bytes aside, then gives that copy to its sink `S` once:
    /// when the body ends, fails, or is dropped before its end.
    ///
    /// Nothing is buffered ahead of the reader: a frame is handed on in the
    /// poll that produced it. Bytes past the limit are only counted; with a
    /// limit of 0 nothing is copied at all. The copy grows with the body and
    /// never beyond the limit, and for a body whose size is known up front
    /// it is allocated once, at its final size.
    ///
    /// A data frame that is not one contiguous slice is read through
    /// [`Buf::chunks_vectored`]; should a piece of it stay out of sight,
    /// copying stops there so that the bytes kept are always an exact
    /// prefix of the body (the capture is then marked truncated).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, Full};
    /// use tracetape::record::{BodyCapture, TeeBody};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// // Keep at most 5 bytes of this body.
    /// let body = TeeBody::new(Full::new(Bytes::from("hello, world")), 5, move |capture: BodyCapture| {
    ///     let _ = tx.send(capture);
    /// });
    ///
    /// // The reader gets the whole body, as if it were not wrapped...
    /// let read = body.collect().await?.to_bytes();
    /// assert_eq!(read, "hello, world");
    ///
    /// // ...and the sink gets the first 5 bytes and the full size.
    /// let capture = rx.recv()?;
    /// assert!(capture.end.is_complete());
    /// assert_eq!(capture.body.bytes, "hello");
    /// assert!(capture.body.truncated);
    /// assert_eq!(capture.body.size, 12);
    /// # Ok(())
    /// # }
    /// ```
    pub struct TeeBody<B, S>
    where
        B: Body,
        S: BodySink,
    {
        #[pin]
        inner: B,
        capture: Capture,
        // `None` once the capture has been delivered.
        sink: Option<S>,
    }

    impl<B, S> PinnedDrop for TeeBody<B, S>
    where
        B: Body,
        S: BodySink,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A body that was already at its end (say an empty request
            // body that nobody polled) is complete, not abandoned.
            let end = if this.inner.is_end_stream() {
                BodyEnd::Complete
            } else {
                BodyEnd::Incomplete
            };
            deliver(this.sink, this.capture, end);
        }
    }
}

impl<B, S> TeeBody<B, S>
where
    B: Body,
    S: BodySink,
{
    /// Wraps `inner`, keeping at most `limit` of its bytes for `sink`
    /// (record mode uses [`DEFAULT_MAX_BODY_BYTES`](super::DEFAULT_MAX_BODY_BYTES)
    /// unless configured).
    pub fn new(inner: B, limit: usize, sink: S) -> Self {
        Self {
            inner,
            capture: Capture::new(limit, None),
            sink: Some(sink),
        }
    }

    /// As [`new`](Self::new), buffering only what `held` can take from
    /// its recorder's budget.
    pub(crate) fn budgeted(inner: B, limit: usize, held: Arc<Held>, sink: S) -> Self {
        Self {
            inner,
            capture: Capture::new(limit, Some(held)),
            sink: Some(sink),
        }
    }
}

impl<B, S> std::fmt::Debug for TeeBody<B, S>
where
    B: Body,
    S: BodySink,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeeBody")
            .field("capture", &self.capture)
            .field("delivered", &self.sink.is_none())
            .finish_non_exhaustive()
    }
}

impl<B, S> Body for TeeBody<B, S>
where
    B: Body,
    S: BodySink,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if this.sink.is_none() {
            // Delivered already: whatever a body sends past its end is not
            // part of the recording.
            return Poll::Ready(frame);
        }
        match &frame {
            Some(Ok(frame)) => {
                let last = this.inner.is_end_stream();
                if let Some(data) = frame.data_ref() {
                    this.capture.data(data, this.inner.size_hint(), last);
                }
                if let Some(trailers) = frame.trailers_ref() {
                    this.capture.trailers = super::capture::header_records(trailers);
                }
                if last {
                    deliver(this.sink, this.capture, BodyEnd::Complete);
                }
            }
            Some(Err(_)) => {
                let end = BodyEnd::Error {
                    error_type: std::any::type_name::<B::Error>(),
                };
                deliver(this.sink, this.capture, end);
            }
            None => deliver(this.sink, this.capture, BodyEnd::Complete),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Hands the capture to the sink, unless that has happened already.
fn deliver<S: BodySink>(sink: &mut Option<S>, capture: &mut Capture, end: BodyEnd) {
    if let Some(sink) = sink.take() {
        let mut capture = std::mem::take(capture);
        let trailers = std::mem::take(&mut capture.trailers);
        let capture = BodyCapture {
            body: capture.into_record(),
            end,
            trailers,
        };
        // Nothing to do about a panicking sink but to report it: the body
        // itself must go on (or finish dropping) regardless.
        let _ = crate::hook::guarded("record.body_sink", || sink.finish(capture));
    }
}

/// The bytes kept so far and the count of all bytes seen.
///
/// A `Vec` rather than a `BytesMut`: `BytesMut::reserve` grows
/// geometrically and may overshoot the limit by up to twice, while
/// `Vec::reserve_exact` lets the capacity stop at the limit. Turning the
/// `Vec` into [`Bytes`] at the end copies nothing, and allocates nothing
/// when it is exactly full (a body of known size, or a truncated one).
#[derive(Debug, Default)]
struct Capture {
    kept: Vec<u8>,
    /// Never below `kept.len()`; lowered to it when copying has to stop
    /// early (see [`Capture::data`]).
    limit: usize,
    size: u64,
    /// Where the buffer's bytes are taken from, in record mode (see
    /// `budget.rs`).
    held: Option<Arc<Held>>,
    /// The body's trailers, once its trailers frame has passed.
    trailers: Vec<HeaderRecord>,
}

impl Capture {
    fn new(limit: usize, held: Option<Arc<Held>>) -> Self {
        Self {
            kept: Vec::new(),
            limit,
            size: 0,
            held,
            trailers: Vec::new(),
        }
    }

    /// Counts the bytes of one data frame and copies what fits under the
    /// limit. `remaining` is the body's size hint after this frame and
    /// `last` whether the body is now at its end; both only size the
    /// buffer.
    fn data<D: Buf>(&mut self, data: &D, remaining: SizeHint, last: bool) {
        let len = data.remaining();
        self.size = self
            .size
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        let wanted = len.min(self.limit.saturating_sub(self.kept.len()));
        if wanted == 0 {
            return;
        }
        let wanted = self.reserve(wanted, remaining, last);
        if wanted == 0 {
            return;
        }

        let chunk = data.chunk();
        if chunk.len() >= wanted {
            self.kept.extend_from_slice(&chunk[..wanted]);
            return;
        }
        // Not one contiguous slice (a `Chain`, a `VecDeque`...): look at
        // its pieces without consuming them.
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count = data.chunks_vectored(&mut slices);
        let mut left = wanted;
        for slice in &slices[..count] {
            let take = left.min(slice.len());
            self.kept.extend_from_slice(&slice[..take]);
            left -= take;
            if left == 0 {
                return;
            }
        }
        // The rest of this frame cannot be read without consuming it, which
        // would take it from the reader. Stop here so that what is kept
        // stays an exact prefix; the size still counts everything.
        self.limit = self.kept.len();
    }

    /// Makes room for `wanted` more bytes, never beyond the limit: exactly
    /// the body's size when the hint knows it, otherwise a small first
    /// buffer that doubles. Returns how many of them fit: fewer when the
    /// recorder's budget is spent, and then copying stops there for good,
    /// so that what is kept stays a prefix.
    fn reserve(&mut self, wanted: usize, remaining: SizeHint, last: bool) -> usize {
        let needed = self.kept.len().saturating_add(wanted);
        if needed <= self.kept.capacity() {
            return wanted;
        }
        let target = if last {
            needed
        } else if let Some(exact) = remaining.exact() {
            needed.saturating_add(usize::try_from(exact).unwrap_or(usize::MAX))
        } else {
            let floor = match self.kept.capacity() {
                0 => INITIAL_CAPACITY,
                capacity => capacity.saturating_mul(2),
            };
            let lower = usize::try_from(remaining.lower()).unwrap_or(usize::MAX);
            needed.saturating_add(lower).max(floor)
        };
        // `needed` is within the limit, so this never shrinks the request.
        let mut target = target.min(self.limit).max(needed);
        if let Some(held) = &self.held {
            let capacity = self.kept.capacity();
            target = capacity + held.take(target - capacity);
            if target < needed {
                held.note_cut();
                self.limit = target;
            }
        }
        if target > self.kept.len() {
            self.kept.reserve_exact(target - self.kept.len());
        }
        wanted.min(target.saturating_sub(self.kept.len()))
    }

    fn into_record(self) -> BodyRecord {
        let kept = u64::try_from(self.kept.len()).unwrap_or(u64::MAX);
        BodyRecord {
            truncated: self.size > kept,
            size: self.size,
            bytes: Bytes::from(self.kept),
        }
    }
}

#[cfg(test)]
mod tests;
