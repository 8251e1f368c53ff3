//! The fidelity benchmark's report: the unchanged runs, the changes, the
//! totals against the brief's targets.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::change::{Change, Expect};
use super::judge::Verdict;
use super::replay::ReplayRun;

/// Distinct places shown per unchanged run.
const PLACES_SHOWN: usize = 4;
/// Characters of "what the report said" per change.
const SAID_WIDTH: usize = 110;

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// `GET /quote $.quote_id x12, ...`: the most frequent places first.
fn places(run: &ReplayRun) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for finding in &run.findings {
        *counts
            .entry(format!("{} {}", finding.request, finding.place()))
            .or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shown: Vec<String> = counts
        .iter()
        .take(PLACES_SHOWN)
        .map(|(place, n)| format!("{place} x{n}"))
        .collect();
    let more = counts.len().saturating_sub(PLACES_SHOWN);
    match (shown.is_empty(), more) {
        (true, _) => "-".to_owned(),
        (false, 0) => shown.join("; "),
        (false, more) => format!("{}; +{more} more places", shown.join("; ")),
    }
}

/// The whole report.
pub(crate) fn summary(unchanged: &[ReplayRun], changes: &[(ReplayRun, Verdict)]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nunchanged build:");
    let _ = writeln!(
        out,
        "{:>3} {:>11} {:>8} {:>6} {:>8} {:>12} {:>7} {:>9} {:>8} {:>6}  first findings",
        "run",
        "concurrency",
        "replayed",
        "passed",
        "deviated",
        "mock-missing",
        "errored",
        "unpatched",
        "accepted",
        "secs"
    );
    for (i, run) in unchanged.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>3} {:>11} {:>8} {:>6} {:>8} {:>12} {:>7} {:>9} {:>8} {:>6.1}  {}",
            i + 1,
            run.concurrency,
            run.replayed,
            run.passed,
            run.deviated,
            run.mock_missing,
            run.errored,
            run.unpatched,
            run.accepted,
            run.elapsed.as_secs_f64(),
            places(run)
        );
    }

    let _ = writeln!(out, "\nchanged builds (one replay each, concurrency 1):");
    let width = Change::ALL
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(10);
    let _ = writeln!(
        out,
        "{:<width$} {:>6} {:>5} {:>5}  {:<28} what the report said",
        "change", "caught", "right", "new", "right place"
    );
    for (run, verdict) in changes {
        let change = run.change;
        let expected = match change.expect() {
            Expect::Caught { place, .. } => place.to_string(),
            Expect::Nothing => "(expected to pass)".to_owned(),
        };
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "{:<width$} {:>6} {:>5} {:>5}  {:<28} {}",
            change.name(),
            yes_no(verdict.caught),
            yes_no(verdict.right_place),
            verdict.new,
            cut(&expected, 28),
            cut(&verdict.said, SAID_WIDTH)
        );
    }
    let _ = writeln!(out, "\nthe changes:");
    for (run, _) in changes {
        let _ = writeln!(out, "  {:<width$} {}", run.change.name(), run.change.what());
    }

    let replayed: u64 = unchanged.iter().map(|run| run.replayed).sum();
    let failed: u64 = unchanged.iter().map(|run| run.replayed - run.passed).sum();
    let outside: usize = unchanged
        .iter()
        .flat_map(|run| &run.findings)
        .filter(|finding| finding.recording.is_empty())
        .count();
    let counted: Vec<&Verdict> = changes
        .iter()
        .filter(|(run, _)| run.change.counted())
        .map(|(_, verdict)| verdict)
        .collect();
    let caught = counted.iter().filter(|v| v.caught).count();
    let right = counted.iter().filter(|v| v.right_place).count();
    let neutral: Vec<String> = changes
        .iter()
        .filter(|(run, _)| !run.change.counted())
        .map(|(run, verdict)| {
            format!(
                "{} {}",
                run.change.name(),
                if verdict.caught { "flagged" } else { "passed" }
            )
        })
        .collect();
    let all_runs = unchanged.iter().chain(changes.iter().map(|(run, _)| run));
    let (unpatched, accepted) =
        all_runs.fold((0, 0), |(u, a), run| (u + run.unpatched, a + run.accepted));

    let _ = writeln!(out, "\ntargets vs measured:");
    let _ = writeln!(
        out,
        "  false deviations: {failed} of {replayed} unchanged replays did not pass ({:.1}%), \
         plus {outside} findings outside any request (target: 0)",
        percent(failed as usize, replayed as usize)
    );
    let _ = writeln!(
        out,
        "  changes caught: {caught} of {} ({:.0}%) (target: >= 95%)",
        counted.len(),
        percent(caught, counted.len())
    );
    let _ = writeln!(
        out,
        "  caught at the right place: {right} of {} ({:.0}%) (target: all caught at the right \
         path or call)",
        counted.len(),
        percent(right, counted.len())
    );
    let _ = writeln!(
        out,
        "  connections that reached a dependency: {} ({unpatched} reported unpatched by \
         tracetape, {accepted} accepted on the dependencies' recorded ports) (target: 0)",
        unpatched as u64 + accepted
    );
    if !neutral.is_empty() {
        let _ = writeln!(
            out,
            "  not counted (expected to pass): {}",
            neutral.join(", ")
        );
    }
    out
}
