//! Carry the current context (parent span, baggage and every other value
//! of the OpenTelemetry [`Context`](opentelemetry::Context)) to wherever work moves: tokio tasks,
//! blocking threads, OS threads, thread pools, callbacks and child
//! processes.
//!
//! OpenTelemetry's current context lives in a thread-local. The server
//! layer attaches the SERVER span's context while it polls the handler, so
//! whatever the handler does in its own task, across any number of
//! `.await`s, is inside the request's span. Work that leaves the task does
//! not take the context along: it starts with an empty one, and its spans
//! and outbound requests start new traces. The helpers here capture the
//! context where work is handed off and attach it where the work runs.
//!
//! | work moves to | context follows by itself? | use |
//! |---|---|---|
//! | `.await` in the same task | yes | nothing; [`FutureExt::with_context`] or [`InSpanExt::in_span`] for your own spans |
//! | `tokio::spawn` | no | [`spawn`], or `.with_current_context()` |
//! | `spawn_blocking` | no | [`spawn_blocking`] |
//! | `std::thread` | no | [`thread::spawn`], [`thread::Builder`] |
//! | a thread pool (rayon) | no | [`bind`] (`FnOnce`), [`bind_fn`] (`par_iter().map`) |
//! | a child process | no | [`CommandExt::with_trace_context`], then [`from_env`] / [`attach_from_env`] in the child |
//! | a callback another library calls later | no | [`bind`], [`bind_fn`], [`bind_fn_mut`], [`run_in`] |
//! | a fire-and-forget task that outlives its request | no | [`spawn`] |
//!
//! The [context guide] has the same table with a test for each row, and
//! the classic mistake: a [`ContextGuard`](opentelemetry::ContextGuard)
//! from [`Context::attach`](opentelemetry::Context::attach) held across an `.await`, which leaks the context
//! into every other task that thread runs while the future waits. In async
//! code attach with [`FutureExt::with_context`] instead, which attaches the
//! context for each poll and detaches it before the future yields.
//!
//! ```
//! use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use tracetape::context::{self, FutureExt as _, InSpanExt as _};
//!
//! # #[tokio::main]
//! # async fn main() {
//! let tracer = SdkTracerProvider::builder().build().tracer("orders");
//! let request = opentelemetry::Context::new().with_span(tracer.start("POST /orders"));
//! let request_span = request.span().span_context().span_id();
//!
//! let parents = async {
//!     // A task, blocking work and a thread, all under "POST /orders".
//!     let parent = || opentelemetry::Context::current().span().span_context().span_id();
//!     let task = context::spawn(async move { parent() });
//!     let blocking = context::spawn_blocking(parent);
//!     let thread = context::thread::spawn(parent);
//!     [task.await.ok(), blocking.await.ok(), thread.join().ok()]
//! }
//! .with_context(request.clone())
//! .await;
//! assert!(parents.iter().all(|id| *id == Some(request_span)));
//!
//! // A future in a span of its own, a child of the request's span. (The
//! // parent is the context where `in_span*` is called, not where the
//! // future is polled: here it is given explicitly.)
//! async { /* ... */ }
//!     .in_span_with_context(&tracer, "reserve stock", &request)
//!     .await;
//! # }
//! ```
//!
//! [context guide]: https://github.com/tracetape/tracetape/blob/main/docs/context.md

mod closure;
mod env;
mod future;
mod process;
mod replayed;
mod task;
pub mod thread;

#[cfg(test)]
mod tests;

pub use closure::{bind, bind_fn, bind_fn_mut, run_in};
pub use env::EnvCarrier;
pub use future::{InSpan, InSpanExt};
pub use opentelemetry::context::{FutureExt, WithContext};
pub use process::{CommandExt, attach_from_env, from_env, from_env_with};
pub use task::{spawn, spawn_blocking};

/// The guide's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/context.md")]
struct GuideDoctests;
