//! [`RequestBody`]: the request body as the client wrapped by
//! [`Trace`](super::Trace) sends it; and [`ResponseBody`], the response
//! body as the caller reads it. In record mode both copy the bytes that
//! pass through them aside.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::attempt::Attempt;
use crate::body::LayerBody;

/// The request body as the client service wrapped by
/// [`Trace`](super::Trace) receives it: `B` itself, passed on unchanged,
/// and, when the attempt is recorded, copied aside up to the recorder's
/// limit as the client sends it.
///
/// hyper-util's client is generic over its body, so it takes this one as
/// it took `B` (`Client<_, RequestBody<B>>`, built with
/// `build_http::<RequestBody<B>>()` or inferred); a hand-written inner
/// service takes `Request<RequestBody<B>>`.
pub type RequestBody<B> = LayerBody<B>;

pin_project! {
    /// The response body of [`Trace`](super::Trace): the inner client's
    /// body `B`, passed on unchanged, and, when the attempt is recorded,
    /// copied aside up to the recorder's limit as the caller reads it;
    /// the exchange is finished when it ends or is dropped. A gRPC call's
    /// span ends with it too: its status is in the trailers, after the
    /// last message of a stream.
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: LayerBody<B>,
        // A gRPC call under way, ended with the body.
        call: Option<Attempt>,
    }
}

impl<B: Body> ResponseBody<B> {
    /// `inner`, ending `call` (when it goes on past the response head)
    /// with it.
    pub(crate) fn new(inner: LayerBody<B>, call: Option<Attempt>) -> Self {
        Self { inner, call }
    }
}

impl<B: Body> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("call", &self.call)
            .finish()
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let Some(call) = this.call.as_mut() else {
            return Poll::Ready(frame);
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    call.trailers(trailers);
                }
                if this.inner.is_end_stream()
                    && let Some(call) = this.call.take()
                {
                    call.end_call(None);
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.take() {
                    call.end_call(Some(std::any::type_name::<B::Error>()));
                }
            }
            None => {
                if let Some(call) = this.call.take() {
                    call.end_call(None);
                }
            }
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
