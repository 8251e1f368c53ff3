//! What carrying a context does for a replayed request (replay mode):
//! code run in its context runs on its recorded wall clock, and a task
//! spawned in it is polled as its handler is. The one place the context
//! helpers meet replay mode; a build without the `record-replay` feature
//! has no replayed request, and these do nothing.

use std::future::Future;

use opentelemetry::Context;

/// Runs `f`, on the recorded clock of the replayed request whose context
/// `cx` is, if any, and noted among its poll times (which thread ran its
/// work when).
#[cfg(feature = "record-replay")]
pub(crate) fn run<R>(cx: &Context, f: impl FnOnce() -> R) -> R {
    crate::replay::timed(cx, || {
        crate::replay::ClockShift::run(crate::replay::ClockShift::of(cx), f)
    })
}

/// Runs `f`.
#[cfg(not(feature = "record-replay"))]
pub(crate) fn run<R>(_: &Context, f: impl FnOnce() -> R) -> R {
    f()
}

/// `future`, polled on the recorded clock of the replayed request whose
/// context is current, if any, and counted among its futures.
#[cfg(feature = "record-replay")]
pub(crate) fn task<F: Future>(future: F) -> crate::replay::ReplayTask<F> {
    crate::replay::ReplayTask::current(future)
}

/// `future` itself.
#[cfg(not(feature = "record-replay"))]
pub(crate) fn task<F: Future>(future: F) -> F {
    future
}
