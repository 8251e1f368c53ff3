//! [`MaybeTee`]: a body that is either passed through as it is or teed
//! into a [`BodySink`], so one body type serves recorded and unrecorded
//! requests alike.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::{BodySink, TeeBody};

pin_project! {
    /// A body that is either `B` itself ([`Passthrough`](Self::Passthrough))
    /// or `B` wrapped in a [`TeeBody`] whose capture goes to `S`
    /// ([`Tee`](Self::Tee)). Both forward every frame,
    /// [`size_hint`](Body::size_hint) and [`is_end_stream`](Body::is_end_stream)
    /// of `B` unchanged.
    ///
    /// The passthrough variant costs nothing beyond the enum's tag: a layer
    /// that records only some requests uses it for the others.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::{BodyExt, Full};
    /// use tracetape::record::{BodyCapture, MaybeTee};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let body: MaybeTee<_, fn(BodyCapture)> = MaybeTee::passthrough(Full::new(Bytes::from("as is")));
    /// assert_eq!(body.collect().await?.to_bytes(), "as is");
    /// # Ok(())
    /// # }
    /// ```
    #[project = MaybeTeeProj]
    #[expect(
        missing_docs,
        reason = "pin_project_lite takes no doc comments on variant fields; each variant says what its `inner` is"
    )]
    pub enum MaybeTee<B, S>
    where
        B: Body,
        S: BodySink,
    {
        /// The body as it is (`inner`); nothing is captured.
        Passthrough {
            #[pin]
            inner: B,
        },
        /// The body teed into a sink (`inner`).
        Tee {
            #[pin]
            inner: TeeBody<B, S>,
        },
    }
}

impl<B, S> std::fmt::Debug for MaybeTee<B, S>
where
    B: Body,
    S: BodySink,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passthrough { .. } => f.debug_struct("Passthrough").finish_non_exhaustive(),
            Self::Tee { inner } => f.debug_struct("Tee").field("inner", inner).finish(),
        }
    }
}

impl<B, S> MaybeTee<B, S>
where
    B: Body,
    S: BodySink,
{
    /// `inner` as it is.
    pub fn passthrough(inner: B) -> Self {
        Self::Passthrough { inner }
    }

    /// `inner`, keeping at most `limit` of its bytes for `sink` (see
    /// [`TeeBody::new`]).
    pub fn tee(inner: B, limit: usize, sink: S) -> Self {
        Self::Tee {
            inner: TeeBody::new(inner, limit, sink),
        }
    }

    /// Whether the body is being captured.
    pub fn is_tee(&self) -> bool {
        matches!(self, Self::Tee { .. })
    }
}

impl<B, S> Body for MaybeTee<B, S>
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
        match self.project() {
            MaybeTeeProj::Passthrough { inner } => inner.poll_frame(cx),
            MaybeTeeProj::Tee { inner } => inner.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Passthrough { inner } => inner.is_end_stream(),
            Self::Tee { inner } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Passthrough { inner } => inner.size_hint(),
            Self::Tee { inner } => inner.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    use super::*;
    use crate::record::BodyCapture;

    #[tokio::test]
    async fn tee_captures_and_passthrough_does_not() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = move |capture: BodyCapture| tx.send(capture).unwrap();
        let body = MaybeTee::tee(Full::new(Bytes::from_static(b"abcdef")), 4, sink.clone());
        assert!(body.is_tee());
        assert_eq!(body.size_hint().exact(), Some(6));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcdef");
        let capture = rx.recv().unwrap();
        assert_eq!(capture.body.bytes, "abcd");
        assert!(capture.body.truncated);
        assert_eq!(capture.body.size, 6);

        let body =
            MaybeTee::<_, fn(BodyCapture)>::passthrough(Full::new(Bytes::from_static(b"xyz")));
        assert!(!body.is_tee());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "xyz");
        drop(sink);
        assert!(rx.recv().is_err(), "nothing captured");
    }
}
