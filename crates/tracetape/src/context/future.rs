//! [`InSpanExt`]: run a future inside a new child span that ends with it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use opentelemetry::trace::{SpanBuilder, TraceContextExt, Tracer};
use pin_project_lite::pin_project;

/// Runs a future inside a new span, a child of the context it is given,
/// that ends when the future completes or is dropped.
///
/// This is `Tracer::in_span` for futures. The span's context (the parent's
/// baggage and other values, plus the new span) is attached each time the
/// future is polled, so spans started and requests sent inside it are the
/// new span's children, on whichever thread the future happens to be polled.
/// To run a future in an existing context without a new span, use
/// [`FutureExt::with_context`](super::FutureExt::with_context).
///
/// Implemented for every future; it cannot be implemented elsewhere.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use tracetape::context::InSpanExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tracer = SdkTracerProvider::builder().build().tracer("jobs");
/// let span_id = async {
///     // Polled inside the "reindex" span.
///     opentelemetry::Context::current().span().span_context().span_id()
/// }
/// .in_span(&tracer, "reindex")
/// .await;
/// # assert_ne!(span_id, opentelemetry::trace::SpanId::INVALID);
/// # }
/// ```
pub trait InSpanExt: Future + Sized + sealed::Sealed {
    /// Runs this future in a new span named `name`, a child of the current
    /// context (the context current where this is called, not where the
    /// future is polled).
    fn in_span<T>(self, tracer: &T, name: impl Into<Cow<'static, str>>) -> InSpan<Self>
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let parent = Context::current();
        let span = tracer.start_with_context(name, &parent);
        InSpan::new(self, parent.with_span(span))
    }

    /// Runs this future in a new span named `name`, a child of `parent_cx`.
    fn in_span_with_context<T>(
        self,
        tracer: &T,
        name: impl Into<Cow<'static, str>>,
        parent_cx: &Context,
    ) -> InSpan<Self>
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let span = tracer.start_with_context(name, parent_cx);
        InSpan::new(self, parent_cx.with_span(span))
    }

    /// Runs this future in a new span started from `builder` (kind,
    /// attributes, links), a child of the current context.
    fn in_span_with_builder<T>(self, tracer: &T, builder: SpanBuilder) -> InSpan<Self>
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let parent = Context::current();
        let span = builder.start_with_context(tracer, &parent);
        InSpan::new(self, parent.with_span(span))
    }
}

impl<F: Future> InSpanExt for F {}

mod sealed {
    /// Keeps [`InSpanExt`](super::InSpanExt) implemented for futures only.
    #[allow(unreachable_pub)]
    pub trait Sealed {}

    impl<F: std::future::Future> Sealed for F {}
}

pin_project! {
    /// A future running inside its own span; see [`InSpanExt`].
    ///
    /// The span ends when the future completes, or when it is dropped
    /// before that (a cancelled request, an aborted task), so it is never
    /// left open.
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<F> {
        #[pin]
        inner: F,
        // The span's context; `None` once the span has ended.
        cx: Option<Context>,
    }

    impl<F> PinnedDrop for InSpan<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(cx) = this.project().cx.take() {
                cx.span().end();
            }
        }
    }
}

impl<F> InSpan<F> {
    fn new(inner: F, cx: Context) -> Self {
        Self {
            inner,
            cx: Some(cx),
        }
    }

    /// The context the future runs in: its span, and what the parent
    /// context carried. `None` once the future has completed.
    pub fn context(&self) -> Option<&Context> {
        self.cx.as_ref()
    }
}

impl<F> std::fmt::Debug for InSpan<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InSpan")
            .field("cx", &self.cx)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task_cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = match this.cx.as_ref() {
            Some(cx) => {
                let _attached = cx.clone().attach();
                this.inner.poll(task_cx)
            }
            // Polled after it completed: the inner future decides.
            None => this.inner.poll(task_cx),
        };
        if output.is_ready()
            && let Some(cx) = this.cx.take()
        {
            cx.span().end();
        }
        output
    }
}
