//! [`ResponseBody`]: the response body, which ends the SERVER span when its
//! last frame has been sent or it is dropped.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::inflight::InFlight;

pin_project! {
    /// The response body of [`Trace`](super::Trace).
    pub struct ResponseBody<B> {
        // `None` for the empty body of a 500 answered for a panic.
        #[pin]
        inner: Option<B>,
        inflight: Option<InFlight>,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inflight", &self.inflight)
            .finish_non_exhaustive()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn untraced(inner: B) -> Self {
        Self {
            inner: Some(inner),
            inflight: None,
        }
    }

    pub(crate) fn traced(inner: B, inflight: InFlight) -> Self {
        Self {
            inner: Some(inner),
            inflight: Some(inflight),
        }
    }

    pub(crate) fn empty(inflight: InFlight) -> Self {
        Self {
            inner: None,
            inflight: Some(inflight),
        }
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
        let Some(mut inner) = this.inner.as_pin_mut() else {
            end(this.inflight);
            return Poll::Ready(None);
        };
        let frame = ready!(inner.as_mut().poll_frame(cx));
        match &frame {
            None => end(this.inflight),
            Some(Ok(_)) if inner.is_end_stream() => end(this.inflight),
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
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) => inner.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

fn end(inflight: &mut Option<InFlight>) {
    if let Some(mut inflight) = inflight.take() {
        inflight.end();
    }
}
