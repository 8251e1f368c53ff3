//! `std::thread`, with the caller's context: [`spawn`] and [`Builder`] are
//! drop-in replacements for their namesakes in `std::thread`.
//!
//! A new thread starts with an empty context, so spans made there start
//! new traces. These capture [`Context::current()`](opentelemetry::Context::current)
//! where the thread is spawned and keep it attached while the closure runs.
//! For scoped threads (`std::thread::scope`), wrap the closure with
//! [`bind`], or use [`Builder::spawn_scoped`].

use std::io;
use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

use super::bind;

/// [`std::thread::spawn`], with the caller's context attached while `f`
/// runs.
///
/// # Panics
///
/// When the operating system cannot create a thread, as
/// `std::thread::spawn` does; [`Builder::spawn`] returns the error instead.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// let tracer = SdkTracerProvider::builder().build().tracer("reports");
/// tracer.in_span("nightly report", |cx| {
///     let worker = tracetape::context::thread::spawn(|| {
///         opentelemetry::Context::current().span().span_context().span_id()
///     });
///     assert_eq!(worker.join().ok(), Some(cx.span().span_context().span_id()));
/// });
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(bind(f))
}

/// [`std::thread::Builder`], whose threads run in the context current where
/// they are spawned.
///
/// The methods are those of `std::thread::Builder`, so that replacing one
/// with the other is a change of import; a `std::thread::Builder` already
/// configured converts with `From`.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::KeyValue;
/// use tracetape::context::thread::Builder;
///
/// # fn main() -> std::io::Result<()> {
/// let _attached =
///     opentelemetry::Context::current_with_baggage([KeyValue::new("batch", "b-9")]).attach();
/// let worker = Builder::new().name("indexer".into()).spawn(|| {
///     let batch = opentelemetry::Context::current().baggage().get("batch").map(|v| v.to_string());
///     (std::thread::current().name().map(str::to_owned), batch)
/// })?;
/// let (name, batch) = worker.join().unwrap_or_default();
/// assert_eq!(name.as_deref(), Some("indexer"));
/// assert_eq!(batch.as_deref(), Some("b-9"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use]
pub struct Builder {
    inner: std::thread::Builder,
}

impl Builder {
    /// A builder with no name and the default stack size.
    pub fn new() -> Self {
        Self {
            inner: std::thread::Builder::new(),
        }
    }

    /// Names the thread, as [`std::thread::Builder::name`].
    pub fn name(self, name: String) -> Self {
        Self {
            inner: self.inner.name(name),
        }
    }

    /// Sets the thread's stack size in bytes, as
    /// [`std::thread::Builder::stack_size`].
    pub fn stack_size(self, size: usize) -> Self {
        Self {
            inner: self.inner.stack_size(size),
        }
    }

    /// Spawns the thread with the caller's context attached while `f`
    /// runs; the error is the one `std::thread::Builder::spawn` returns
    /// when the thread cannot be created.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.inner.spawn(bind(f))
    }

    /// Spawns a scoped thread (see `std::thread::scope`) with the caller's
    /// context attached while `f` runs.
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.inner.spawn_scoped(scope, bind(f))
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl From<std::thread::Builder> for Builder {
    fn from(inner: std::thread::Builder) -> Self {
        Self { inner }
    }
}
