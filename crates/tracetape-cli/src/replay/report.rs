//! The report of a replay, in three formats: text for people
//! (`report/text.rs`), JSON (`report/json.rs`, its schema in
//! docs/replay-report.md) and JUnit XML (`report/junit.rs`) for CI; the
//! counts they all show are in `report/summary.rs`, unpatched connections
//! and resolutions as text in `report/findings.rs`.

mod findings;
mod json;
mod junit;
mod summary;
mod text;

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use super::outcome::Replayed;
use super::select::Skipped;
use super::unpatched::Unpatched;
pub(crate) use summary::Summary;
pub(crate) use text::Style;

/// The report's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// What needs looking at, then a table per route.
    #[default]
    Text,
    /// One JSON document (docs/replay-report.md).
    Json,
    /// JUnit XML: one test case per recording.
    Junit,
}

/// Everything a replay found.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) service: String,
    pub(crate) base_url: String,
    /// The recordings directory.
    pub(crate) recordings: PathBuf,
    /// Recordings selected; more than `results` when interrupted.
    pub(crate) selected: usize,
    /// The replayed recordings, in the order they were recorded.
    pub(crate) results: Vec<Replayed>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) duration: Duration,
    /// Stopped by Ctrl-C before the end.
    pub(crate) interrupted: bool,
    /// How many times the service was started again after dying.
    pub(crate) restarts: usize,
    /// Why the service stopped answering for good, if it did.
    pub(crate) service_failure: Option<String>,
    /// The service's log, when it was kept.
    pub(crate) service_log: Option<PathBuf>,
    /// Connections the service made around tracetape's clients.
    pub(crate) unpatched: Unpatched,
    /// Such connections fail the run (JUnit: as failures).
    pub(crate) fail_on_unpatched: bool,
    /// What the service did outside the replayed requests; `None` when it
    /// could not tell (said in `background_unknown`).
    pub(crate) background: Option<Background>,
    /// Why the service could not tell what it did outside the replayed
    /// requests.
    pub(crate) background_unknown: Option<String>,
}

/// The calls the service made outside any replayed request (at start-up,
/// by background jobs), and the replayed requests' work still running.
#[derive(Debug)]
pub(crate) struct Background {
    pub(crate) log: tracetape::replay::ReplayLog,
    /// Replayed requests whose work after the response had not ended when
    /// the replay stopped waiting.
    pub(crate) pending: usize,
    /// Replayed requests with calls after their response past the first
    /// 256, whose late calls were not told (nor judged).
    pub(crate) late_omitted: usize,
    /// Calls answered by a recorded call that is not the same call fail
    /// the run.
    pub(crate) calls_fail: bool,
}

impl Background {
    /// Whether it fails the run: a call no background recording answered,
    /// a recorded call made once (at start-up) that nothing made, or
    /// (unless only warned about) one answered by another call.
    pub(crate) fn fails(&self) -> bool {
        self.log.missing().next().is_some()
            || !self.log.unused.is_empty()
            || self.log.omitted_unmatched > 0
            || (self.calls_fail && self.log.calls.iter().any(|call| call.deviates()))
    }
}

impl Report {
    /// The counts per route and in all.
    pub(crate) fn summary(&self) -> Summary {
        Summary::of(&self.results)
    }

    /// Whether the run passed: every recording, the calls outside them,
    /// and (with `--fail-on-unpatched`) no connection around tracetape.
    pub(crate) fn passed(&self) -> bool {
        self.summary().totals.not_passed() == 0
            && !self.background.as_ref().is_some_and(Background::fails)
            && (!self.fail_on_unpatched || self.unpatched.findings.is_empty())
    }
}

/// Writes `report` in `format`; `style` colours the text format.
pub(crate) fn write(
    report: &Report,
    format: Format,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write(report, style, out),
        Format::Json => json::write(report, out),
        Format::Junit => junit::write(report, out),
    }
}
