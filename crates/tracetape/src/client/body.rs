//! [`RequestBody`]: the request body as the client wrapped by
//! [`Trace`](super::Trace) sends it; and [`ResponseBody`], the response
//! body as the caller reads it. In record mode both copy the bytes that
//! pass through them aside (see [`TraceLayer::with_recorder`](super::TraceLayer::with_recorder)).

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::recording::CaptureSink;
use crate::record::MaybeTee;

pin_project! {
    /// The request body as the client service wrapped by
    /// [`Trace`](super::Trace) receives it: `B` itself, whose frames, size
    /// hint and end it passes on unchanged. When the attempt is recorded it
    /// also keeps a copy of the bytes the client sends, up to the
    /// recorder's limit.
    ///
    /// hyper-util's client is generic over its body, so it takes this one
    /// as it took `B` (`Client<_, RequestBody<B>>`, built with
    /// `build_http::<RequestBody<B>>()` or inferred); a hand-written inner
    /// service takes `Request<RequestBody<B>>`.
    pub struct RequestBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: MaybeTee<B, CaptureSink>,
    }
}

impl<B: Body> RequestBody<B> {
    pub(crate) fn plain(inner: B) -> Self {
        Self {
            inner: MaybeTee::passthrough(inner),
        }
    }

    pub(crate) fn recorded(inner: B, limit: usize, sink: CaptureSink) -> Self {
        Self {
            inner: MaybeTee::tee(inner, limit, sink),
        }
    }
}

impl<B: Body> std::fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("recorded", &self.inner.is_tee())
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for RequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// The response body of [`Trace`](super::Trace): the inner client's
    /// body `B`, passed on unchanged. When the attempt is recorded it also
    /// keeps a copy of the bytes the caller reads, up to the recorder's
    /// limit, and finishes the exchange when the body ends or is dropped.
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: MaybeTee<B, CaptureSink>,
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: MaybeTee<B, CaptureSink>) -> Self {
        Self { inner }
    }
}

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("recorded", &self.inner.is_tee())
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
