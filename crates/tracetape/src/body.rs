//! [`LayerBody`]: the body tracetape's layers hand on, `B` passed through
//! as it is; and the body types that record and replay mode put in its
//! place (`mode.rs`), which a tracing-only build has none of
//! (`unbuilt.rs`: the same names, bodies that cannot exist).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

#[cfg(feature = "record-replay")]
mod mode;
#[cfg(not(feature = "record-replay"))]
mod unbuilt;

#[cfg(feature = "record-replay")]
pub(crate) use mode::{ModeBody, ModeResponseBody};
#[cfg(not(feature = "record-replay"))]
pub(crate) use unbuilt::{Unbuilt as ModeBody, Unbuilt as ModeResponseBody};

pin_project! {
    /// A body passed on by tracetape's layers: `B` itself, whose frames,
    /// size hint and end it passes on unchanged. In record mode it also
    /// keeps a copy of the bytes that pass through it, up to the
    /// recorder's limit; in replay mode it may serve a recorded body
    /// instead.
    ///
    /// It is the request body a service wrapped by the server layer
    /// receives ([`server::RequestBody`](crate::server::RequestBody)), and
    /// the request and response bodies of a client wrapped by the tower
    /// client layer ([`client::RequestBody`](crate::client::RequestBody),
    /// [`client::ResponseBody`](crate::client::ResponseBody)).
    pub struct LayerBody<B>
    where
        B: Body,
    {
        #[pin]
        source: Source<B>,
    }
}

pin_project! {
    /// Where the bytes come from.
    #[project = SourceProj]
    enum Source<B>
    where
        B: Body,
    {
        // `B`, as it is.
        Passed {
            #[pin]
            inner: B,
        },
        // `B` teed, or a recorded body (record and replay mode).
        Mode {
            #[pin]
            inner: ModeBody<B>,
        },
    }
}

impl<B: Body> LayerBody<B> {
    /// `inner`, passed on as it is.
    pub(crate) fn plain(inner: B) -> Self {
        Self {
            source: Source::Passed { inner },
        }
    }

    /// The body record or replay mode hands on instead.
    #[cfg_attr(
        not(feature = "record-replay"),
        expect(dead_code, reason = "no such body without record and replay")
    )]
    pub(crate) fn mode(inner: ModeBody<B>) -> Self {
        Self {
            source: Source::Mode { inner },
        }
    }
}

impl<B: Body> std::fmt::Debug for LayerBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("LayerBody");
        if let Source::Mode { inner } = &self.source {
            debug.field("mode", inner);
        }
        debug.finish_non_exhaustive()
    }
}

/// Frames are handed on as [`Bytes`], whatever `B`'s data type: `Bytes`
/// itself passes through without a copy (what hyper, axum and reqwest
/// bodies carry), any other buffer is copied into one.
impl<B: Body> Body for LayerBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().source.project() {
            SourceProj::Passed { inner } => inner.poll_frame(cx).map(to_bytes),
            SourceProj::Mode { inner } => inner.poll_frame(cx).map(to_bytes),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Passed { inner } => inner.is_end_stream(),
            Source::Mode { inner } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.source {
            Source::Passed { inner } => inner.size_hint(),
            Source::Mode { inner } => inner.size_hint(),
        }
    }
}

/// A frame with its data as [`Bytes`].
fn to_bytes<D: Buf, E>(frame: Option<Result<Frame<D>, E>>) -> Option<Result<Frame<Bytes>, E>> {
    frame.map(|frame| {
        frame.map(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
    })
}
