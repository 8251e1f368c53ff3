//! tokio tasks and blocking work that run in the context of their caller.

use std::future::Future;

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use tokio::task::JoinHandle;

/// [`tokio::spawn`], with the caller's context attached while the task is
/// polled.
///
/// A plain `tokio::spawn` starts its task with no context: spans and
/// outbound requests made there start new traces. This one captures
/// [`Context::current()`] (the parent span, baggage and every other value)
/// where it is called, and attaches it at each poll of the task, on
/// whichever worker thread runs it. The task may outlive the caller, a
/// request for one: its spans still join the request's trace.
///
/// The same as `tokio::spawn(future.with_current_context())`, which is the
/// shape to use with `JoinSet::spawn`, `spawn_local` or a `Handle`.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// # #[tokio::main]
/// # async fn main() {
/// let tracer = SdkTracerProvider::builder().build().tracer("orders");
/// let parent = tracer.start("checkout");
/// let cx = opentelemetry::Context::current_with_span(parent);
/// let _attached = cx.clone().attach();
///
/// let task = tracetape::context::spawn(async {
///     // Runs on another worker, in the "checkout" span.
///     opentelemetry::Context::current().span().span_context().span_id()
/// });
/// assert_eq!(task.await.ok(), Some(cx.span().span_context().span_id()));
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // In a replayed request's context, polled on its recorded clock, and
    // counted among its futures.
    tokio::spawn(super::replayed::task(future.with_current_context()))
}

/// [`tokio::task::spawn_blocking`], with the caller's context attached
/// while `f` runs on the blocking thread.
///
/// A plain `spawn_blocking` runs `f` on a thread of tokio's blocking pool
/// with no context. This one captures [`Context::current()`] where it is
/// called.
///
/// # Panics
///
/// Outside a tokio runtime, as `spawn_blocking` does.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::KeyValue;
///
/// # #[tokio::main]
/// # async fn main() {
/// let cx = opentelemetry::Context::current_with_baggage([KeyValue::new("tenant", "t-1")]);
/// let _attached = cx.attach();
///
/// let tenant = tracetape::context::spawn_blocking(|| {
///     // On the blocking pool, with the caller's baggage.
///     opentelemetry::Context::current()
///         .baggage()
///         .get("tenant")
///         .map(|value| value.to_string())
/// })
/// .await;
/// assert_eq!(tenant.ok().flatten().as_deref(), Some("t-1"));
/// # }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let cx = Context::current();
    tokio::task::spawn_blocking(move || super::run_in(&cx, f))
}
