//! [`RecordedBody`]: a body that the layers hand on, teed when its
//! exchange is recorded.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::MaybeTee;
use super::assembly::CaptureSink;

pin_project! {
    /// A body passed on by tracetape's layers: `B` itself, whose frames,
    /// size hint and end it passes on unchanged. When its exchange is
    /// recorded it also keeps a copy of the bytes that pass through it, up
    /// to the recorder's limit.
    ///
    /// It is the request body a service wrapped by the server layer
    /// receives ([`server::RequestBody`](crate::server::RequestBody)), and
    /// the request and response bodies of a client wrapped by the tower
    /// client layer ([`client::RequestBody`](crate::client::RequestBody),
    /// [`client::ResponseBody`](crate::client::ResponseBody)).
    pub struct RecordedBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: MaybeTee<B, CaptureSink>,
    }
}

impl<B: Body> RecordedBody<B> {
    /// `inner`, passed on as it is.
    pub(crate) fn plain(inner: B) -> Self {
        Self {
            inner: MaybeTee::passthrough(inner),
        }
    }

    /// `inner`, its first `limit` bytes reported to `sink`.
    pub(crate) fn recorded(inner: B, limit: usize, sink: CaptureSink) -> Self {
        Self {
            inner: MaybeTee::tee(inner, limit, sink),
        }
    }

    /// A body already teed, or not.
    pub(crate) fn from_maybe(inner: MaybeTee<B, CaptureSink>) -> Self {
        Self { inner }
    }
}

impl<B: Body> std::fmt::Debug for RecordedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedBody")
            .field("recorded", &self.inner.is_tee())
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for RecordedBody<B> {
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
