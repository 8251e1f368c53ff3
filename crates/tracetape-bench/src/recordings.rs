//! What a record mode run recorded: the recorder's own counters, which
//! `serve` prints as one line on standard output when it stops, and the
//! files left in the recordings directory, with one of them read back to
//! see whether its bodies were kept whole.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use tracetape::record::{Recorder, Recording, RecordingStore};

/// The recorder's counters when the app stopped (after a flush).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RecorderCounts {
    /// Recordings written to disk.
    pub(crate) written: u64,
    /// Recordings dropped because the writer's bounded queue was full.
    pub(crate) dropped: u64,
    /// Recordings that could not be written.
    pub(crate) failed: u64,
    /// Bodies cut short because the body budget (`max_held_bytes`) was
    /// taken.
    pub(crate) cut_by_budget: u64,
    /// Whether every queued recording was written before the counts were
    /// taken.
    pub(crate) flushed: bool,
}

/// How the line starts.
const PREFIX: &str = "recorder:";

impl RecorderCounts {
    pub(crate) fn of(recorder: &Recorder, flushed: bool) -> Self {
        RecorderCounts {
            written: recorder.written(),
            dropped: recorder.dropped(),
            failed: recorder.failed(),
            cut_by_budget: recorder.cut_by_budget(),
            flushed,
        }
    }

    /// Finds the line [`Display`](fmt::Display) writes in `text`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut counts = RecorderCounts::default();
        for (key, value) in counter_line(text, PREFIX)? {
            match key {
                "written" => counts.written = value.parse().ok()?,
                "dropped" => counts.dropped = value.parse().ok()?,
                "failed" => counts.failed = value.parse().ok()?,
                "cut_by_budget" => counts.cut_by_budget = value.parse().ok()?,
                "flushed" => counts.flushed = value.parse().ok()?,
                _ => {}
            }
        }
        Some(counts)
    }
}

impl fmt::Display for RecorderCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} written={} dropped={} failed={} cut_by_budget={} flushed={}",
            self.written, self.dropped, self.failed, self.cut_by_budget, self.flushed
        )
    }
}

/// The `key=value` pairs of the last line of `text` that starts with
/// `prefix`; `None` when there is none, or a pair has no `=`.
pub(crate) fn counter_line<'a>(text: &'a str, prefix: &str) -> Option<Vec<(&'a str, &'a str)>> {
    let line = text.lines().rev().find_map(|l| l.strip_prefix(prefix))?;
    line.split_whitespace()
        .map(|pair| pair.split_once('='))
        .collect()
}

/// The recordings directory after a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RecordedFiles {
    /// Recordings on disk (lines of segments, counted without decoding).
    pub(crate) files: u64,
    /// The total size of the files holding them.
    pub(crate) bytes: u64,
    /// The newest one's inbound request and response body sizes, and
    /// whether either was truncated.
    pub(crate) sample: Option<BodySizes>,
}

/// The body sizes of one recorded exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodySizes {
    pub(crate) request: u64,
    pub(crate) response: u64,
    pub(crate) truncated: bool,
}

/// Counts the recordings in `dir` and reads the newest back.
pub(crate) fn inspect(dir: &Path) -> anyhow::Result<RecordedFiles> {
    let store = RecordingStore::new(dir);
    let paths = store
        .paths()
        .with_context(|| format!("listing {}", dir.display()))?;
    let bytes = paths
        .iter()
        .filter_map(|path| path.metadata().ok())
        .map(|meta| meta.len())
        .sum();
    let recordings = store
        .count()
        .with_context(|| format!("counting {}", dir.display()))?;
    let sample = match paths.first() {
        Some(newest) => {
            let mut file = RecordingStore::read_file(newest);
            if let Some(err) = file.errors.pop() {
                return Err(
                    anyhow::Error::new(err).context(format!("reading {}", newest.display()))
                );
            }
            file.recordings
                .pop()
                .and_then(|stored| sizes(&stored.recording))
        }
        None => None,
    };
    Ok(RecordedFiles {
        files: recordings,
        bytes,
        sample,
    })
}

/// The inbound exchange's body sizes.
fn sizes(recording: &Recording) -> Option<BodySizes> {
    recording.inbound().map(|exchange| {
        let response = exchange.response.as_ref().map(|r| &r.body);
        BodySizes {
            request: exchange.request.body.size,
            response: response.map_or(0, |body| body.size),
            truncated: exchange.request.body.truncated
                || response.is_some_and(|body| body.truncated),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_through_the_line() {
        let counts = RecorderCounts {
            written: 10,
            dropped: 2,
            failed: 1,
            cut_by_budget: 3,
            flushed: true,
        };
        let text = format!("other output\n{counts}\n");
        assert_eq!(RecorderCounts::parse(&text), Some(counts));
        assert_eq!(RecorderCounts::parse("nothing\n"), None);
        assert_eq!(RecorderCounts::parse("recorder: written=x\n"), None);
    }

    #[test]
    fn an_empty_or_missing_directory_has_no_recordings() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        assert_eq!(inspect(dir.path())?, RecordedFiles::default());
        assert_eq!(inspect(&dir.path().join("none"))?, RecordedFiles::default());
        Ok(())
    }
}
