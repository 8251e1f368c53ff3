//! The bodies record and replay mode hand on: [`ModeBody`], a body teed
//! into its exchange's recording or a recorded one served again, in place
//! of [`LayerBody`]'s `B`; and [`ModeResponseBody`], the server's response
//! body teed, or polled on a replayed request's recorded clock.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::LayerBody;
use crate::record::assembly::CaptureSink;
use crate::record::{MaybeTee, TeeBody};
use crate::replay::{ClockShift, ReplayedBody};

pin_project! {
    /// A body teed into its exchange's recording, or (replay mode) a
    /// recorded one served in chunks.
    #[project = ModeBodyProj]
    pub(crate) enum ModeBody<B>
    where
        B: Body,
    {
        Teed {
            #[pin]
            inner: TeeBody<B, CaptureSink>,
        },
        Replayed {
            #[pin]
            body: ReplayedBody,
        },
    }
}

impl<B: Body> LayerBody<B> {
    /// `inner`, its first `limit` bytes reported to `sink`.
    pub(crate) fn recorded(inner: B, limit: usize, sink: CaptureSink) -> Self {
        Self::mode(ModeBody::Teed {
            inner: sink.tee(inner, limit),
        })
    }

    /// A body already teed, or not.
    pub(crate) fn from_maybe(inner: MaybeTee<B, CaptureSink>) -> Self {
        match inner {
            MaybeTee::Passthrough { inner } => Self::plain(inner),
            MaybeTee::Tee { inner } => Self::mode(ModeBody::Teed { inner }),
        }
    }

    /// A recorded body served again (replay mode).
    pub(crate) fn replayed(body: ReplayedBody) -> Self {
        Self::mode(ModeBody::Replayed { body })
    }
}

impl<B: Body> std::fmt::Debug for ModeBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Teed { inner } => f.debug_tuple("Teed").field(inner).finish(),
            Self::Replayed { body } => f.debug_tuple("Replayed").field(body).finish(),
        }
    }
}

/// Frames are handed on as [`Bytes`], as [`LayerBody`] hands them on.
impl<B: Body> Body for ModeBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project() {
            ModeBodyProj::Teed { inner } => inner.poll_frame(cx).map(|frame| {
                frame.map(|frame| {
                    frame.map(|frame| {
                        frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
                    })
                })
            }),
            ModeBodyProj::Replayed { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(|never| match never {}))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Teed { inner } => inner.is_end_stream(),
            Self::Replayed { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Teed { inner } => inner.size_hint(),
            Self::Replayed { body } => body.size_hint(),
        }
    }
}

pin_project! {
    /// The server's response body in record or replay mode: teed into the
    /// exchange (record), or polled with the recorded request's wall
    /// clock (replay, when it controls the clock).
    pub(crate) struct ModeResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: MaybeTee<B, CaptureSink>,
        clock: Option<ClockShift>,
    }
}

impl<B: Body> ModeResponseBody<B> {
    pub(crate) fn new(inner: MaybeTee<B, CaptureSink>, clock: Option<ClockShift>) -> Self {
        Self { inner, clock }
    }
}

impl<B: Body> std::fmt::Debug for ModeResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModeResponseBody")
            .field("recorded", &self.inner.is_tee())
            .field("clock", &self.clock.is_some())
            .finish()
    }
}

impl<B: Body> Body for ModeResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let inner = this.inner;
        ClockShift::run(*this.clock, || inner.poll_frame(cx))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
