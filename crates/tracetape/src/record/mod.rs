//! Record mode: turning real traffic into recordings that a later replay
//! can serve.
//!
//! With `TRACETAPE_MODE=record`, the server and client layers that trace
//! a service also capture what it received, what it answered and every
//! outbound call it made while answering, as [`Recording`]s: one per
//! trace, each a list of [`Exchange`]s tied to the spans that traced them.
//! Bodies are captured as they stream past, never buffered whole first,
//! and kept byte-exact up to a limit.
//!
//! The server layer captures inbound requests once given a [`Recorder`]
//! ([`TraceLayer::with_recorder`](crate::server::TraceLayer::with_recorder)),
//! and the client layers the outbound calls made in its context, also by
//! tasks that carry that context after the response (or,
//! with [`client::TraceLayer::with_recorder`](crate::client::TraceLayer::with_recorder),
//! outside any request). With `TRACETAPE_MODE=record`,
//! [`tracetape::init`](crate::init) starts a [`Recorder`] from
//! [`RecordSettings`] and installs it for the whole process, and layers
//! without a recorder of their own record into it; the
//! [`TelemetryGuard`](crate::setup::TelemetryGuard) flushes it and removes
//! it again. Bodies are teed with [`TeeBody`] (or [`MaybeTee`], when only
//! some are recorded).
//!
//! Each recording is appended, off the request path, as one line to the
//! open segment of a [`RecordingStore`] (by default
//! `.tracetape/recordings`, directory 0700, files 0600): rotating
//! `*.jsonl` files written by one thread in large sequential writes,
//! synced to disk when they are closed, so a crash loses at most the end
//! of the open one, which readers skip. A line is one OTLP/JSON
//! `TracesData` document ([`Recording::to_otlp_json`],
//! [`Recording::from_otlp_json`]), so recordings can travel through an
//! OpenTelemetry Collector and its file output reads back; the format is
//! versioned ([`FormatVersion`], and the segment layout in each segment's
//! header line) and documented, attribute by attribute, in the
//! [recordings guide]. The files of earlier versions, one recording each,
//! are still read.
//!
//! [recordings guide]: https://github.com/tracetape/tracetape/blob/main/docs/recordings.md

pub(crate) mod assembly;
mod body;
mod budget;
mod capture;
mod config;
mod config_file;
mod encoding;
mod error;
mod file;
mod format;
mod forward;
mod global;
mod maybe;
mod model;
mod read;
mod recorder;
mod redact;
mod save;
mod segment;
mod tally;
mod writer;

#[cfg(all(test, feature = "axum", feature = "reqwest"))]
mod export_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use body::{BodyCapture, BodyEnd, BodySink, TeeBody};
pub(crate) use capture::{header_records, request_record, response_record};
pub use config::{
    DEFAULT_DIR, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DIR_BYTES, DEFAULT_MAX_HELD_BYTES,
    DEFAULT_QUEUE, Mode, RecordSettings,
};
pub use config_file::{CONFIG_FILE, ConfigError, check_config};
pub(crate) use encoding::decompress_message;
pub use encoding::{DecodeBodyError, MAX_DECODED_BODY_BYTES};
pub use error::{
    DecodeError, EncodeError, ExchangeError, ListRecordingsError, ReadRecordingError,
    WriteRecordingFileError,
};
pub use format::FormatVersion;
pub(crate) use global::{global, install as install_global, uninstall as uninstall_global};
pub use maybe::MaybeTee;
pub use model::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RequestRecord, ResponseRecord,
};
pub use read::{
    FileRecordings, LoadedRecordings, MAX_RECORDING_BYTES, RecordingStore, StoredRecording,
};
pub use recorder::{FlushRecorderError, LINGER, MAX_LINGERING, Recorder, StartRecorderError};
pub(crate) use recorder::{NotSampled, Part, TraceRecording};
pub use redact::{
    DEFAULT_HEADERS, Direction, InvalidRuleError, JsonPath, JsonPathError, KEY_FILE, Pattern,
    PatternError, RedactAction, RedactRule, RedactTarget, RedactionKey, RedactionKeyError,
};
pub(crate) use redact::{Redactor, share_query_keys};

/// The recordings guide's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/recordings.md")]
struct GuideDoctests;

/// The configuration reference's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/configuration.md")]
struct ConfigurationDoctests;
