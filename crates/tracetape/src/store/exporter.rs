//! [`LocalSpanExporter`]: writes each exported batch as one OTLP/JSON file.

use std::future::{Future, ready};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::LocalStore;
use super::cap::SizeCap;
use super::error::{EvictError, WriteError};
use super::files;
use super::json::{self, JsonResource};
use crate::diag::chain;

/// A [`SpanExporter`] that writes into a [`LocalStore`].
///
/// Each batch becomes one file holding an OTLP/JSON `TracesData` document,
/// written atomically. After each write the oldest files are removed to keep
/// the store under its size cap; the exporter keeps count of the files and
/// their sizes itself, and lists the directory only at the first export and
/// then every so often. Failures are returned to the SDK as
/// [`OTelSdkError`]s; the exporter never panics.
///
/// Writing is synchronous file IO. With a `BatchSpanProcessor` (the usual
/// choice) it runs on the processor's own thread, away from request handling.
#[derive(Debug)]
pub struct LocalSpanExporter {
    store: LocalStore,
    resource: JsonResource,
    is_shutdown: AtomicBool,
    /// The store's size cap, enforced after each batch.
    cap: Mutex<SizeCap>,
}

impl LocalSpanExporter {
    /// An exporter writing into `store`.
    pub fn new(store: LocalStore) -> Self {
        Self {
            resource: JsonResource::default(),
            is_shutdown: AtomicBool::new(false),
            cap: Mutex::new(SizeCap::default()),
            store,
        }
    }

    /// The store this exporter writes into.
    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// Lists the directory at every `n`-th export instead.
    #[cfg(test)]
    fn with_rescan_every(self, n: u32) -> Self {
        let cap = self
            .cap
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Self {
            cap: Mutex::new(cap.with_rescan_every(n)),
            ..self
        }
    }

    /// How many files the cap counts and their total size; `None` before
    /// the first export.
    #[cfg(test)]
    fn counted(&self) -> Option<(usize, u64)> {
        let cap = self.cap.lock().unwrap_or_else(PoisonError::into_inner);
        cap.counted()
    }

    fn write_batch(&self, batch: Vec<SpanData>) -> Result<(), WriteError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut contents = Vec::new();
        json::encode(&batch, &self.resource, &mut contents);
        let dir = self.store.dir();
        files::create_dir(dir)?;
        let written = files::write_atomic(dir, &files::next_file_name(), &contents)?;
        if let Err(err) = self.enforce_cap(dir, written, contents.len() as u64) {
            // The spans are safely stored; only the cap is not enforced yet,
            // and the next export tries again.
            crate::diag::warn_once("LocalSpanExporter.EvictionFailed", chain(&err));
        }
        Ok(())
    }

    /// Counts the file just written (`len` bytes at `written`) and removes
    /// the oldest files while the store is over its cap.
    fn enforce_cap(&self, dir: &Path, written: PathBuf, len: u64) -> Result<(), EvictError> {
        let mut cap = self.cap.lock().unwrap_or_else(PoisonError::into_inner);
        cap.after_write(dir, (written, len), self.store.max_bytes())
            .map(drop)
    }
}

impl SpanExporter for LocalSpanExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let result = if self.is_shutdown.load(Ordering::Acquire) {
            Err(OTelSdkError::AlreadyShutdown)
        } else {
            self.write_batch(batch)
                .map_err(|err| OTelSdkError::InternalFailure(chain(&err)))
        };
        ready(result)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Every export is complete when it returns, so there is nothing to
        // flush; later exports are refused.
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = JsonResource::new(resource);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::borrow::Cow;
    use std::fs;
    use std::path::PathBuf;
    use std::time::SystemTime;

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState, Tracer as _,
        TracerProvider as _,
    };
    use opentelemetry_proto::tonic::trace::v1::TracesData;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;
    use crate::store::testing::{provider, temp_store};

    fn span_data(name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1),
                SpanId::from(2),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn batch_files(store: &LocalStore) -> Vec<PathBuf> {
        files::batch_files(store.dir()).unwrap()
    }

    fn total_size(files: &[PathBuf]) -> u64 {
        files.iter().map(|f| fs::metadata(f).unwrap().len()).sum()
    }

    #[test]
    fn each_span_batch_is_one_otlp_json_file() {
        let (_tmp, store) = temp_store();
        let provider = provider(&store, "svc");
        let tracer = provider.tracer("test");
        tracer.in_span("one", |_| {});
        tracer.in_span("two", |_| {});
        provider.shutdown().unwrap();

        let files = batch_files(&store);
        assert_eq!(files.len(), 2);
        let text = fs::read_to_string(&files[0]).unwrap();
        let document: TracesData = serde_json::from_str(&text).unwrap();
        let span = &document.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.name, "one");
        assert!(text.contains(r#""stringValue":"svc""#), "{text}");
    }

    #[test]
    fn oldest_files_are_evicted_to_stay_under_the_cap() {
        let (_tmp, store) = temp_store();
        let probe = store.clone().with_max_bytes(u64::MAX);
        let provider_probe = provider(&probe, "svc");
        provider_probe.tracer("test").in_span("span-00", |_| {});
        provider_probe.shutdown().unwrap();
        let one_file = total_size(&batch_files(&store));

        // Room for three files of this size, not four.
        let cap = one_file * 3 + one_file / 2;
        let provider = provider(&store.clone().with_max_bytes(cap), "svc");
        let tracer = provider.tracer("test");
        for name in ["span-01", "span-02", "span-03", "span-04", "span-05"] {
            tracer.in_span(name, |_| {});
            assert!(total_size(&batch_files(&store)) <= cap);
        }
        provider.shutdown().unwrap();

        let names: Vec<String> = batch_files(&store)
            .iter()
            .map(|file| {
                let document: TracesData =
                    serde_json::from_slice(&fs::read(file).unwrap()).unwrap();
                document.resource_spans[0].scope_spans[0].spans[0]
                    .name
                    .clone()
            })
            .collect();
        assert_eq!(names, ["span-03", "span-04", "span-05"]);
    }

    #[test]
    fn a_batch_larger_than_the_cap_is_still_kept() {
        let (_tmp, store) = temp_store();
        let provider = provider(&store.clone().with_max_bytes(1), "svc");
        let tracer = provider.tracer("test");
        tracer.in_span("first", |_| {});
        tracer.in_span("second", |_| {});
        provider.shutdown().unwrap();

        let files = batch_files(&store);
        assert_eq!(files.len(), 1);
        assert!(fs::read_to_string(&files[0]).unwrap().contains("second"));
    }

    // Guards the running total: the cap must follow the exporter's own
    // writes and evictions without listing the directory each time, and
    // notice at the next listing what others added or removed.
    #[tokio::test]
    async fn the_cap_keeps_a_running_total_and_lists_the_directory_now_and_then() {
        let (_tmp, store) = temp_store();
        let exporter = store
            .clone()
            .with_max_bytes(u64::MAX)
            .exporter()
            .with_rescan_every(4);
        assert_eq!(exporter.counted(), None);
        // Export 1 lists the directory, exports 2 to 4 only count.
        for name in ["span-1", "span-2"] {
            exporter.export(vec![span_data(name)]).await.unwrap();
        }
        let on_disk = batch_files(&store);
        assert_eq!(exporter.counted(), Some((2, total_size(&on_disk))));

        // Someone else removes our oldest file and drops in an older one.
        fs::remove_file(&on_disk[0]).unwrap();
        fs::write(store.dir().join("0-foreign.json"), b"{}").unwrap();
        exporter.export(vec![span_data("span-3")]).await.unwrap();
        let (files, total) = exporter.counted().unwrap();
        assert_eq!(files, 3, "not listed again yet");
        assert_ne!(total, total_size(&batch_files(&store)));

        // Evicting the file that is already gone is not an error, and the
        // total follows the eviction.
        let newest = total_size(&batch_files(&store)[2..]);
        let exporter = LocalSpanExporter {
            store: store.clone().with_max_bytes(total - newest / 2),
            ..exporter
        };
        exporter.export(vec![span_data("span-4")]).await.unwrap();
        let (files, total) = exporter.counted().unwrap();
        assert_eq!(files, 2);
        assert!(total <= exporter.store().max_bytes());
        assert!(
            store.dir().join("0-foreign.json").exists(),
            "not known before the next listing"
        );

        // Export 5 lists the directory again: the foreign file counts now,
        // and as the oldest it is the first to go.
        let exporter = LocalSpanExporter {
            store: store.clone().with_max_bytes(u64::MAX),
            ..exporter
        };
        exporter.export(vec![span_data("span-5")]).await.unwrap();
        let on_disk = batch_files(&store);
        assert_eq!(exporter.counted(), Some((4, total_size(&on_disk))));
        assert!(on_disk[0].ends_with("0-foreign.json"));
    }

    #[tokio::test]
    async fn unwritable_store_is_an_export_error() {
        let (tmp, _) = temp_store();
        let blocker = tmp.path().join("not-a-dir");
        fs::write(&blocker, b"").unwrap();
        let exporter = LocalStore::new(blocker.join("traces")).exporter();

        let err = exporter.export(vec![span_data("lost")]).await.unwrap_err();
        let OTelSdkError::InternalFailure(message) = err else {
            panic!("unexpected error {err:?}");
        };
        assert!(
            message.starts_with("failed to create directory"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn export_after_shutdown_is_refused() {
        let (_tmp, store) = temp_store();
        let exporter = store.exporter();
        exporter.export(Vec::new()).await.unwrap();
        assert!(!store.dir().exists(), "an empty batch writes nothing");
        exporter.shutdown().unwrap();
        let err = exporter.export(vec![span_data("late")]).await.unwrap_err();
        assert!(matches!(err, OTelSdkError::AlreadyShutdown), "{err:?}");
    }
}
