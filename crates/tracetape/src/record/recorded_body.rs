//! [`RecordedBody`]: a body that the layers hand on, teed when its
//! exchange is recorded.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::MaybeTee;
use super::assembly::CaptureSink;
use crate::replay::ReplayedBody;

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
        source: Source<B>,
    }
}

pin_project! {
    /// Where the bytes come from: the live body, or (replay mode) a
    /// recorded one served in chunks.
    #[project = SourceProj]
    enum Source<B>
    where
        B: Body,
    {
        Live {
            #[pin]
            inner: MaybeTee<B, CaptureSink>,
        },
        Replayed {
            #[pin]
            body: ReplayedBody,
        },
    }
}

impl<B: Body> RecordedBody<B> {
    /// `inner`, passed on as it is.
    pub(crate) fn plain(inner: B) -> Self {
        Self::from_maybe(MaybeTee::passthrough(inner))
    }

    /// `inner`, its first `limit` bytes reported to `sink`.
    pub(crate) fn recorded(inner: B, limit: usize, sink: CaptureSink) -> Self {
        Self::from_maybe(MaybeTee::tee(inner, limit, sink))
    }

    /// A body already teed, or not.
    pub(crate) fn from_maybe(inner: MaybeTee<B, CaptureSink>) -> Self {
        Self {
            source: Source::Live { inner },
        }
    }

    /// Recorded bytes served again, in chunks (replay mode).
    pub(crate) fn replayed(bytes: Bytes) -> Self {
        Self {
            source: Source::Replayed {
                body: ReplayedBody::new(bytes),
            },
        }
    }
}

impl<B: Body> std::fmt::Debug for RecordedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("RecordedBody");
        match &self.source {
            Source::Live { inner } => debug.field("recorded", &inner.is_tee()),
            Source::Replayed { body } => debug.field("replayed", body),
        };
        debug.finish_non_exhaustive()
    }
}

/// Frames are handed on as [`Bytes`], whatever `B`'s data type: `Bytes`
/// itself passes through without a copy (what hyper, axum and reqwest
/// bodies carry), any other buffer is copied into one.
impl<B: Body> Body for RecordedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().source.project() {
            SourceProj::Live { inner } => inner.poll_frame(cx).map(|frame| {
                frame.map(|frame| {
                    frame.map(|frame| {
                        frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
                    })
                })
            }),
            SourceProj::Replayed { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(|never| match never {}))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Live { inner } => inner.is_end_stream(),
            Source::Replayed { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.source {
            Source::Live { inner } => inner.size_hint(),
            Source::Replayed { body } => body.size_hint(),
        }
    }
}
