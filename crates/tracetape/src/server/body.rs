//! [`ResponseBody`]: the response body, which ends the SERVER span when its
//! last frame has been sent or it is dropped; and [`RequestBody`], the
//! request body as the inner service sees it. In record mode both copy the
//! bytes that pass through them aside (see [`TraceLayer::with_recorder`](super::TraceLayer::with_recorder)).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::inflight::InFlight;
use super::recording::CaptureSink;
use crate::record::MaybeTee;
use crate::replay::ClockShift;

/// The request body as the service wrapped by [`Trace`](super::Trace)
/// receives it: `B` itself, passed on unchanged, and, when the request is
/// recorded, copied aside up to the recorder's limit as the service reads
/// it.
///
/// An axum `Router` accepts any body, so this changes nothing there; a
/// plain hyper or tower service wrapped by the layer takes
/// `Request<RequestBody<B>>` (for hyper, `RequestBody<Incoming>`).
pub type RequestBody<B> = crate::record::RecordedBody<B>;

pin_project! {
    /// The response body of [`Trace`](super::Trace).
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        // `None` for the empty body of a 500 answered for a panic.
        #[pin]
        inner: Option<MaybeTee<B, CaptureSink>>,
        inflight: Option<InFlight>,
        // Replay mode with the clock under control: the recorded request's
        // wall clock, which the body is polled with.
        clock: Option<ClockShift>,
    }
}

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inflight", &self.inflight)
            .field(
                "recorded",
                &self.inner.as_ref().is_some_and(MaybeTee::is_tee),
            )
            .finish_non_exhaustive()
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn untraced(inner: B) -> Self {
        Self {
            inner: Some(MaybeTee::passthrough(inner)),
            inflight: None,
            clock: None,
        }
    }

    pub(crate) fn traced(inner: MaybeTee<B, CaptureSink>, inflight: InFlight) -> Self {
        Self {
            inner: Some(inner),
            inflight: Some(inflight),
            clock: None,
        }
    }

    /// No body, and nothing to end: what the layer answers with itself.
    pub(crate) fn nothing() -> Self {
        Self {
            inner: None,
            inflight: None,
            clock: None,
        }
    }

    /// The body of a replayed request, polled with the request's wall
    /// clock `shift` (when the replay controls the clock).
    pub(crate) fn with_clock(mut self, shift: Option<ClockShift>) -> Self {
        self.clock = shift;
        self
    }

    pub(crate) fn empty(inflight: InFlight) -> Self {
        Self {
            inner: None,
            inflight: Some(inflight),
            clock: None,
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
        // The span is ended below, outside the shift: in real time.
        let frame = ready!(ClockShift::run(*this.clock, || inner
            .as_mut()
            .poll_frame(cx)));
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
