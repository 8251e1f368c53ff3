//! Child processes: the context goes into the child's environment
//! ([`CommandExt`]) and comes out of it at start-up ([`from_env`]).

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::{Context, ContextGuard, global};

use super::env::{EnvCarrier, normalize};

/// Passes the current trace context to a child process in its environment
/// (`TRACEPARENT`, `TRACESTATE`, `BAGGAGE` with the W3C propagators; see
/// [`EnvCarrier`] for the names of others), for
/// [`std::process::Command`] and [`tokio::process::Command`].
///
/// The child reads it at start-up with [`from_env`] or [`attach_from_env`].
///
/// Every field the propagator uses is first removed from the child's
/// environment, so a child never inherits a stale `TRACEPARENT` that this
/// process was itself started with: it gets the context that is current
/// here, or none. Variables set with `env` after this call win; a later
/// `env_clear` removes these too.
///
/// Only what the propagator carries crosses the process boundary: the
/// span context and, with the baggage propagator, baggage. Other values
/// stored in the [`Context`] stay in this process.
///
/// Implemented for the two `Command` types only.
///
/// ```no_run
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
/// use tracetape::context::CommandExt;
///
/// # fn main() -> std::io::Result<()> {
/// let telemetry = tracetape::init();
/// let tracer = telemetry.tracer_provider().tracer("deploy");
/// tracer.in_span("migrate", |_cx| {
///     // The child's spans are children of "migrate".
///     std::process::Command::new("./migrate")
///         .arg("--all")
///         .with_trace_context()
///         .status()
/// })?;
/// # Ok(())
/// # }
/// ```
pub trait CommandExt: sealed::Sealed {
    /// Writes the current context into the command's environment with the
    /// global propagator (the one [`crate::init`] installs from
    /// `OTEL_PROPAGATORS`).
    fn with_trace_context(&mut self) -> &mut Self {
        let cx = Context::current();
        global::get_text_map_propagator(|propagator| {
            self.with_trace_context_from(&cx, propagator);
        });
        self
    }

    /// Writes `cx` into the command's environment with `propagator`.
    ///
    /// ```
    /// use tracetape::context::CommandExt;
    /// use tracetape::propagation::TraceContextPropagator;
    ///
    /// let mut command = std::process::Command::new("true");
    /// command.env("TRACEPARENT", "inherited, stale");
    /// // No span here: the stale value is removed, nothing is added.
    /// command.with_trace_context_from(&opentelemetry::Context::new(), &TraceContextPropagator::new());
    /// let traceparent = command.get_envs().find(|(name, _)| *name == "TRACEPARENT");
    /// assert_eq!(traceparent, Some((std::ffi::OsStr::new("TRACEPARENT"), None)));
    /// ```
    fn with_trace_context_from(
        &mut self,
        cx: &Context,
        propagator: &dyn TextMapPropagator,
    ) -> &mut Self;
}

impl CommandExt for std::process::Command {
    fn with_trace_context_from(
        &mut self,
        cx: &Context,
        propagator: &dyn TextMapPropagator,
    ) -> &mut Self {
        for (name, value) in carried(cx, propagator) {
            match value {
                Some(value) => self.env(name, value),
                None => self.env_remove(name),
            };
        }
        self
    }
}

impl CommandExt for tokio::process::Command {
    fn with_trace_context_from(
        &mut self,
        cx: &Context,
        propagator: &dyn TextMapPropagator,
    ) -> &mut Self {
        self.as_std_mut().with_trace_context_from(cx, propagator);
        self
    }
}

/// Every variable the propagator uses, with the value that `cx` gives it,
/// or `None` for those to remove.
fn carried(cx: &Context, propagator: &dyn TextMapPropagator) -> Vec<(String, Option<String>)> {
    let mut carrier = EnvCarrier::new();
    propagator.inject_context(cx, &mut carrier);
    let mut vars: Vec<(String, Option<String>)> = propagator
        .fields()
        .map(normalize)
        .filter(|name| carrier.get(name).is_none())
        .map(|name| (name, None))
        .collect();
    vars.extend(
        carrier
            .iter()
            .map(|(name, value)| (name.to_owned(), Some(value.to_owned()))),
    );
    vars
}

mod sealed {
    /// Keeps [`CommandExt`](super::CommandExt) implemented for the two
    /// `Command` types only.
    #[allow(unreachable_pub)]
    pub trait Sealed {}

    impl Sealed for std::process::Command {}
    impl Sealed for tokio::process::Command {}
}

/// The context the parent process passed in this process's environment
/// (see [`CommandExt`]), read with the global propagator: call it at
/// start-up, after [`crate::init`] has installed the propagators.
///
/// With nothing in the environment it is the current context unchanged, so
/// spans start new traces as usual. To run an async `main` in it, wrap the
/// main future:
///
/// ```no_run
/// use opentelemetry::context::FutureExt as _;
///
/// #[tokio::main]
/// async fn main() {
///     let _telemetry = tracetape::init();
///     async {
///         // Spans started here continue the parent process's trace; use
///         // `tracetape::context::spawn` for tasks.
///     }
///     .with_context(tracetape::context::from_env())
///     .await;
/// }
/// ```
pub fn from_env() -> Context {
    global::get_text_map_propagator(|propagator| from_env_with(propagator))
}

/// The context the parent process passed in this process's environment,
/// read with `propagator`.
///
/// ```
/// use tracetape::propagation::TraceContextPropagator;
///
/// let cx = tracetape::context::from_env_with(&TraceContextPropagator::new());
/// # let _ = cx;
/// ```
pub fn from_env_with(propagator: &dyn TextMapPropagator) -> Context {
    propagator.extract(&EnvCarrier::from_env())
}

/// Attaches [`from_env`]'s context to this thread until the guard is
/// dropped: the first line of a synchronous `main`, after [`crate::init`].
///
/// Threads started with [`thread::spawn`](super::thread::spawn) and work
/// wrapped with [`bind`](super::bind) carry it on. Hold it in a synchronous
/// `main` only: in an `async fn` it would stay attached across `.await`s
/// (see the guide linked from [`crate::context`]); wrap the future with
/// `with_context(from_env())` there.
///
/// ```no_run
/// use opentelemetry::trace::{Tracer, TracerProvider as _};
///
/// fn main() {
///     let telemetry = tracetape::init();
///     let _parent = tracetape::context::attach_from_env();
///     let tracer = telemetry.tracer_provider().tracer("migrate");
///     // A child of the parent process's span, in its trace.
///     tracer.in_span("migrate", |_cx| {});
/// }
/// ```
pub fn attach_from_env() -> ContextGuard {
    from_env().attach()
}
