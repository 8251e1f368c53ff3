//! [`RandomRoot`]: a sampled span that started a new trace, carrying the
//! `random-trace-id` flag in its span context.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, SpanContext, Status, TraceFlags};

use super::trace_context::RANDOM_TRACE_ID;

/// A span the SDK started as a new root, seen by the context with
/// `random-trace-id` set in its trace flags; everything else is the span's
/// own.
///
/// The SDK builds a root with default flags and copies a parent's flags
/// to its sampled children, so the flag set here reaches every sampled
/// span of the trace, and the propagators, with nothing kept beside the
/// span in the context. A span the sampler dropped gets default flags
/// from the SDK instead, which is why only sampled roots are wrapped (see
/// [`super::with_span`]). For the same reason, a child that a sampler
/// drops under a sampled root loses the flag; `ParentBased` samplers
/// never drop such a child.
#[derive(Debug)]
pub(crate) struct RandomRoot<T> {
    span: T,
    context: SpanContext,
}

impl<T: Span> RandomRoot<T> {
    pub(crate) fn new(span: T) -> Self {
        let own = span.span_context();
        let flags = TraceFlags::new(own.trace_flags().to_u8() | RANDOM_TRACE_ID);
        let context = SpanContext::new(
            own.trace_id(),
            own.span_id(),
            flags,
            own.is_remote(),
            own.trace_state().clone(),
        );
        RandomRoot { span, context }
    }
}

impl<T: Span> Span for RandomRoot<T> {
    fn add_event_with_timestamp<N>(
        &mut self,
        name: N,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        N: Into<Cow<'static, str>>,
    {
        self.span
            .add_event_with_timestamp(name, timestamp, attributes);
    }

    fn span_context(&self) -> &SpanContext {
        &self.context
    }

    fn is_recording(&self) -> bool {
        self.span.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.span.set_attribute(attribute);
    }

    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.span.set_attributes(attributes);
    }

    fn set_status(&mut self, status: Status) {
        self.span.set_status(status);
    }

    fn update_name<N>(&mut self, new_name: N)
    where
        N: Into<Cow<'static, str>>,
    {
        self.span.update_name(new_name);
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.span.add_link(span_context, attributes);
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.span.end_with_timestamp(timestamp);
    }
}
