//! [`ReplayTask`]: a task spawned in a replayed request's context (see
//! `context::spawn`), polled as the request's handler is.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use pin_project_lite::pin_project;

use super::turns::Seat;
use super::{ClockShift, ReplayScope};

pin_project! {
    /// A future polled with the wall clock of the replayed request whose
    /// context it was spawned in, its polls counted among the request's
    /// when the request takes turns with others (`turns.rs`).
    pub(crate) struct ReplayTask<F> {
        #[pin]
        inner: F,
        shift: Option<ClockShift>,
        seat: Option<Seat>,
    }
}

impl<F> ReplayTask<F> {
    /// `inner`, polled with the current context's shift and seat, if any.
    pub(crate) fn current(inner: F) -> Self {
        let seat =
            Context::map_current(|cx| cx.get::<ReplayScope>().and_then(ReplayScope::seat).cloned());
        Self {
            inner,
            shift: ClockShift::current(),
            seat,
        }
    }
}

impl<F: Future> Future for ReplayTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        let _polling = this.seat.as_ref().map(Seat::polling);
        ClockShift::run(*this.shift, || inner.poll(cx))
    }
}
