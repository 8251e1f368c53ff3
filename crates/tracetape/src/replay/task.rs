//! [`ReplayTask`]: a task spawned in a replayed request's context (see
//! `context::spawn`), polled as the request's handler is; [`timed`]: work
//! run in a replayed request's context on another thread (see
//! `context::run_in`), its runs noted as the task's polls are.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use pin_project_lite::pin_project;

use super::polls::TaskPolls;
use super::turns::Seat;
use super::{ClockShift, ReplayScope};

pin_project! {
    /// A future polled with the wall clock of the replayed request whose
    /// context it was spawned in, its polls counted among the request's
    /// when the request takes turns with others (`turns.rs`), and noted
    /// with their thread and times when the replay detects connections
    /// bypassing tracetape (`polls.rs`).
    pub(crate) struct ReplayTask<F> {
        #[pin]
        inner: F,
        shift: Option<ClockShift>,
        seat: Option<Seat>,
        polls: Option<Arc<TaskPolls>>,
    }
}

impl<F> ReplayTask<F> {
    /// `inner`, polled with the current context's shift and seat, if any.
    pub(crate) fn current(inner: F) -> Self {
        let (seat, polls) = Context::map_current(|cx| {
            let scope = cx.get::<ReplayScope>();
            (
                scope.and_then(ReplayScope::seat).cloned(),
                scope.and_then(ReplayScope::task_polls).cloned(),
            )
        });
        Self {
            inner,
            shift: ClockShift::current(),
            seat,
            polls,
        }
    }
}

impl<F: Future> Future for ReplayTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        let _polling = this.seat.as_ref().map(Seat::polling);
        let shift = *this.shift;
        TaskPolls::time(this.polls.as_deref(), || {
            ClockShift::run(shift, || inner.poll(cx))
        })
    }
}

/// Runs `work`, noting when and on which thread among the poll times of
/// the replayed request whose context `cx` is, when they are noted.
pub(crate) fn timed<R>(cx: &Context, work: impl FnOnce() -> R) -> R {
    let polls = cx.get::<ReplayScope>().and_then(ReplayScope::task_polls);
    TaskPolls::time(polls.map(|polls| &**polls), work)
}
