//! [`B3Propagator`]: Zipkin's B3 headers, single (`b3`) or multiple
//! (`X-B3-*`).

use std::sync::LazyLock;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::ids::{self, trim_ows};

const B3: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const PARENT_SPAN_ID: &str = "x-b3-parentspanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";

static SINGLE_FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [B3.to_owned()]);
static MULTIPLE_FIELDS: LazyLock<[String; 4]> =
    LazyLock::new(|| [TRACE_ID, SPAN_ID, SAMPLED, FLAGS].map(str::to_owned));

/// How [`B3Propagator`] writes a trace context. Both are always read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum B3Encoding {
    /// One header, `b3: {trace id}-{span id}-{sampling state}`
    /// (`OTEL_PROPAGATORS=b3`).
    #[default]
    SingleHeader,
    /// `X-B3-TraceId`, `X-B3-SpanId` and `X-B3-Sampled`, or `X-B3-Flags`
    /// for a debug trace (`OTEL_PROPAGATORS=b3multi`).
    MultipleHeaders,
}

/// Propagates span contexts in Zipkin's [B3] format.
///
/// Extraction reads the single `b3` header and, when it is absent or
/// invalid, the `X-B3-*` headers. Trace ids are 32 or 16 lowercase hex
/// digits (a 64-bit id is widened with leading zeros), span ids 16; the
/// sampling state is `1` (accept), `0` (deny) or `d` (debug, which implies
/// accept); with multiple headers, `X-B3-Sampled` is `1`, `0`, `true` or
/// `false` and debug is `X-B3-Flags: 1`.
/// Without a sampling state the caller defers the decision to this
/// service; a remote span context can only say sampled or not, so it is
/// read as not sampled, which the SDK's parent-based samplers follow.
///
/// A sampling state sent alone, such as `b3: 0`, becomes a remote span
/// context with no ids and that state: the SDK then starts a new trace and
/// its parent-based samplers follow the caller's decision. Such a context
/// is injected again as the bare sampling state.
///
/// Injection writes the encoding chosen with
/// [`with_encoding`](Self::with_encoding) (the single header unless told
/// otherwise), always a 128-bit trace id, and, as the OpenTelemetry
/// specification requires, never the parent span id. The debug flag
/// received with a trace is sent again with it.
///
/// ```
/// use std::collections::HashMap;
///
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use tracetape::propagation::{B3Encoding, B3Propagator};
///
/// let incoming = HashMap::from([(
///     "b3".to_owned(),
///     "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90".to_owned(),
/// )]);
/// let cx = B3Propagator::new().extract(&incoming);
/// assert!(cx.span().span_context().is_sampled());
///
/// let mut outgoing = HashMap::new();
/// B3Propagator::new()
///     .with_encoding(B3Encoding::MultipleHeaders)
///     .inject_context(&cx, &mut outgoing);
/// assert_eq!(outgoing["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
/// assert_eq!(outgoing["x-b3-spanid"], "e457b5a2e4d86bd1");
/// assert_eq!(outgoing["x-b3-sampled"], "1");
/// ```
///
/// [B3]: https://github.com/openzipkin/b3-propagation
#[derive(Debug, Clone, Default)]
pub struct B3Propagator {
    encoding: B3Encoding,
}

impl B3Propagator {
    /// A B3 propagator that injects the single `b3` header.
    pub fn new() -> Self {
        B3Propagator::default()
    }

    /// Injects with `encoding` instead.
    #[must_use]
    pub fn with_encoding(mut self, encoding: B3Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The encoding this propagator injects.
    pub fn encoding(&self) -> B3Encoding {
        self.encoding
    }
}

/// A B3 sampling state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sampling {
    /// Absent: the receiver decides.
    Deferred,
    Deny,
    Accept,
    /// Accept, and override any sampling further on.
    Debug,
}

impl Sampling {
    fn flags(self) -> TraceFlags {
        match self {
            Sampling::Accept | Sampling::Debug => TraceFlags::SAMPLED,
            Sampling::Deny | Sampling::Deferred => TraceFlags::NOT_SAMPLED,
        }
    }

    /// `1`, `0` or `d`; in the multiple-header form also `true`, `false`.
    fn parse(text: &str, multiple: bool) -> Option<Sampling> {
        match text {
            "1" => Some(Sampling::Accept),
            "0" => Some(Sampling::Deny),
            "d" if !multiple => Some(Sampling::Debug),
            "true" if multiple => Some(Sampling::Accept),
            "false" if multiple => Some(Sampling::Deny),
            _ => None,
        }
    }
}

/// What the B3 headers of a request said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    Trace {
        trace_id: TraceId,
        span_id: SpanId,
        sampling: Sampling,
    },
    /// A sampling decision without ids.
    SamplingOnly(Sampling),
}

/// The debug flag received with a B3 trace (`None`: with a bare sampling
/// state, so for whichever trace is started under this context). Debug has
/// no trace flag of its own in OpenTelemetry, so it rides in the context.
#[derive(Debug)]
struct DebugTrace(Option<TraceId>);

impl TextMapPropagator for B3Propagator {
    /// Writes the span context of `cx` in the chosen encoding; a bare
    /// sampling state when `cx` holds only a received one; nothing
    /// otherwise.
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        let debug = cx
            .get::<DebugTrace>()
            .is_some_and(|debug| debug.0.is_none_or(|id| id == span_context.trace_id()));
        let sampling = if debug {
            Sampling::Debug
        } else if span_context.is_sampled() {
            Sampling::Accept
        } else {
            Sampling::Deny
        };
        let ids = if span_context.is_valid() {
            Some((span_context.trace_id(), span_context.span_id()))
        } else if cx.has_active_span() && span_context.is_remote() {
            None
        } else {
            return;
        };
        match self.encoding {
            B3Encoding::SingleHeader => {
                let state = match sampling {
                    Sampling::Debug => "d",
                    Sampling::Accept => "1",
                    Sampling::Deny | Sampling::Deferred => "0",
                };
                let value = match ids {
                    Some((trace_id, span_id)) => format!("{trace_id}-{span_id}-{state}"),
                    None => state.to_owned(),
                };
                injector.set(B3, value);
            }
            B3Encoding::MultipleHeaders => {
                if let Some((trace_id, span_id)) = ids {
                    injector.set(TRACE_ID, trace_id.to_string());
                    injector.set(SPAN_ID, span_id.to_string());
                }
                // Debug implies sampled, which is then not sent.
                match sampling {
                    Sampling::Debug => injector.set(FLAGS, "1".to_owned()),
                    Sampling::Accept => injector.set(SAMPLED, "1".to_owned()),
                    Sampling::Deny | Sampling::Deferred => injector.set(SAMPLED, "0".to_owned()),
                }
            }
        }
    }

    /// `cx` with what the B3 headers carry; `cx` itself when they are
    /// absent or malformed. A bare sampling state does not replace a valid
    /// span context that `cx` already has.
    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(received) = single(extractor).or_else(|| multiple(extractor)) else {
            return cx.clone();
        };
        let (trace_id, span_id, sampling) = match received {
            Received::Trace {
                trace_id,
                span_id,
                sampling,
            } => (trace_id, span_id, sampling),
            Received::SamplingOnly(_) if cx.span().span_context().is_valid() => {
                return cx.clone();
            }
            Received::SamplingOnly(sampling) => (TraceId::INVALID, SpanId::INVALID, sampling),
        };
        let span_context =
            SpanContext::new(trace_id, span_id, sampling.flags(), true, TraceState::NONE);
        let cx = cx.with_remote_span_context(span_context);
        match sampling {
            Sampling::Debug => {
                let trace = Some(trace_id).filter(|id| *id != TraceId::INVALID);
                cx.with_value(DebugTrace(trace))
            }
            _ => cx,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        match self.encoding {
            B3Encoding::SingleHeader => FieldIter::new(SINGLE_FIELDS.as_slice()),
            B3Encoding::MultipleHeaders => FieldIter::new(MULTIPLE_FIELDS.as_slice()),
        }
    }
}

/// `b3: {trace id}-{span id}[-{sampling state}[-{parent span id}]]`, or
/// `b3: {sampling state}`.
fn single(extractor: &dyn Extractor) -> Option<Received> {
    let value = trim_ows(extractor.get(B3)?);
    let mut parts = value.split('-');
    let first = parts.next()?;
    let Some(second) = parts.next() else {
        return Sampling::parse(first, false).map(Received::SamplingOnly);
    };
    let trace_id = ids::b3_trace_id(first.as_bytes())?;
    let span_id = ids::span_id(second.as_bytes())?;
    let sampling = match parts.next() {
        Some(state) => Sampling::parse(state, false)?,
        None => Sampling::Deferred,
    };
    if let Some(parent) = parts.next() {
        ids::span_id(parent.as_bytes())?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Received::Trace {
        trace_id,
        span_id,
        sampling,
    })
}

/// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled` and
/// `X-B3-Flags`, the first value of each.
fn multiple(extractor: &dyn Extractor) -> Option<Received> {
    let get = |name| extractor.get(name).map(trim_ows);
    let sampled = get(SAMPLED);
    let sampling = if get(FLAGS) == Some("1") {
        Sampling::Debug
    } else {
        match sampled {
            Some(state) => Sampling::parse(state, true)?,
            None => Sampling::Deferred,
        }
    };
    match (get(TRACE_ID), get(SPAN_ID)) {
        (Some(trace_id), Some(span_id)) => {
            let trace_id = ids::b3_trace_id(trace_id.as_bytes())?;
            let span_id = ids::span_id(span_id.as_bytes())?;
            if let Some(parent) = get(PARENT_SPAN_ID) {
                ids::span_id(parent.as_bytes())?;
            }
            Some(Received::Trace {
                trace_id,
                span_id,
                sampling,
            })
        }
        (None, None) if sampling != Sampling::Deferred => Some(Received::SamplingOnly(sampling)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
