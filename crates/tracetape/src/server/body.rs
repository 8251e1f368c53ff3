//! [`ResponseBody`]: the response body, which ends the SERVER span when its
//! last frame has been sent or it is dropped; and [`RequestBody`], the
//! request body as the inner service sees it. In record mode both copy the
//! bytes that pass through them aside.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::inflight::InFlight;
use crate::body::{LayerBody, ModeResponseBody};

/// The request body as the service wrapped by [`Trace`](super::Trace)
/// receives it: `B` itself, passed on unchanged, and, when the request is
/// recorded, copied aside up to the recorder's limit as the service reads
/// it.
///
/// An axum `Router` accepts any body, so this changes nothing there; a
/// plain hyper or tower service wrapped by the layer takes
/// `Request<RequestBody<B>>` (for hyper, `RequestBody<Incoming>`).
pub type RequestBody<B> = LayerBody<B>;

pin_project! {
    /// The response body of [`Trace`](super::Trace).
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: Inner<B>,
        inflight: Option<InFlight>,
    }
}

pin_project! {
    /// What the response body sends.
    #[project = InnerProj]
    pub(crate) enum Inner<B>
    where
        B: Body,
    {
        // No body: the 500 answered for a panic, or the layer's own answer.
        Empty,
        // The handler's body, as it is.
        Passed {
            #[pin]
            inner: B,
        },
        // The handler's body in record or replay mode.
        Mode {
            #[pin]
            inner: ModeResponseBody<B>,
        },
    }
}

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("ResponseBody");
        debug.field("inflight", &self.inflight);
        if let Inner::Mode { inner } = &self.inner {
            debug.field("mode", inner);
        }
        debug.finish_non_exhaustive()
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn untraced(inner: B) -> Self {
        Self {
            inner: Inner::Passed { inner },
            inflight: None,
        }
    }

    pub(crate) fn traced(inner: Inner<B>, inflight: InFlight) -> Self {
        Self {
            inner,
            inflight: Some(inflight),
        }
    }

    /// No body, and nothing to end: what the layer answers with itself.
    #[cfg_attr(
        not(feature = "record-replay"),
        expect(dead_code, reason = "only replay mode answers by itself")
    )]
    pub(crate) fn nothing() -> Self {
        Self {
            inner: Inner::Empty,
            inflight: None,
        }
    }

    pub(crate) fn empty(inflight: InFlight) -> Self {
        Self::traced(Inner::Empty, inflight)
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let (frame, at_end) = match this.inner.project() {
            InnerProj::Empty => (None, true),
            InnerProj::Passed { mut inner } => {
                let frame = ready!(inner.as_mut().poll_frame(cx));
                (frame, inner.is_end_stream())
            }
            InnerProj::Mode { mut inner } => {
                let frame = ready!(inner.as_mut().poll_frame(cx));
                (frame, inner.is_end_stream())
            }
        };
        if let (Some(Ok(frame)), Some(inflight)) = (&frame, this.inflight.as_mut())
            && let Some(trailers) = frame.trailers_ref()
        {
            inflight.trailers(trailers);
        }
        match &frame {
            None => end(this.inflight),
            Some(Ok(_)) if at_end => end(this.inflight),
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                if let Some(inflight) = this.inflight.as_mut() {
                    inflight.set_error(std::any::type_name::<B::Error>());
                }
                end(this.inflight);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Passed { inner } => inner.is_end_stream(),
            Inner::Mode { inner } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Passed { inner } => inner.size_hint(),
            Inner::Mode { inner } => inner.size_hint(),
        }
    }
}

fn end(inflight: &mut Option<InFlight>) {
    if let Some(mut inflight) = inflight.take() {
        inflight.end();
    }
}
