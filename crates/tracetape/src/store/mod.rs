//! The embedded local span store that the `tracetape` command reads.
//!
//! A [`LocalStore`] is a directory (by default `.tracetape/traces`) of
//! OTLP/JSON files with a size cap. [`LocalSpanExporter`] writes each batch
//! of spans as one file, atomically, and removes the oldest files when the
//! store grows past its cap. [`LocalStore::traces`] summarises the stored
//! traces and [`LocalStore::trace`] returns one of them, whose spans
//! [`Trace::walk`] visits as a tree.
//!
//! The files are plain OTLP/JSON `TracesData` documents, so other tools can
//! read them, and files from other OTLP/JSON writers can be dropped in.
//! Files that cannot be decoded are skipped and counted, never fatal.
//!
//! ```no_run
//! use tracetape::opentelemetry::trace::{Tracer as _, TracerProvider as _};
//! use tracetape::opentelemetry_sdk::trace::SdkTracerProvider;
//! use tracetape::store::LocalStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = LocalStore::default().with_max_bytes(16 * 1024 * 1024);
//! let provider = SdkTracerProvider::builder()
//!     .with_batch_exporter(store.exporter())
//!     .build();
//! provider.tracer("example").in_span("work", |_cx| {});
//! provider.shutdown()?;
//!
//! let list = store.traces()?;
//! if let Some(newest) = list.traces.first() {
//!     let trace = store.trace(&newest.trace_id)?;
//!     for entry in trace.walk() {
//!         println!("{:indent$}{}", "", entry.span.name, indent = 2 * entry.depth);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod cap;
mod error;
mod exporter;
pub(crate) mod files;
mod json;
mod local;
mod read;
mod span;
mod trace;

#[cfg(test)]
mod testing;

pub use error::{FindTraceError, ReadError};
pub use exporter::LocalSpanExporter;
pub use local::LocalStore;
pub use read::{TraceList, TraceSummary};
pub use span::{SpanEvent, SpanKind, SpanStatus, StoredSpan};
pub use trace::{Trace, TreeEntry};
