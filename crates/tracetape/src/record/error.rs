//! One error type per operation on recordings: encoding, decoding, reading
//! one file, listing a directory.

use std::error::Error as StdError;
use std::io;
use std::path::{Path, PathBuf};

use super::FormatVersion;

/// Why a [`Recording`](super::Recording) could not be encoded as OTLP/JSON.
#[derive(Debug, thiserror::Error)]
#[error("failed to serialize the recording as OTLP/JSON")]
pub struct EncodeError {
    #[source]
    source: serde_json::Error,
}

/// Why a document is not a recording this build can read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not an OTLP/JSON `TracesData` document: not JSON, cut
    /// short, or of the wrong shape.
    #[error("not an OTLP/JSON TracesData document")]
    Json {
        /// What the JSON parser reported, with the line and column.
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },
    /// No resource of the document says which recording format it uses.
    #[error("not a tracetape recording: no resource has a tracetape.recording.version attribute")]
    NotARecording,
    /// The format version is not `MAJOR.MINOR`.
    #[error("invalid recording format version {found:?}: expected MAJOR.MINOR")]
    InvalidVersion {
        /// The version as written.
        found: String,
    },
    /// The file was written by a newer tracetape, in a format this build
    /// cannot read.
    #[error(
        "the recording is in format {found}, newer than this build of tracetape reads \
         (format {supported}); upgrade tracetape to read it"
    )]
    TooNew {
        /// The format of the file.
        found: FormatVersion,
        /// The format this build writes; it reads every minor version of
        /// the same major version.
        supported: FormatVersion,
    },
    /// The file is in an older major format that this build no longer reads.
    #[error(
        "the recording is in format {found}, older than this build of tracetape reads \
         (format {supported})"
    )]
    TooOld {
        /// The format of the file.
        found: FormatVersion,
        /// The format this build writes.
        supported: FormatVersion,
    },
    /// A segment file's header names a layout version of another major
    /// version than this build reads.
    #[error(
        "the file is a segment in layout {found}, which this build of tracetape does not read \
         (layout {supported}); use a tracetape that reads it"
    )]
    LayoutNotRead {
        /// The layout version of the segment.
        found: FormatVersion,
        /// The layout version this build reads.
        supported: FormatVersion,
    },
    /// The exchanges do not all belong to one trace.
    #[error("the exchanges belong to more than one trace ({first} and {other})")]
    MixedTraces {
        /// The trace id of the first exchange.
        first: String,
        /// A different trace id found later.
        other: String,
    },
    /// A span is not a valid exchange.
    #[error("span {index} ({name:?}) is not a valid exchange")]
    Exchange {
        /// The span's position among the recording's spans, from 0.
        index: usize,
        /// The span's name.
        name: String,
        /// What is wrong with it.
        #[source]
        source: ExchangeError,
    },
}

impl DecodeError {
    pub(crate) fn json(source: serde_json::Error) -> Self {
        Self::Json {
            source: Box::new(source),
        }
    }
}

/// What is wrong with one span of a recording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// A trace or span id has the wrong length.
    #[error("{field} has {len} bytes, expected {expected}")]
    InvalidId {
        /// `traceId`, `spanId` or `parentSpanId`.
        field: &'static str,
        /// The length found.
        len: usize,
        /// The length required.
        expected: usize,
    },
    /// A required attribute is absent.
    #[error("missing attribute {key}")]
    Missing {
        /// The attribute.
        key: &'static str,
    },
    /// An attribute has a value of the wrong type.
    #[error("attribute {key} is not {expected}")]
    WrongType {
        /// The attribute.
        key: &'static str,
        /// The type required, with its article (`a string`).
        expected: &'static str,
    },
    /// An integer attribute is outside the range its field allows.
    #[error("attribute {key} is out of range: {value}")]
    OutOfRange {
        /// The attribute.
        key: &'static str,
        /// The value found.
        value: i64,
    },
    /// An entry of a header list is not a `{name, value}` kvlist.
    #[error(
        "entry {index} of {key} is not a header: expected a kvlist with a string name and a string or bytes value"
    )]
    InvalidHeader {
        /// The header list attribute.
        key: &'static str,
        /// The entry's position, from 0.
        index: usize,
    },
}

/// Why one recording file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadRecordingError {
    /// The file could not be read from disk.
    #[error("failed to read recording {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },
    /// The file was read but is not a recording this build can read:
    /// truncated, corrupt, or written by a newer tracetape.
    #[error("failed to read recording {path}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why it could not be decoded.
        #[source]
        source: DecodeError,
    },
    /// The file is larger than any recording tracetape writes
    /// ([`MAX_RECORDING_BYTES`](super::MAX_RECORDING_BYTES)), so it is not
    /// read.
    #[error(
        "recording {path} is {size} bytes, more than the {limit} a recording may have; not read"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// One line of a file holding several (a segment, or a collector's
    /// output) is not a recording this build can read; the file's other
    /// lines are still read.
    #[error("failed to read the recording on line {line} of {path}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: u64,
        /// Why it could not be decoded.
        #[source]
        source: DecodeError,
    },
    /// One line of a file is longer than any recording tracetape writes
    /// ([`MAX_RECORDING_BYTES`](super::MAX_RECORDING_BYTES)), so it was
    /// skipped unread; the file's other lines are still read.
    #[error(
        "line {line} of {path} is {size} bytes, more than the {limit} a recording may have; not read"
    )]
    LineTooLarge {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: u64,
        /// Its length.
        size: u64,
        /// The largest recording.
        limit: u64,
    },
}

impl ReadRecordingError {
    /// The file that could not be read, or that holds the line that could
    /// not be.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::Decode { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Line { path, .. }
            | Self::LineTooLarge { path, .. } => path,
        }
    }

    /// The line that could not be read, counted from 1, when the error is
    /// about one line of a file rather than the whole file.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Line { line, .. } | Self::LineTooLarge { line, .. } => Some(*line),
            Self::Io { .. } | Self::Decode { .. } | Self::TooLarge { .. } => None,
        }
    }

    /// Whether the file was written by a newer tracetape (the fix is to
    /// upgrade, not to delete the file).
    pub fn is_too_new(&self) -> bool {
        matches!(
            self,
            Self::Decode {
                source: DecodeError::TooNew { .. } | DecodeError::LayoutNotRead { .. },
                ..
            } | Self::Line {
                source: DecodeError::TooNew { .. },
                ..
            }
        )
    }
}

/// Why the recordings of a directory could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListRecordingsError {
    /// The directory exists but could not be listed.
    #[error("failed to list recordings in {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },
}

/// Why [`Recording::write_to`](super::Recording::write_to) could not write
/// a recording file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteRecordingFileError {
    /// The recording could not be encoded as OTLP/JSON.
    #[error("failed to write recording {path}")]
    Encode {
        /// The file it was to be written to.
        path: PathBuf,
        /// Why it could not be encoded.
        #[source]
        source: EncodeError,
    },
    /// The line to replace does not hold the recording of the trace
    /// (alone on its line), so the file was left as it was.
    #[error("line {line} of {path} does not hold the recording of trace {trace_id}; not replaced")]
    NotOnLine {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: u64,
        /// The trace of the recording that was to replace it.
        trace_id: String,
    },
    /// The path names no file in a directory.
    #[error("cannot write a recording to {path}: not a file name in a directory")]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// The temporary file could not be written or renamed into place; the
    /// file at `path`, if there was one, is as it was.
    #[error("failed to write recording {path}")]
    Store {
        /// The file it was to be written to.
        path: PathBuf,
        /// What failed: the temporary file's write, or the rename.
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },
}

impl WriteRecordingFileError {
    /// The file that was to be written.
    pub fn path(&self) -> &Path {
        match self {
            Self::Encode { path, .. }
            | Self::NotAFile { path }
            | Self::NotOnLine { path, .. }
            | Self::Store { path, .. } => path,
        }
    }
}
