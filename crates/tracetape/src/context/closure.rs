//! Closures that run in the context of the code that made them, wherever
//! they are called: a thread pool, a library's own thread, a callback.

use opentelemetry::Context;

/// Wraps `f` so that it runs in the context current now (where `bind` is
/// called), on whichever thread calls it later.
///
/// For work handed to a thread pool or a library as a `FnOnce()`:
/// `rayon::spawn`, `ThreadPool::install`, `std::thread::scope`'s `spawn`, a
/// one-shot callback. For closures called many times see [`bind_fn`] and
/// [`bind_fn_mut`].
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// let tracer = SdkTracerProvider::builder().build().tracer("import");
/// tracer.in_span("import", |cx| {
///     let work = tracetape::context::bind(|| {
///         opentelemetry::Context::current().span().span_context().span_id()
///     });
///     // Any thread will do: the closure brings the "import" span along.
///     let seen = std::thread::spawn(work).join().ok();
///     assert_eq!(seen, Some(cx.span().span_context().span_id()));
/// });
/// ```
pub fn bind<F, R>(f: F) -> impl FnOnce() -> R
where
    F: FnOnce() -> R,
{
    let cx = Context::current();
    move || run_in(&cx, f)
}

/// Wraps `f` so that every call runs in the context current now (where
/// `bind_fn` is called), on whichever thread makes it.
///
/// The shape of rayon's `par_iter().map(...)` and `for_each`, and of
/// callbacks a library calls with one argument. The result is `Send` and
/// `Sync` when `f` is.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use rayon::prelude::*;
///
/// let tracer = SdkTracerProvider::builder().build().tracer("resize");
/// tracer.in_span("resize all", |cx| {
///     let parents: Vec<_> = (0..8)
///         .into_par_iter()
///         .map(tracetape::context::bind_fn(|_image| {
///             // On a rayon worker, in the "resize all" span.
///             opentelemetry::Context::current().span().span_context().span_id()
///         }))
///         .collect();
///     assert!(parents.iter().all(|id| *id == cx.span().span_context().span_id()));
/// });
/// ```
pub fn bind_fn<F, A, R>(f: F) -> impl Fn(A) -> R
where
    F: Fn(A) -> R,
{
    let cx = Context::current();
    move |arg| run_in(&cx, || f(arg))
}

/// Wraps `f` so that every call runs in the context current now (where
/// `bind_fn_mut` is called); for callbacks that keep state of their own.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::KeyValue;
///
/// let cx = opentelemetry::Context::current_with_baggage([KeyValue::new("job", "7")]);
/// let mut seen = Vec::new();
/// let mut on_line = {
///     let _attached = cx.attach();
///     tracetape::context::bind_fn_mut(|line: &str| {
///         let job = opentelemetry::Context::current().baggage().get("job").map(|v| v.to_string());
///         seen.push(format!("{line} {}", job.unwrap_or_default()));
///     })
/// };
/// on_line("started");
/// on_line("done");
/// drop(on_line);
/// assert_eq!(seen, ["started 7", "done 7"]);
/// ```
pub fn bind_fn_mut<F, A, R>(mut f: F) -> impl FnMut(A) -> R
where
    F: FnMut(A) -> R,
{
    let cx = Context::current();
    move |arg| run_in(&cx, || f(arg))
}

/// Runs `f` with `cx` attached, and detaches it when `f` returns or
/// panics.
///
/// For callbacks of any other shape: capture the context where the
/// callback is made, and run its body in it.
///
/// ```
/// use opentelemetry::Context;
///
/// #[derive(Debug, PartialEq)]
/// struct Tenant(&'static str);
///
/// let cx = Context::current_with_value(Tenant("t-1"));
/// let on_progress = move |done: u64, total: u64| {
///     tracetape::context::run_in(&cx, || {
///         // Spans started here are children of `cx`'s span.
///         assert_eq!(Context::current().get::<Tenant>(), Some(&Tenant("t-1")));
///         done * 100 / total
///     })
/// };
/// assert_eq!(on_progress(1, 4), 25);
/// // Nothing is left attached on this thread.
/// assert_eq!(Context::current().get::<Tenant>(), None);
/// ```
pub fn run_in<R>(cx: &Context, f: impl FnOnce() -> R) -> R {
    let _attached = cx.clone().attach();
    // In a replayed request's context: on its recorded clock.
    super::replayed::run(cx, f)
}
