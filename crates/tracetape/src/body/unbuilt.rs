//! Without record and replay mode, the bodies they would hand on cannot
//! exist: [`Unbuilt`] has no value, so the layers' body types keep one
//! shape in both builds and the arms for these bodies are never taken.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame};

/// A body of `B`'s types that no value has.
pub(crate) struct Unbuilt<B> {
    never: Infallible,
    body: PhantomData<fn() -> B>,
}

impl<B> std::fmt::Debug for Unbuilt<B> {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.never {}
    }
}

impl<B: Body> Body for Unbuilt<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.never {}
    }
}
