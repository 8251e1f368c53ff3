//! What `list` and `show` both need of recordings: the notes for files that
//! could not be read, and when a recording started.

use std::error::Error as _;
use std::io::{self, Write};

use tracetape::record::{ReadRecordingError, Recording};

use crate::format::chain;

/// One `note: skipped <path>: <why>` line per file that could not be read.
///
/// The error's own message only names the file again, so the note gives its
/// causes.
pub(crate) fn note_skipped(errors: &[ReadRecordingError], notes: &mut dyn Write) -> io::Result<()> {
    for err in errors {
        let why = err.source().map_or_else(|| err.to_string(), chain);
        writeln!(notes, "note: skipped {}: {why}", err.path().display())?;
    }
    Ok(())
}

/// When the recording started: the start of its inbound request, else of
/// its first exchange; `None` for a recording without exchanges.
pub(crate) fn start_unix_nanos(recording: &Recording) -> Option<u64> {
    recording
        .inbound()
        .or_else(|| recording.exchanges.first())
        .map(|exchange| exchange.start_unix_nanos)
}
