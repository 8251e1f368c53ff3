//! What each phase of `collector-down` measured, and the report: the
//! phase table, the ratios to the phase before the outage, the memory
//! growth over the outage, and the spans delivered against the responses
//! served.

use std::fmt::{self, Write as _};

use crate::load::LoadResult;
use crate::memory::megabytes;

/// One of the three load phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The collector up.
    Before,
    /// The collector killed, its ports closed.
    Down,
    /// The collector started again on the same ports.
    After,
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::Down => "down",
            Phase::After => "after",
        }
    }

    /// What the collector does during the phase.
    pub(crate) fn collector(self) -> &'static str {
        match self {
            Phase::Before => "collector up",
            Phase::Down => "collector killed, its ports closed: exports refused",
            Phase::After => "collector started again on the same ports",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one phase measured.
#[derive(Debug, Clone)]
pub(crate) struct PhaseResult {
    pub(crate) phase: Phase,
    pub(crate) load: LoadResult,
    /// The server's `VmRSS` samples during the phase, in order, in bytes.
    pub(crate) rss: Vec<u64>,
}

/// The server's resident set over one phase, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rss {
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) first: u64,
    pub(crate) last: u64,
}

impl Rss {
    /// Of `samples`, in order; `None` without any.
    pub(crate) fn of(samples: &[u64]) -> Option<Rss> {
        Some(Rss {
            min: *samples.iter().min()?,
            max: *samples.iter().max()?,
            first: *samples.first()?,
            last: *samples.last()?,
        })
    }

    /// Last sample minus first, in megabytes (negative when it shrank).
    pub(crate) fn growth_mb(self) -> f64 {
        megabytes(self.last) - megabytes(self.first)
    }
}

/// Spans counted from outside the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spans {
    /// Spans the collector's debug log counted: its run before the
    /// outage, and its run after it.
    pub(crate) delivered: [u64; 2],
    /// Responses the load generator counted during the warm-up.
    pub(crate) warmup_responses: u64,
}

impl Spans {
    pub(crate) fn delivered_total(self) -> u64 {
        self.delivered.iter().sum()
    }
}

/// `numerator / denominator`, when both are known and the denominator is
/// positive.
pub(crate) fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn fmt_mb(bytes: Option<u64>) -> String {
    fmt_opt(bytes.map(megabytes), 1)
}

fn find(phases: &[PhaseResult], phase: Phase) -> Option<&PhaseResult> {
    phases.iter().find(|p| p.phase == phase)
}

/// One row per phase: load, latency and resident set.
pub(crate) fn table(phases: &[PhaseResult]) -> String {
    let mut out = format!(
        "{:<8}{:>8}{:>10}{:>8}{:>8}{:>9}{:>8}{:>9}{:>9}{:>10}{:>9}\n",
        "phase",
        "seconds",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "RSS min",
        "RSS max",
        "RSS last",
        "samples"
    );
    for p in phases {
        let rss = Rss::of(&p.rss);
        let _ = writeln!(
            out,
            "{:<8}{:>8.1}{:>10.0}{:>8}{:>8}{:>9}{:>8}{:>9}{:>9}{:>10}{:>9}",
            p.phase.name(),
            p.load.seconds,
            p.load.rps,
            fmt_opt(p.load.p50_ms, 3),
            fmt_opt(p.load.p99_ms, 3),
            fmt_opt(p.load.max_ms, 2),
            p.load.errors,
            fmt_mb(rss.map(|r| r.min)),
            fmt_mb(rss.map(|r| r.max)),
            fmt_mb(rss.map(|r| r.last)),
            p.rss.len(),
        );
    }
    out.push_str("(RSS: the server's VmRSS in MB, sampled during the phase)\n");
    out
}

/// The down and after phases against the one before the outage: req/s,
/// p99 and max latency; then the memory growth over the outage.
pub(crate) fn comparisons(phases: &[PhaseResult]) -> String {
    let mut out = String::new();
    let Some(before) = find(phases, Phase::Before) else {
        return out;
    };
    for phase in [Phase::Down, Phase::After] {
        let Some(p) = find(phases, phase) else {
            continue;
        };
        let _ = writeln!(
            out,
            "{:<13} req/s {}, p99 {}, max {}",
            format!("{phase}/before:"),
            fmt_opt(ratio(Some(p.load.rps), Some(before.load.rps)), 3),
            fmt_opt(ratio(p.load.p99_ms, before.load.p99_ms), 3),
            fmt_opt(ratio(p.load.max_ms, before.load.max_ms), 3),
        );
    }
    if let Some(down) = find(phases, Phase::Down).and_then(|p| Rss::of(&p.rss)) {
        let before_max = Rss::of(&before.rss).map(|r| r.max);
        let _ = writeln!(
            out,
            "RSS over the down phase: {:+.1} MB ({:.1} MB at its first sample, {:.1} MB at its \
             last; max {:.1} MB, max before the outage {} MB)",
            down.growth_mb(),
            megabytes(down.first),
            megabytes(down.last),
            megabytes(down.max),
            fmt_mb(before_max),
        );
    }
    out
}

/// Spans delivered against responses served, and the difference.
pub(crate) fn spans(phases: &[PhaseResult], spans: Spans) -> String {
    let responses: u64 =
        spans.warmup_responses + phases.iter().map(|p| p.load.requests).sum::<u64>();
    let delivered = spans.delivered_total();
    let mut by_phase = format!("warm-up {}", spans.warmup_responses);
    for p in phases {
        let _ = write!(by_phase, ", {} {}", p.phase, p.load.requests);
    }
    let mut out = String::from(
        "spans, counted from outside (the collector's debug log against the load generator's \
         responses; the server's own counts, from TelemetryGuard::span_counts, are in its \
         stderr below):\n",
    );
    let _ = writeln!(
        out,
        "  delivered: {delivered} (collector before the outage {}, after it {})",
        spans.delivered[0], spans.delivered[1]
    );
    let _ = writeln!(out, "  responses: {responses} ({by_phase})");
    let lost = i128::from(responses) - i128::from(delivered);
    let share = |n: i128, of: u64| {
        if of == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", n as f64 * 100.0 / of as f64)
        }
    };
    if lost >= 0 {
        let down = find(phases, Phase::Down).map_or(0, |p| p.load.requests);
        let _ = writeln!(
            out,
            "  lost: {lost} ({} of responses; {} of the down phase's {down}): spans ended while \
             the collector was down and dropped by the SDK's bounded queue, or failed on export",
            share(lost, responses),
            share(lost, down),
        );
    } else {
        let _ = writeln!(
            out,
            "  lost: {lost}: the collector received more spans than the load generator counted \
             responses (requests in flight when a load run stopped were served but not counted)"
        );
    }
    out
}

/// The whole report after the phases: table, comparisons, spans.
pub(crate) fn report(phases: &[PhaseResult], counted: Spans) -> String {
    format!(
        "{}\n{}\n{}",
        table(phases),
        comparisons(phases),
        spans(phases, counted)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(phase: Phase, rps: f64, p99: f64, rss_mb: &[u64]) -> PhaseResult {
        PhaseResult {
            phase,
            load: LoadResult {
                requests: (rps * 10.0) as u64,
                errors: 0,
                seconds: 10.0,
                rps,
                p50_ms: Some(0.5),
                p99_ms: Some(p99),
                max_ms: Some(p99 * 4.0),
            },
            rss: rss_mb.iter().map(|mb| mb * 1_000_000).collect(),
        }
    }

    fn phases() -> Vec<PhaseResult> {
        vec![
            phase(Phase::Before, 1000.0, 2.0, &[10, 12, 11]),
            phase(Phase::Down, 800.0, 3.0, &[11, 15, 13]),
            phase(Phase::After, 1000.0, 2.0, &[13, 13]),
        ]
    }

    #[test]
    fn rss_of_samples() {
        let rss = Rss::of(&[11_000_000, 15_000_000, 13_000_000]);
        assert_eq!(
            rss,
            Some(Rss {
                min: 11_000_000,
                max: 15_000_000,
                first: 11_000_000,
                last: 13_000_000
            })
        );
        assert_eq!(rss.map(Rss::growth_mb), Some(2.0));
        assert_eq!(Rss::of(&[]), None);
        let shrank = Rss::of(&[13_000_000, 12_500_000]).map(Rss::growth_mb);
        assert_eq!(shrank, Some(-0.5));
    }

    #[test]
    fn ratios_need_a_positive_denominator() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(ratio(Some(3.0), None), None);
    }

    #[test]
    fn table_has_a_row_per_phase() {
        let table = table(&phases());
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 5, "{table}");
        assert!(rows[0].starts_with("phase"), "{table}");
        // before: 10 s, 1000 req/s, p50 0.5, p99 2, max 8, RSS 10/12/11 MB, 3 samples.
        let before: Vec<&str> = rows[1].split_whitespace().collect();
        assert_eq!(
            before,
            [
                "before", "10.0", "1000", "0.500", "2.000", "8.00", "0", "10.0", "12.0", "11.0",
                "3"
            ]
        );
        assert!(rows[2].starts_with("down"), "{table}");
        assert!(rows[3].starts_with("after"), "{table}");
    }

    #[test]
    fn comparisons_are_to_the_phase_before() {
        let text = comparisons(&phases());
        assert!(
            text.contains("down/before:  req/s 0.800, p99 1.500, max 1.500"),
            "{text}"
        );
        assert!(
            text.contains("after/before: req/s 1.000, p99 1.000, max 1.000"),
            "{text}"
        );
        assert!(
            text.contains("RSS over the down phase: +2.0 MB (11.0 MB at its first sample, 13.0 MB at its last; max 15.0 MB, max before the outage 12.0 MB)"),
            "{text}"
        );
    }

    #[test]
    fn lost_is_responses_minus_delivered() {
        // Responses: 50 warm-up + 10000 + 8000 + 10000 = 28050.
        let counted = Spans {
            delivered: [10_050, 12_000],
            warmup_responses: 50,
        };
        let text = spans(&phases(), counted);
        assert!(text.contains("counted from outside"), "{text}");
        assert!(
            text.contains("delivered: 22050 (collector before the outage 10050, after it 12000)"),
            "{text}"
        );
        assert!(
            text.contains("responses: 28050 (warm-up 50, before 10000, down 8000, after 10000)"),
            "{text}"
        );
        assert!(
            text.contains("lost: 6000 (21.4% of responses; 75.0% of the down phase's 8000)"),
            "{text}"
        );
    }

    #[test]
    fn more_spans_than_responses_is_said_so() {
        let counted = Spans {
            delivered: [10_100, 18_000],
            warmup_responses: 0,
        };
        let text = spans(&phases(), counted);
        assert!(
            text.contains("lost: -100: the collector received more spans"),
            "{text}"
        );
    }

    #[test]
    fn report_holds_all_three_parts() {
        let counted = Spans {
            delivered: [1, 2],
            warmup_responses: 0,
        };
        let text = report(&phases(), counted);
        assert!(text.starts_with("phase"), "{text}");
        assert!(text.contains("down/before:"), "{text}");
        assert!(text.contains("lost:"), "{text}");
    }
}
