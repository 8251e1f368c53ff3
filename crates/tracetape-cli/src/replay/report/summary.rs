//! What every format of the report counts: outcomes per route and in all,
//! and how the outbound calls were answered.

use std::collections::BTreeMap;

use super::super::outcome::{Outcome, Replayed};

/// Recordings per outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) passed: usize,
    pub(crate) deviated: usize,
    pub(crate) mock_missing: usize,
    pub(crate) errored: usize,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Deviated => self.deviated += 1,
            Outcome::MockMissing => self.mock_missing += 1,
            Outcome::Errored => self.errored += 1,
        }
    }

    /// All of them.
    pub(crate) fn total(&self) -> usize {
        self.passed + self.deviated + self.mock_missing + self.errored
    }

    /// Those that did not pass.
    pub(crate) fn not_passed(&self) -> usize {
        self.total() - self.passed
    }
}

/// The counts of a report.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Per request (`POST /orders`), in order of their names.
    pub(crate) routes: Vec<(String, Counts)>,
    pub(crate) totals: Counts,
    /// Outbound calls answered at each match level, by the level's name;
    /// `exact`, `redacted`, `dynamic` and `similar` are always there.
    pub(crate) levels: BTreeMap<&'static str, usize>,
    /// Outbound calls no recorded call answered.
    pub(crate) unmatched: usize,
}

impl Summary {
    pub(crate) fn of(results: &[Replayed]) -> Self {
        let mut routes: BTreeMap<String, Counts> = BTreeMap::new();
        let mut summary = Self {
            levels: ["exact", "redacted", "dynamic", "similar"]
                .into_iter()
                .map(|level| (level, 0))
                .collect(),
            ..Self::default()
        };
        for result in results {
            routes
                .entry(result.request())
                .or_default()
                .add(result.outcome);
            summary.totals.add(result.outcome);
            for call in &result.calls {
                match call.level {
                    Some(level) => *summary.levels.entry(level.as_str()).or_default() += 1,
                    None => summary.unmatched += 1,
                }
            }
            summary.unmatched += result.omitted_unmatched;
        }
        summary.routes = routes.into_iter().collect();
        summary
    }
}
