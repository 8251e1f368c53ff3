//! The local span store read back, for `tracetape list --traces` and
//! `tracetape show`.
//!
//! The library's [`LocalStore`](tracetape::store::LocalStore) writes each
//! batch of spans as one plain OTLP/JSON `TracesData` file and lists them
//! ([`LocalStore::files`](tracetape::store::LocalStore::files)); this
//! module reads those files (and any other OTLP/JSON writer's dropped in):
//! [`traces`] summarises the stored traces and [`trace`] returns one of
//! them, whose spans [`Trace::walk`] visits as a tree. Files that cannot be
//! decoded are skipped and counted, never fatal.

mod error;
mod read;
mod span;
mod trace;

pub(crate) use error::FindTraceError;
pub(crate) use read::{TraceList, TraceSummary, trace, traces};
pub(crate) use read::{Unreadable, documents, files, service_name};
pub(crate) use span::{SpanEvent, SpanStatus, StoredSpan, hex, render_value};
pub(crate) use trace::Trace;
