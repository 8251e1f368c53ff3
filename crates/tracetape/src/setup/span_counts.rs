//! How many spans ended, were exported, failed to export, or were dropped
//! on the way: the SDK's batch processor drops spans when its queue is
//! full and loses a batch its exporter fails on, saying nothing about
//! either. A processor in front of it counts the spans that end, an
//! exporter around the real one counts what it delivers and what fails
//! (warning once), and [`TelemetryGuard::span_counts`](super::TelemetryGuard::span_counts)
//! tells them.
//!
//! The queue is bounded in front of the batch processor, where a drop can
//! be seen: at most `OTEL_BSP_MAX_QUEUE_SIZE` spans wait, besides the
//! batch being exported (as the SDK's processor counts its queue), so the
//! processor's own queue (of that size) never overflows, and each span
//! past the bound is dropped here, counted, and warned about once, from
//! the exporting thread, with the number dropped so far.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchConfig, Span, SpanData, SpanExporter, SpanProcessor};

use crate::diag;

/// The spans of one tracer provider's exporting pipeline, as counted so
/// far ([`TelemetryGuard::span_counts`](super::TelemetryGuard::span_counts)).
///
/// ```
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use tracetape::setup::{Telemetry, TracesExporter};
///
/// // Exported nowhere: nothing counted.
/// let telemetry = Telemetry::builder()
///     .with_traces_exporter(TracesExporter::None)
///     .build();
/// telemetry.tracer_provider().tracer("example").in_span("work", |_cx| {});
/// assert_eq!(telemetry.span_counts().ended, 0);
/// assert_eq!(telemetry.span_counts().dropped(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanCounts {
    /// Spans that ended and were handed to the exporting pipeline.
    pub ended: u64,
    /// Spans the exporter delivered.
    pub exported: u64,
    /// Spans in batches the exporter failed to deliver (collector down,
    /// refused, timed out): lost.
    pub failed: u64,
    /// Spans dropped because the batch queue was full: `OTEL_BSP_MAX_QUEUE_SIZE`
    /// spans were already waiting to be exported. Part of
    /// [`dropped`](Self::dropped).
    pub queue_full: u64,
}

impl SpanCounts {
    /// Spans ended but neither exported nor failed: dropped by the batch
    /// processor's full queue, or, before a flush, still waiting in it.
    pub fn dropped(&self) -> u64 {
        self.ended
            .saturating_sub(self.exported)
            .saturating_sub(self.failed)
    }
}

/// The counters one pipeline shares between its processor and exporter.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    ended: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    queue_full: AtomicU64,
    /// Spans handed to the batch processor and not yet handed to the
    /// exporter: those in its queue (and, for a moment, those it has
    /// just taken out).
    in_flight: AtomicU64,
    /// The bound on `in_flight`, when known: the batch queue's size.
    queue_size: OnceLock<u64>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SpanCounts {
        SpanCounts {
            ended: self.ended.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            queue_full: self.queue_full.load(Ordering::Relaxed),
        }
    }

    /// Takes one span in, unless the queue is full: then it is counted as
    /// dropped and `false` returned.
    fn admit(&self) -> bool {
        let in_flight = self.in_flight.fetch_add(1, Ordering::AcqRel);
        match self.queue_size.get() {
            Some(&size) if in_flight >= size => {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                self.queue_full.fetch_add(1, Ordering::Relaxed);
                false
            }
            _ => true,
        }
    }

    /// `spans` left the queue for the exporter.
    fn taken(&self, spans: u64) {
        self.in_flight.fetch_sub(spans, Ordering::AcqRel);
        self.warn_if_dropping();
    }

    /// Says once that the full queue drops spans, with how many so far.
    fn warn_if_dropping(&self) {
        let dropped = self.queue_full.load(Ordering::Relaxed);
        if dropped == 0 {
            return;
        }
        let size = self.queue_size.get().copied().unwrap_or_default();
        diag::warn_once(
            QUEUE_FULL,
            format_args!(
                "the span queue is full ({size} spans waiting to be exported): {dropped} \
                 span(s) dropped so far, and more while it stays full (counted: \
                 TelemetryGuard::span_counts); raise OTEL_BSP_MAX_QUEUE_SIZE, or check that \
                 the collector keeps up"
            ),
        );
    }
}

/// The stable name of the warning about spans the full queue drops.
pub(crate) const QUEUE_FULL: &str = "setup.span_queue_full";

/// The queue size of `config`, which the SDK keeps private: read from its
/// `Debug` form; `None` when that no longer says it (the bound is then
/// left to the batch processor, whose drops show only as
/// [`SpanCounts::dropped`]).
pub(crate) fn queue_size(config: &BatchConfig) -> Option<u64> {
    let text = format!("{config:?}");
    let (_, rest) = text.split_once("max_queue_size: ")?;
    let digits: &str = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok().filter(|size| *size > 0)
}

/// A span processor that counts the spans ending, then hands them on.
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    inner: P,
    counters: Arc<Counters>,
}

impl<P> CountingProcessor<P> {
    pub(crate) fn new(inner: P, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }

    /// Holds at most `size` spans waiting to be exported (the batch
    /// processor's queue size), dropping and counting the others.
    pub(crate) fn with_queue_size(self, size: Option<u64>) -> Self {
        if let Some(size) = size {
            let _ = self.counters.queue_size.set(size);
        }
        self
    }
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.counters.ended.fetch_add(1, Ordering::Relaxed);
        if self.counters.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let result = self.inner.force_flush();
        self.counters.warn_if_dropping();
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.counters.warn_if_dropping();
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A span exporter that counts what the one it wraps delivers and what it
/// fails on, warning once when exports start failing.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    counters: Arc<Counters>,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E, counters: Arc<Counters>) -> Self {
        Self { inner, counters }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        // Out of the processor's queue, which has room for more again.
        self.counters.taken(spans);
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => self.counters.exported.fetch_add(spans, Ordering::Relaxed),
            Err(err) => {
                diag::warn_once(
                    "setup.span_export_failed",
                    format_args!(
                        "exporting spans failed ({err}); the spans of each batch that fails are \
                         lost (counted: TelemetryGuard::span_counts)"
                    ),
                );
                self.counters.failed.fetch_add(spans, Ordering::Relaxed)
            }
        };
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc::{self, Receiver};

    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider,
    };

    use super::*;

    /// Counted `exporter` behind a batch processor with a queue of `queue`
    /// spans, one span per export.
    fn provider<E: SpanExporter + 'static>(
        exporter: E,
        queue: usize,
    ) -> (SdkTracerProvider, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(queue)
            .with_max_export_batch_size(1)
            .build();
        let size = queue_size(&config);
        let batch = BatchSpanProcessor::builder(CountingExporter::new(exporter, counters.clone()))
            .with_batch_config(config)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(
                CountingProcessor::new(batch, counters.clone()).with_queue_size(size),
            )
            .build();
        (provider, counters)
    }

    fn end_spans(provider: &SdkTracerProvider, n: usize) {
        let tracer = provider.tracer("counts");
        for _ in 0..n {
            tracer.in_span("work", |_cx| {});
        }
    }

    #[test]
    fn delivered_spans_are_counted_as_exported() {
        let spans = InMemorySpanExporter::default();
        let (provider, counters) = provider(spans.clone(), 64);
        end_spans(&provider, 5);
        provider.force_flush().unwrap();
        assert_eq!(spans.get_finished_spans().unwrap().len(), 5);
        let counts = counters.snapshot();
        assert_eq!(
            (
                counts.ended,
                counts.exported,
                counts.failed,
                counts.dropped()
            ),
            (5, 5, 0, 0)
        );
    }

    /// An exporter whose collector is down.
    #[derive(Debug)]
    struct Refused;

    impl SpanExporter for Refused {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Err(OTelSdkError::InternalFailure(
                "connection refused".to_owned(),
            ))
        }
    }

    #[test]
    fn spans_of_failed_exports_are_counted_as_failed() {
        let (provider, counters) = provider(Refused, 64);
        end_spans(&provider, 4);
        let _ = provider.force_flush();
        let counts = counters.snapshot();
        assert_eq!(
            (
                counts.ended,
                counts.exported,
                counts.failed,
                counts.dropped()
            ),
            (4, 0, 4, 0)
        );
    }

    /// An exporter that says when a batch reaches it, and delivers it only
    /// when the test says so.
    #[derive(Debug)]
    struct Held {
        reached: Mutex<mpsc::Sender<()>>,
        release: Mutex<Receiver<()>>,
    }

    impl SpanExporter for Held {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            let _ = self.reached.lock().unwrap().send(());
            let _ = self.release.lock().unwrap().recv();
            Ok(())
        }
    }

    #[test]
    fn spans_past_the_full_queue_are_dropped_counted_and_said() {
        let (release, held) = mpsc::channel();
        let (reached, reaching) = mpsc::channel();
        let exporter = Held {
            reached: Mutex::new(reached),
            release: Mutex::new(held),
        };
        let (provider, counters) = provider(exporter, 2);
        // Once the exporter holds the first span, two more fit in the queue
        // of two (as in the SDK's processor, the batch being exported is
        // not in it); the other seven are dropped in front of the batch
        // processor.
        end_spans(&provider, 1);
        reaching.recv().unwrap();
        end_spans(&provider, 9);
        let counts = counters.snapshot();
        assert_eq!((counts.ended, counts.queue_full), (10, 7), "{counts:?}");
        for _ in 0..10 {
            release.send(()).unwrap();
        }
        drop(release);
        provider.force_flush().unwrap();
        let counts = counters.snapshot();
        assert_eq!(
            (
                counts.ended,
                counts.exported,
                counts.failed,
                counts.queue_full,
                counts.dropped()
            ),
            (10, 3, 0, 7, 7)
        );
        // Said once already: the name is taken.
        assert!(!diag::warn_once(QUEUE_FULL, "again"));
    }

    #[test]
    fn the_queue_size_is_read_from_the_batch_config() {
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(4321)
            .with_max_export_batch_size(17)
            .build();
        assert_eq!(queue_size(&config), Some(4321));
        assert_eq!(queue_size(&BatchConfig::default()), Some(2048));
    }
}
