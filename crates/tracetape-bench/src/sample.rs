//! What one server run measured, and the medians and ratios taken over
//! the rounds.

use crate::cpu_share::RunCpu;
use crate::exported::ExportCounts;
use crate::load::LoadResult;
use crate::mode::Mode;
use crate::recordings::{RecordedFiles, RecorderCounts};

/// One server run: one mode in one round.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) load: LoadResult,
    /// Requests answered during warm-up and measurement (the spans the
    /// server should have produced, give or take those in flight at the
    /// end).
    pub(crate) requests_served: u64,
    /// Spans the collector received for this run (modes that export), as
    /// its log counts them.
    pub(crate) spans_received: Option<u64>,
    /// tracetape's own span counters, as the server printed them (modes
    /// that use tracetape).
    pub(crate) exported: Option<ExportCounts>,
    /// Bytes the local store wrote (local mode).
    pub(crate) store_bytes: Option<u64>,
    /// The server's peak resident set, in bytes, read just before it was
    /// stopped (where `/proc` says).
    pub(crate) peak_rss: Option<u64>,
    /// CPU used by the server, the load generator and the collector during
    /// the measured run (where `/proc` says).
    pub(crate) cpu: Option<RunCpu>,
    /// The recorder's counters, as the server printed them (record modes).
    pub(crate) recorder: Option<RecorderCounts>,
    /// The recordings directory after the run (record modes).
    pub(crate) recorded: Option<RecordedFiles>,
    /// How the server stopped when asked.
    pub(crate) exit: Exit,
    /// The server's standard error, when it wrote any.
    pub(crate) stderr: String,
}

/// How a server stopped when asked to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Exit {
    /// By itself, successfully.
    #[default]
    Ok,
    /// By itself, with this failed exit status (its standard error says
    /// why, unless a signal ended it).
    Failed(String),
    /// Killed after the stop timeout.
    Killed,
}

/// Every mode's runs, in the order of `--modes`.
pub(crate) type Samples = [(Mode, Vec<Sample>)];

pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values.get(mid).copied()
    } else {
        Some((values.get(mid - 1)? + values.get(mid)?) / 2.0)
    }
}

/// The median of `value` over `items`, those without one left out.
pub(crate) fn median_of<T>(items: &[T], value: impl Fn(&T) -> Option<f64>) -> Option<f64> {
    let mut values: Vec<f64> = items.iter().filter_map(value).collect();
    median(&mut values)
}

/// Median requests/s.
pub(crate) fn median_rps(samples: &[Sample]) -> Option<f64> {
    median_of(samples, |s| Some(s.load.rps))
}

/// Median peak resident set, bytes.
pub(crate) fn median_peak(samples: &[Sample]) -> Option<f64> {
    median_of(samples, |s| s.peak_rss.map(|b| b as f64))
}

/// The runs of `mode`, if it ran.
pub(crate) fn runs_of(samples: &Samples, mode: Mode) -> Option<&[Sample]> {
    samples
        .iter()
        .find(|(m, _)| *m == mode)
        .map(|(_, runs)| runs.as_slice())
}

/// The ratio of `mode`'s median requests/s to `other`'s; `None` when
/// either did not run.
pub(crate) fn median_ratio(samples: &Samples, mode: Mode, other: Mode) -> Option<f64> {
    let base = median_rps(runs_of(samples, other)?)?;
    Some(median_rps(runs_of(samples, mode)?)? / base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
