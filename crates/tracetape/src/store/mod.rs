//! The embedded local span store that the `tracetape` command reads.
//!
//! A [`LocalStore`] is a directory (by default `.tracetape/traces`) of
//! OTLP/JSON files with a size cap. [`LocalSpanExporter`] writes each batch
//! of spans as one file, atomically, and removes the oldest files when the
//! store grows past its cap; [`LocalStore::files`] lists the finished
//! files, which `tracetape list --traces` and `tracetape show` read.
//!
//! The files are plain OTLP/JSON `TracesData` documents, so other tools can
//! read them, and files from other OTLP/JSON writers can be dropped in.
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
//! for file in store.files()? {
//!     println!("{}", file.display());
//! }
//! # Ok(())
//! # }
//! ```

pub(crate) mod cap;
mod error;
mod exporter;
pub(crate) mod files;
mod json;
mod local;

#[cfg(test)]
mod testing;

pub use exporter::LocalSpanExporter;
pub use local::LocalStore;
