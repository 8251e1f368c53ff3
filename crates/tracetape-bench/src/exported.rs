//! What tracetape's own counters say became of the spans of a run
//! ([`tracetape::setup::SpanCounts`]): `serve` prints them as one line on
//! standard output when it stops, after shutting telemetry down, so the
//! report can tell the spans the collector acknowledged from those its log
//! counted.

use std::fmt;

use tracetape::setup::SpanCounts;

use crate::recordings::counter_line;

/// How the line starts.
const PREFIX: &str = "spans:";

/// tracetape's span counters when the app stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExportCounts {
    pub(crate) ended: u64,
    /// Exported: the collector acknowledged them.
    pub(crate) exported: u64,
    pub(crate) failed: u64,
    pub(crate) queue_full: u64,
}

impl ExportCounts {
    pub(crate) fn of(counts: &SpanCounts) -> Self {
        ExportCounts {
            ended: counts.ended,
            exported: counts.exported,
            failed: counts.failed,
            queue_full: counts.queue_full,
        }
    }

    /// Finds the line [`Display`](fmt::Display) writes in `text`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut counts = ExportCounts::default();
        for (key, value) in counter_line(text, PREFIX)? {
            let value = value.parse().ok()?;
            match key {
                "ended" => counts.ended = value,
                "exported" => counts.exported = value,
                "failed" => counts.failed = value,
                "queue_full" => counts.queue_full = value,
                _ => {}
            }
        }
        Some(counts)
    }

    /// The counts of several runs added up.
    pub(crate) fn total(runs: impl Iterator<Item = Self>) -> Self {
        runs.fold(ExportCounts::default(), |sum, run| ExportCounts {
            ended: sum.ended + run.ended,
            exported: sum.exported + run.exported,
            failed: sum.failed + run.failed,
            queue_full: sum.queue_full + run.queue_full,
        })
    }
}

impl fmt::Display for ExportCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} ended={} exported={} failed={} queue_full={}",
            self.ended, self.exported, self.failed, self.queue_full
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_back() {
        let counts = ExportCounts {
            ended: 10,
            exported: 7,
            failed: 2,
            queue_full: 1,
        };
        let text = format!("recorder: written=1\n{counts}\n");
        assert_eq!(ExportCounts::parse(&text), Some(counts));
        assert_eq!(ExportCounts::parse("nothing\n"), None);
        assert_eq!(ExportCounts::parse("spans: ended=x\n"), None);
    }
}
