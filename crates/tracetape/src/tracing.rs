//! Interop with the `tracing` crate: log lines that carry the trace and
//! span id of the current OpenTelemetry span (feature `tracing`).
//!
//! # One tree, with no code of tracetape's
//!
//! A service that uses `tracing` with
//! [`tracing-opentelemetry`](https://docs.rs/tracing-opentelemetry) already
//! gets one trace. The server layer attaches the SERVER span's context
//! while it polls the handler, and tracing-opentelemetry's layer, with its
//! default *context activation*, makes a new `tracing` span the child of
//! `opentelemetry::Context::current()` and attaches the span's own context
//! while it is entered. The client layers start each CLIENT span under
//! `Context::current()`. So inside a handler:
//!
//! ```text
//! GET /orders/{id}          SERVER   (tracetape's server layer)
//! └─ check_stock            INTERNAL (#[instrument], tracing-opentelemetry)
//!    └─ GET                 CLIENT   (tracetape's client middleware)
//!       └─ GET /stock/{id}  SERVER   (the service called)
//! ```
//!
//! A span started with the OpenTelemetry API and attached (with
//! `FutureExt::with_context`) nests the same way, inside or around a
//! `tracing` span: the innermost one entered is the parent.
//!
//! tracing-opentelemetry's spans must come from the same tracer provider as
//! tracetape's (the one [`init`](crate::init) installs, or
//! [`TelemetryGuard::tracer_provider`](crate::TelemetryGuard::tracer_provider))
//! to be exported together; their ids link them in any case.
//!
//! # Log lines with the span's ids
//!
//! A log line does not show OpenTelemetry ids by itself. The one line to
//! add to the subscriber is the `fmt` layer with [`WithTraceIds`], which
//! starts every line with
//! the ids of the current OpenTelemetry span, the innermost one whichever
//! API opened it: the SERVER span in a handler, a `tracing` span entered
//! within it, or the CLIENT span while a call is sent (the lines of the
//! HTTP client itself).
//!
//! ```no_run
//! use opentelemetry::trace::TracerProvider as _;
//! use tracetape::tracing::WithTraceIds;
//! use tracing_subscriber::fmt;
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! let telemetry = tracetape::init();
//! let tracer = telemetry.tracer_provider().tracer("orders");
//! tracing_subscriber::registry()
//!     .with(tracing_opentelemetry::layer().with_tracer(tracer))
//!     // The one line:
//!     .with(fmt::layer().event_format(WithTraceIds::new(fmt::format())))
//!     .init();
//! ```
//!
//! ```text
//! trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 2026-01-01T00:00:00.000000Z  INFO orders: order requested order.id=7
//! ```
//!
//! Other formats (JSON, for one) can read the same ids with
//! [`current_ids`].
//!
//! tracing-opentelemetry records the events inside `tracing` spans as span
//! events, and drops the others, such as a handler's own log lines. To see
//! those in the trace too, add `.with(SpanEvents::new())`: [`SpanEvents`]
//! records them as events of the current OpenTelemetry span, the SERVER
//! span in a handler.
//!
//! # Without context activation
//!
//! With `tracing_opentelemetry::layer().with_context_activation(false)`,
//! entering a `tracing` span no longer changes `Context::current()`. Its
//! OpenTelemetry span is still the child of the SERVER span, but CLIENT
//! spans and the ids of log lines are those of the SERVER span (or the
//! innermost OpenTelemetry span attached), not the `tracing` span's.

use std::cell::Cell;
use std::fmt;

use ::tracing::field::{Field, Visit};
use ::tracing::{Event, Subscriber};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{self, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The trace id and span id of the current OpenTelemetry span, `None`
/// when there is no valid span (outside any request, for one).
///
/// Inside a handler traced by [`server::TraceLayer`](crate::server::TraceLayer)
/// this is the SERVER span, or the innermost span entered within it: a
/// `tracing` span (with tracing-opentelemetry's context activation) or an
/// OpenTelemetry span attached to the context.
///
/// Do not call it while formatting an event of OpenTelemetry's own crates
/// (target `opentelemetry*`): those may be emitted while the context is
/// being changed, when it cannot be read. [`WithTraceIds`] skips them.
///
/// ```
/// use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
///
/// assert_eq!(tracetape::tracing::current_ids(), None);
///
/// let tracer = SdkTracerProvider::builder().build().tracer("example");
/// tracer.in_span("work", |cx| {
///     let span = cx.span().span_context().clone();
///     assert_eq!(
///         tracetape::tracing::current_ids(),
///         Some((span.trace_id(), span.span_id()))
///     );
/// });
/// ```
pub fn current_ids() -> Option<(TraceId, SpanId)> {
    Context::map_current(|cx| {
        let span = cx.span();
        let span = span.span_context();
        span.is_valid().then(|| (span.trace_id(), span.span_id()))
    })
}

/// Whether `event` comes from OpenTelemetry's own crates, which may log
/// while the current context is borrowed to be changed.
fn from_opentelemetry(event: &Event<'_>) -> bool {
    event.metadata().target().starts_with("opentelemetry")
}

/// An event formatter that writes `trace_id=<32 hex> span_id=<16 hex> `
/// (the [`current_ids`]) before what the inner formatter writes; nothing
/// when there is no current span.
///
/// ```
/// use tracetape::tracing::WithTraceIds;
/// use tracing_subscriber::fmt;
///
/// let layer = fmt::layer().event_format(WithTraceIds::new(fmt::format()));
/// # let _: fmt::Layer<tracing_subscriber::Registry, _, _> = layer;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct WithTraceIds<F> {
    inner: F,
}

impl<F> WithTraceIds<F> {
    /// Prefixes the lines `inner` writes with the current span's ids.
    pub fn new(inner: F) -> Self {
        Self { inner }
    }

    /// The inner formatter.
    pub fn get_ref(&self) -> &F {
        &self.inner
    }

    /// The inner formatter, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// Unwraps the inner formatter.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if !from_opentelemetry(event)
            && let Some((trace_id, span_id)) = current_ids()
        {
            write!(writer, "trace_id={trace_id} span_id={span_id} ")?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}

/// A layer that records every event emitted outside all `tracing` spans as
/// an event of the current OpenTelemetry span, such as a handler's log
/// lines on its SERVER span.
///
/// It completes tracing-opentelemetry's layer, which records the events
/// inside `tracing` spans and drops the others: an event with an explicit
/// parent is left to it, and an explicit root (`parent: None`) is not
/// recorded, nor are the events of OpenTelemetry's own crates (target
/// `opentelemetry*`). The span event is named by the `message` field (else
/// by the event's name) and has the attributes `level` and `target` and
/// one per field, as tracing-opentelemetry writes them. Unlike it, an
/// `ERROR` event does not set the span's status: a SERVER span's status
/// follows the response.
///
/// ```
/// use tracetape::tracing::SpanEvents;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry().with(SpanEvents::new());
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct SpanEvents {
    _private: (),
}

impl SpanEvents {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

thread_local! {
    /// Set while an event is being recorded, so that an event emitted
    /// meanwhile (by a span implementation, with the span locked) is not
    /// recorded on the same span, which would deadlock.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`RECORDING`] when dropped.
struct Recording;

impl Recording {
    fn begin() -> Option<Self> {
        (!RECORDING.replace(true)).then_some(Self)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.set(false);
    }
}

impl<S: Subscriber> Layer<S> for SpanEvents {
    fn on_event(&self, event: &Event<'_>, ctx: layer::Context<'_, S>) {
        if !event.is_contextual() || ctx.current_span().id().is_some() || from_opentelemetry(event)
        {
            return;
        }
        let Some(_recording) = Recording::begin() else {
            return;
        };
        let cx = Context::current();
        let span = cx.span();
        if !span.is_recording() || cx.is_telemetry_suppressed() {
            return;
        }
        let metadata = event.metadata();
        let mut fields = Fields {
            message: None,
            attributes: vec![
                KeyValue::new("level", metadata.level().as_str()),
                KeyValue::new("target", metadata.target().to_owned()),
            ],
        };
        event.record(&mut fields);
        let name = fields.message.unwrap_or_else(|| metadata.name().to_owned());
        span.add_event(name, fields.attributes);
    }
}

/// An event's fields as a span event's name and attributes.
struct Fields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: impl Into<opentelemetry::Value>) {
        // `log.*` fields are the `log` crate's metadata, carried over by
        // tracing-log.
        if !field.name().starts_with("log.") {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.push(field, value),
            Err(_) => self.push(field, value.to_string()),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.push(field, value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.push(field, format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
    use opentelemetry::{Context, Value};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::fmt;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::{SpanEvents, WithTraceIds};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().unwrap();
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn with_fmt(f: impl FnOnce()) -> Vec<String> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(
                fmt::layer()
                    .event_format(WithTraceIds::new(fmt::format().without_time()))
                    .with_writer(move || writer.clone()),
            )
            .with(SpanEvents::new());
        ::tracing::subscriber::with_default(subscriber, f);
        buffer.lines()
    }

    #[test]
    fn ids_come_first_and_the_inner_format_follows() {
        let provider = SdkTracerProvider::builder().build();
        let lines = with_fmt(|| {
            ::tracing::info!("outside");
            provider.tracer("test").in_span("work", |cx| {
                ::tracing::info!(n = 1, "inside");
                cx.span().span_context().clone()
            });
        });
        assert_eq!(lines[0], " INFO tracetape::tracing::tests: outside");
        let (ids, rest) = lines[1].split_at(67);
        assert!(ids.starts_with("trace_id="), "{ids}");
        assert_eq!(&ids[41..50], " span_id=");
        assert_eq!(rest, " INFO tracetape::tracing::tests: inside n=1");
    }

    /// Guards against a panic ("RefCell already mutably borrowed"):
    /// OpenTelemetry logs while it holds the current context borrowed to
    /// change it (here: one context too many attached), when reading the
    /// context panics.
    #[test]
    fn opentelemetrys_own_events_are_left_alone() {
        let provider = SdkTracerProvider::builder().build();
        let lines = with_fmt(|| {
            let span = provider.tracer("test").start("work");
            let cx = Context::current_with_span(span);
            // One more than the stack holds: the last attach logs a warning.
            let guards: Vec<_> = (0..u16::MAX).map(|_| cx.clone().attach()).collect();
            drop(guards);
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(" WARN opentelemetry: "), "{lines:?}");
    }

    #[test]
    fn span_events_records_events_outside_tracing_spans_only() {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(SpanEvents::new());
        ::tracing::subscriber::with_default(subscriber, || {
            provider.tracer("test").in_span("work", |_| {
                ::tracing::info!(big = u64::MAX, small = 3_u64, log.target = "x", "recorded");
                ::tracing::info!(parent: None, "an explicit root");
                ::tracing::info_span!("a tracing span").in_scope(|| ::tracing::info!("inside"));
                ::tracing::info!(ok = true);
            });
        });
        let span = spans.get_finished_spans().unwrap().remove(0);
        let names: Vec<_> = span.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[0], "recorded");
        assert!(
            names[1].starts_with("event crates/tracetape/src/tracing.rs:"),
            "{names:?}"
        );
        let attributes: Vec<_> = span.events[0]
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.clone()))
            .collect();
        assert_eq!(
            attributes,
            [
                ("level", Value::from("INFO")),
                ("target", Value::from("tracetape::tracing::tests")),
                ("big", Value::from(u64::MAX.to_string())),
                ("small", Value::I64(3)),
            ]
        );
    }
}
