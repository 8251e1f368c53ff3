//! [`TraceContextPropagator`]: W3C Trace Context Level 2, `traceparent` and
//! `tracestate`.

use std::sync::LazyLock;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};

use super::ids::{self, trim_ows};
use super::random_root::RandomRoot;
use super::trace_state;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

static FIELDS: LazyLock<[String; 2]> =
    LazyLock::new(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()]);

/// The `sampled` flag.
const SAMPLED: u8 = 0x01;
/// The Level 2 `random-trace-id` flag: at least the rightmost 7 bytes of
/// the trace id are random.
pub(super) const RANDOM_TRACE_ID: u8 = 0x02;
/// The flags this version of the specification defines; the others are
/// reserved and sent as zero.
const KNOWN_FLAGS: u8 = SAMPLED | RANDOM_TRACE_ID;

/// Length of a version `00` `traceparent`, and the least a later version
/// may have.
const TRACEPARENT_LEN: usize = 55;

/// Propagates span contexts in [W3C Trace Context Level 2] format, under
/// the `traceparent` and `tracestate` headers.
///
/// Unlike `opentelemetry_sdk`'s propagator of the same name, it keeps the
/// `random-trace-id` flag (`0x02`), treats repeated `traceparent` headers
/// and trailing data after version `00` as invalid, reads every
/// `tracestate` header, and checks `tracestate` against the full grammar.
/// The [module documentation](super) lists the rules.
///
/// ```
/// use std::collections::HashMap;
///
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use tracetape::propagation::TraceContextPropagator;
///
/// let propagator = TraceContextPropagator::new();
/// let incoming = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned(),
/// )]);
/// let cx = propagator.extract(&incoming);
/// let span = cx.span();
/// let parent = span.span_context();
/// assert!(parent.is_remote());
/// // Sampled, and the trace id is random.
/// assert_eq!(parent.trace_flags().to_u8(), 0x03);
///
/// let mut outgoing = HashMap::new();
/// propagator.inject_context(&cx, &mut outgoing);
/// assert_eq!(outgoing["traceparent"], incoming["traceparent"]);
/// ```
///
/// [W3C Trace Context Level 2]: https://www.w3.org/TR/trace-context-2/
#[derive(Debug, Clone, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// A trace-context propagator.
    pub fn new() -> Self {
        TraceContextPropagator::default()
    }
}

impl TextMapPropagator for TraceContextPropagator {
    /// Writes `traceparent` (always version `00`) and, unless it is empty,
    /// `tracestate` for the span of `cx`; nothing when that span context
    /// is invalid.
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let mut flags = span_context.trace_flags().to_u8() & KNOWN_FLAGS;
        if is_random(cx, span_context.trace_id()) {
            flags |= RANDOM_TRACE_ID;
        }
        // Written by hand: `format!` costs several times as much, on
        // every outbound request.
        let mut traceparent = String::with_capacity(55);
        traceparent.push_str("00-");
        ids::push_hex(&mut traceparent, &span_context.trace_id().to_bytes());
        traceparent.push('-');
        ids::push_hex(&mut traceparent, &span_context.span_id().to_bytes());
        traceparent.push('-');
        ids::push_hex(&mut traceparent, &[flags]);
        injector.set(TRACEPARENT, traceparent);
        let state = trace_state::header(span_context.trace_state());
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    /// `cx` with the remote span context of the request; `cx` itself when
    /// `traceparent` is absent, repeated or invalid, which restarts the
    /// trace (and then `tracestate` is not read).
    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(span_context) = extract(extractor) else {
            return cx.clone();
        };
        let trace_id = span_context.trace_id();
        let random = span_context.trace_flags().to_u8() & RANDOM_TRACE_ID != 0;
        let cx = cx.with_remote_span_context(span_context);
        // The SDK copies the parent's flags to a sampled child, but gives
        // a dropped one default flags: the mark keeps the flag for both.
        if random {
            cx.with_value(RandomTraceId(trace_id))
        } else {
            cx
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(FIELDS.as_slice())
    }
}

fn extract(extractor: &dyn Extractor) -> Option<SpanContext> {
    let fields = extractor.get_all(TRACEPARENT)?;
    // More than one traceparent cannot be told apart: none is used.
    let [traceparent] = fields.as_slice() else {
        return None;
    };
    let (trace_id, span_id, flags) = parse_traceparent(traceparent)?;
    let trace_state = match extractor.get_all(TRACESTATE) {
        Some(fields) => trace_state::parse(&fields),
        None => Default::default(),
    };
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        trace_state,
    ))
}

/// The trace id, parent id and known flags of a `traceparent` value.
///
/// Version `00` is exactly 55 characters. A later version (but `ff`,
/// which is invalid) is read by the `00` layout when it has at least 55
/// characters and the 56th, if any, is `-`; what follows is ignored.
fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, u8)> {
    let bytes = trim_ows(value).as_bytes();
    // The version: two lowercase hex digits and a dash.
    if bytes.len() < 3 || bytes[2] != b'-' {
        return None;
    }
    let len = bytes.len();
    let layout = match ids::byte(bytes[0], bytes[1])? {
        0xff => false,
        0x00 => len == TRACEPARENT_LEN,
        _ => len == TRACEPARENT_LEN || (len > TRACEPARENT_LEN && bytes[TRACEPARENT_LEN] == b'-'),
    };
    // From here on there are at least 55 bytes.
    if !layout || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = ids::trace_id(&bytes[3..35])?;
    let span_id = ids::span_id(&bytes[36..52])?;
    let flags = ids::byte(bytes[53], bytes[54])?;
    Some((trace_id, span_id, flags & KNOWN_FLAGS))
}

/// Says that the span of `cx` was started as a new root whose trace id
/// came from the SDK's random id generator, so that
/// [`TraceContextPropagator`] sets the `random-trace-id` flag on that trace
/// even though the SDK builds root spans with default flags.
///
/// The mark holds the trace id, so spans of another trace started under
/// `cx` are not marked.
pub(crate) fn mark_random_root(cx: Context) -> Context {
    let trace_id = cx.span().span_context().trace_id();
    if trace_id == TraceId::INVALID {
        return cx;
    }
    cx.with_value(RandomTraceId(trace_id))
}

/// `parent` with `span` as its current span. When `parent` had no valid
/// span, `span` started a new trace here, whose id the SDK's generator
/// made random: a sampled `span` carries the `random-trace-id` flag itself
/// ([`RandomRoot`]), costing nothing more; the context of one the sampler
/// dropped is marked as [`mark_random_root`] says, because the SDK gives
/// its children default flags.
pub(crate) fn with_span<T>(parent: &Context, span: T) -> Context
where
    T: opentelemetry::trace::Span + Send + Sync + 'static,
{
    if parent.span().span_context().is_valid() {
        parent.with_span(span)
    } else if span.span_context().is_sampled() {
        parent.with_span(RandomRoot::new(span))
    } else {
        mark_random_root(parent.with_span(span))
    }
}

/// A trace whose id is random: one started by [`mark_random_root`], or
/// one received with the `random-trace-id` flag.
#[derive(Debug)]
struct RandomTraceId(TraceId);

fn is_random(cx: &Context, trace_id: TraceId) -> bool {
    cx.get::<RandomTraceId>()
        .is_some_and(|random| random.0 == trace_id)
}

#[cfg(test)]
mod tests;
