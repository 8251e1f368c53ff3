//! The report `run` prints at the end: the table (requests/s per round,
//! medians, latency, peak memory, ratio to the baseline), notes per mode
//! (failures, spans delivered, recordings written and dropped), memory
//! added, and the ratio lines against the brief's targets.

use std::fmt::Write as _;
use std::time::Duration;

use crate::exported::ExportCounts;
use crate::memory::megabytes;
use crate::mode::{Mode, Setup};
use crate::recordings::RecorderCounts;
use crate::sample::{
    Exit, Sample, Samples, median_of, median_peak, median_ratio, median_rps, runs_of,
};

/// The brief's bound on the memory record mode adds, in bytes (10 MB).
const MEMORY_TARGET: u64 = 10_000_000;

/// The table, the notes, the memory lines and the ratio lines. Each traced
/// mode is compared with its own baseline ([`Mode::baseline`]), each
/// record mode also with its traced twin ([`Mode::tracing_only`]).
pub(crate) fn report(rounds: u32, stop_timeout: Duration, samples: &Samples) -> String {
    let mut out = table(rounds, samples);
    let _ = writeln!(out);
    for (mode, runs) in samples {
        out.push_str(&notes(*mode, runs, stop_timeout));
        out.push_str(&per_round_ratios(*mode, runs, samples));
    }
    let memory = memory_lines(samples);
    if !memory.is_empty() {
        let _ = writeln!(out);
        out.push_str(&memory);
    }
    let cpu = crate::cpu_share::lines(samples);
    if !cpu.is_empty() {
        let _ = writeln!(out);
        out.push_str(&cpu);
    }
    let _ = writeln!(out);
    out.push_str(&ratio_lines(samples));
    out.push_str(&peer_lines(samples));
    out
}

/// tracetape (`traced`) against each peer run alongside it: each one's
/// ratio to `baseline`, round by round, and whether `traced` was ahead of
/// it in every round (the brief asks for it against the best peer).
fn peer_lines(samples: &Samples) -> String {
    let mut out = String::new();
    let (Some(traced), Some(baseline)) = (
        runs_of(samples, Mode::Traced),
        runs_of(samples, Mode::Baseline),
    ) else {
        return out;
    };
    let ratios = |runs: &[Sample]| -> Vec<f64> {
        runs.iter()
            .zip(baseline)
            .map(|(s, b)| s.load.rps / b.load.rps)
            .collect()
    };
    let ours = ratios(traced);
    for (mode, runs) in samples {
        if mode.peer().is_none() {
            continue;
        }
        let theirs = ratios(runs);
        let rounds: Vec<String> = ours
            .iter()
            .zip(&theirs)
            .map(|(o, t)| format!("{o:.3} vs {t:.3}"))
            .collect();
        let ahead = ours.iter().zip(&theirs).all(|(o, t)| o > t);
        let _ = writeln!(
            out,
            "traced vs {mode}, per round (each to the baseline of its round): {}; \
             traced ahead in every round: {}",
            rounds.join(", "),
            if ahead { "yes" } else { "NO" }
        );
    }
    out
}

/// `value` to `decimals` places, `-` when there is none.
pub(crate) fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// One row per mode: requests/s per round, median, p50, p99, median peak
/// resident set, ratio to the baseline.
fn table(rounds: u32, samples: &Samples) -> String {
    let mut out = String::new();
    let width = samples
        .iter()
        .map(|(m, _)| m.name().len() + 1)
        .fold(12, usize::max);
    let _ = writeln!(out);
    let _ = write!(out, "{:<width$}", "mode");
    for round in 1..=rounds {
        let _ = write!(out, " {:>9}", format!("round {round}"));
    }
    let _ = writeln!(
        out,
        "  {:>12} {:>7} {:>7} {:>7} {:>6}",
        "median req/s", "p50 ms", "p99 ms", "peak MB", "ratio"
    );
    for (mode, runs) in samples {
        let _ = write!(out, "{:<width$}", mode.name());
        for sample in runs {
            let _ = write!(out, " {:>9.0}", sample.load.rps);
        }
        let rps = median_rps(runs);
        let ratio = match mode.baseline() {
            Some(baseline) => median_ratio(samples, *mode, baseline),
            None => rps.map(|_| 1.0),
        };
        let _ = write!(
            out,
            "  {:>12} {:>7} {:>7} {:>7} {:>6}",
            fmt_opt(rps, 0),
            fmt_opt(median_of(runs, |s| s.load.p50_ms), 3),
            fmt_opt(median_of(runs, |s| s.load.p99_ms), 3),
            fmt_opt(median_peak(runs).map(|b| b / 1e6), 1),
            fmt_opt(ratio, 3),
        );
        match mode.baseline() {
            Some(baseline) => {
                let _ = writeln!(out, "  vs {baseline}");
            }
            None => {
                let _ = writeln!(out);
            }
        }
    }
    out
}

/// Failures, server output, spans delivered, store size and recordings of
/// one mode.
fn notes(mode: Mode, runs: &[Sample], stop_timeout: Duration) -> String {
    let mut out = String::new();
    let errors: u64 = runs.iter().map(|s| s.load.errors).sum();
    if errors > 0 {
        let _ = writeln!(out, "warning: {mode}: {errors} failed requests");
    }
    let killed = runs.iter().filter(|s| s.exit == Exit::Killed).count();
    if killed > 0 {
        let _ = writeln!(
            out,
            "warning: {mode}: {killed} server(s) did not stop within {stop_timeout:?} \
             and were killed"
        );
    }
    for (round, sample) in runs.iter().enumerate() {
        if let Exit::Failed(status) = &sample.exit {
            let _ = writeln!(
                out,
                "warning: {mode}: the server of round {} failed as it stopped ({status}); its \
                 telemetry and recorder counts may be incomplete",
                round + 1
            );
        }
    }
    out.push_str(&stderr_note(mode, runs));
    let served: u64 = runs.iter().map(|s| s.requests_served).sum();
    let spans: Option<u64> = runs.iter().map(|s| s.spans_received).sum();
    if let Some(spans) = spans {
        out.push_str(&spans_note(mode, spans, served));
    }
    if runs.iter().any(|run| run.exported.is_some()) {
        let counts = ExportCounts::total(runs.iter().filter_map(|run| run.exported));
        let _ = writeln!(
            out,
            "{mode}: tracetape's counters: {} spans ended, {} acknowledged by the collector, \
             {} lost to failed exports, {} dropped by the full queue",
            counts.ended, counts.exported, counts.failed, counts.queue_full
        );
    }
    let bytes: Option<u64> = runs.iter().map(|s| s.store_bytes).sum();
    if let Some(bytes) = bytes {
        let _ = writeln!(
            out,
            "{mode}: the local store held {:.1} MB after each run on average \
             (it is size-capped, so this is not a span count)",
            bytes as f64 / 1e6 / runs.len().max(1) as f64
        );
    }
    if mode.records() {
        out.push_str(&recordings_note(mode, runs, served));
    }
    out
}

/// The rounds (from 1) of the runs for which `pick` holds.
fn rounds_where(runs: &[Sample], pick: impl Fn(&Sample) -> bool) -> Vec<String> {
    runs.iter()
        .enumerate()
        .filter(|(_, s)| pick(s))
        .map(|(i, _)| (i + 1).to_string())
        .collect()
}

/// The first lines of each different standard error the servers of
/// `mode` wrote, with the rounds that wrote it.
fn stderr_note(mode: Mode, runs: &[Sample]) -> String {
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for sample in runs {
        let text = sample.stderr.trim();
        if text.is_empty() || seen.contains(&text) {
            continue;
        }
        seen.push(text);
        let rounds = rounds_where(runs, |s| s.stderr.trim() == text);
        let _ = writeln!(out, "{mode} server stderr, round(s) {}:", rounds.join(", "));
        // The first lines, and the last ones, where an error ends up.
        let lines: Vec<&str> = text.lines().collect();
        let shown: Vec<&str> = match lines.len() {
            0..=5 => lines,
            n => [&lines[..2], &["..."], &lines[n - 3..]].concat(),
        };
        for line in shown {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// `mode`'s ratio to `other` round by round.
fn per_round_ratio_line(mode: Mode, runs: &[Sample], other: Mode, samples: &Samples) -> String {
    let Some(base) = runs_of(samples, other) else {
        return String::new();
    };
    let per_round: Vec<String> = runs
        .iter()
        .zip(base)
        .map(|(s, b)| format!("{:.3}", s.load.rps / b.load.rps))
        .collect();
    format!(
        "{mode}: per-round ratios to the {other} of the same round: {}\n",
        per_round.join(" ")
    )
}

/// The per-round ratio lines of `mode`: to its baseline, and for a record
/// mode to its traced twin.
fn per_round_ratios(mode: Mode, runs: &[Sample], samples: &Samples) -> String {
    [mode.baseline(), mode.tracing_only()]
        .into_iter()
        .flatten()
        .map(|other| per_round_ratio_line(mode, runs, other, samples))
        .collect()
}

/// The recorder's counters summed over the runs; `None` when a run did
/// not report them.
fn recorder_totals(runs: &[Sample]) -> Option<RecorderCounts> {
    runs.iter().try_fold(
        RecorderCounts {
            flushed: true,
            ..RecorderCounts::default()
        },
        |total, sample| {
            let counts = sample.recorder?;
            Some(RecorderCounts {
                written: total.written + counts.written,
                dropped: total.dropped + counts.dropped,
                failed: total.failed + counts.failed,
                cut_by_budget: total.cut_by_budget + counts.cut_by_budget,
                flushed: total.flushed && counts.flushed,
            })
        },
    )
}

/// Recordings written (by the recorder's count and by the files left),
/// dropped and failed, against the `served` responses, with warnings
/// when fewer were written than served.
fn recordings_note(mode: Mode, runs: &[Sample], served: u64) -> String {
    let mut out = String::new();
    let files: Option<u64> = runs.iter().map(|s| s.recorded.map(|r| r.files)).sum();
    let bytes: Option<u64> = runs.iter().map(|s| s.recorded.map(|r| r.bytes)).sum();
    let Some(counts) = recorder_totals(runs) else {
        let _ = writeln!(
            out,
            "warning: {mode}: the server did not report its recorder's counters \
             (record mode did not start?); recordings on disk: {}",
            files.map_or("-".to_owned(), |f| f.to_string())
        );
        return out;
    };
    let share = |n: u64| 100.0 * n as f64 / served.max(1) as f64;
    let _ = writeln!(
        out,
        "{mode}: {} recordings written ({} on disk, {:.1} MB) for {served} responses counted \
         by the load generator ({:.1}%, warm-up included); dropped by the full queue: {} \
         ({:.1}%), failed: {}",
        counts.written,
        files.map_or("-".to_owned(), |f| f.to_string()),
        megabytes(bytes.unwrap_or(0)),
        share(counts.written),
        counts.dropped,
        share(counts.dropped),
        counts.failed,
    );
    if counts.cut_by_budget > 0 || mode.setup() == Setup::RecordBudget {
        let _ = writeln!(
            out,
            "{mode}: bodies cut short by the body budget (max_held_bytes): {} ({:.2} a response)",
            counts.cut_by_budget,
            counts.cut_by_budget as f64 / served.max(1) as f64
        );
    }
    if let Some(sample) = runs.iter().rev().find_map(|s| s.recorded?.sample) {
        let _ = writeln!(
            out,
            "{mode}: the last recording holds a {}-byte request body and a {}-byte response \
             body{}",
            sample.request,
            sample.response,
            if sample.truncated && mode.setup() != Setup::Record {
                ", truncated (the limits this mode sets)"
            } else if sample.truncated {
                ", TRUNCATED (raise TRACETAPE_RECORD_MAX_BODY_BYTES)"
            } else {
                ", both whole"
            },
        );
    }
    if counts.written == 0 {
        let _ = writeln!(
            out,
            "warning: {mode}: nothing was recorded; the numbers measure tracing only"
        );
    }
    if counts.dropped > 0 {
        let _ = writeln!(
            out,
            "warning: {mode}: the bounded recording queue dropped {} recordings ({:.1}% of \
             responses): record mode did less work than asked, and its ratios flatter it",
            counts.dropped,
            share(counts.dropped)
        );
    }
    if !counts.flushed {
        let _ = writeln!(
            out,
            "warning: {mode}: recordings were still queued when the counters were read"
        );
    }
    out
}

/// Peak resident set of each traced mode against its baseline, and for
/// record modes against the traced twin, with the brief's bound.
fn memory_lines(samples: &Samples) -> String {
    let mut out = String::new();
    let peak = |mode: Mode| runs_of(samples, mode).and_then(median_peak);
    for (mode, runs) in samples {
        let (Some(baseline), Some(own)) = (mode.baseline(), median_peak(runs)) else {
            continue;
        };
        let mut line = format!("memory {mode}: peak RSS {:.1} MB", own / 1e6);
        for other in [Some(baseline), mode.tracing_only()].into_iter().flatten() {
            if let Some(theirs) = peak(other) {
                let _ = write!(
                    line,
                    ", {:+.1} MB over {other} ({:.1} MB)",
                    (own - theirs) / 1e6,
                    theirs / 1e6
                );
            }
        }
        if mode.records() {
            let _ = write!(
                line,
                " (target: record mode adds <= {:.0} MB)",
                megabytes(MEMORY_TARGET)
            );
        }
        let _ = writeln!(out, "{line}");
    }
    if !out.is_empty() {
        out.insert_str(
            0,
            "memory: medians of each run's peak resident set (VmHWM, read before the server \
             stops; warm-up included)\n",
        );
    }
    out
}

/// One line per comparison: each traced mode to its baseline, each record
/// mode also to its traced twin, against the mode's target; a record mode
/// whose queue dropped recordings says so on the line.
fn ratio_lines(samples: &Samples) -> String {
    let mut out = String::new();
    for (mode, runs) in samples {
        let Some(baseline) = mode.baseline() else {
            continue;
        };
        let target = mode.target_ratio();
        let dropped = recorder_totals(runs)
            .filter(|c| c.dropped > 0)
            .map(|c| format!("; the queue dropped {} recordings", c.dropped))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "ratio {mode}/{baseline}: {} (target >= {target:.2}{})",
            fmt_opt(median_ratio(samples, *mode, baseline), 2),
            if mode.records() {
                format!(", record vs no tracetape{dropped}")
            } else {
                String::new()
            },
        );
        if let Some(traced) = mode.tracing_only()
            && runs_of(samples, traced).is_some()
        {
            let _ = writeln!(
                out,
                "ratio {mode}/{traced}: {} (target >= {target:.2}, record vs tracing with \
                 TRACETAPE_MODE=off{dropped})",
                fmt_opt(median_ratio(samples, *mode, traced), 2),
            );
        }
    }
    out
}

/// The delivered-spans line of `mode` (and a warning when spans are
/// missing): `spans` received by the collector against the
/// [`Mode::spans_per_request`] of each of the `served` responses.
pub(crate) fn spans_note(mode: Mode, spans: u64, served: u64) -> String {
    let mut out = String::new();
    let per_request = mode.spans_per_request();
    let expected = served * per_request;
    let share = if expected > 0 {
        100.0 * spans as f64 / expected as f64
    } else {
        0.0
    };
    if per_request == 1 {
        let _ = writeln!(
            out,
            "{mode}: the collector received {spans} spans for {served} responses \
             counted by the load generator ({share:.1}%, warm-up included)"
        );
    } else {
        let which = if mode.is_pair() {
            " (front SERVER, CLIENT, back SERVER)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{mode}: the collector received {spans} spans for {served} responses \
             counted by the load generator at {per_request} spans each{which}: \
             {share:.1}% of {expected}, warm-up included"
        );
    }
    if spans == 0 {
        let _ = writeln!(
            out,
            "warning: {mode}: no span reached the collector; the traced numbers \
             measure a layer that exports nothing"
        );
    } else if share < 99.0 {
        let _ = writeln!(
            out,
            "warning: {mode}: {} spans did not reach the collector (dropped?)",
            expected.saturating_sub(spans)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadResult;
    use crate::recordings::{BodySizes, RecordedFiles};

    fn sample(rps: f64, spans: Option<u64>) -> Sample {
        Sample {
            load: LoadResult {
                requests: (rps * 10.0) as u64,
                errors: 0,
                seconds: 10.0,
                rps,
                p50_ms: Some(1.0),
                p99_ms: Some(2.0),
                max_ms: Some(3.0),
            },
            requests_served: (rps * 10.0) as u64,
            spans_received: spans,
            ..Sample::default()
        }
    }

    #[test]
    fn report_has_ratio_line() {
        let rounds = 3;
        let samples = vec![
            (
                Mode::Baseline,
                vec![sample(100.0, None), sample(110.0, None), sample(90.0, None)],
            ),
            (
                Mode::Traced,
                vec![
                    sample(80.0, Some(800)),
                    sample(85.0, Some(850)),
                    sample(95.0, Some(950)),
                ],
            ),
        ];
        let text = report(rounds, Duration::from_secs(15), &samples);
        assert!(
            text.contains("ratio traced/baseline: 0.85 (target >= 0.90)"),
            "{text}"
        );
        assert!(
            text.contains("received 2600 spans for 2600 responses"),
            "{text}"
        );
    }

    #[test]
    fn tracetapes_own_counters_are_added_up_over_the_rounds() {
        let counted = |exported| Sample {
            exported: Some(ExportCounts {
                ended: 1000,
                exported,
                failed: 1000 - exported,
                queue_full: 0,
            }),
            ..sample(100.0, Some(exported))
        };
        let samples = vec![(Mode::Traced, vec![counted(1000), counted(900)])];
        let text = report(2, Duration::from_secs(15), &samples);
        assert!(
            text.contains(
                "traced: tracetape's counters: 2000 spans ended, 1900 acknowledged by the \
                 collector, 100 lost to failed exports, 0 dropped by the full queue"
            ),
            "{text}"
        );
    }

    // A peer that wins one round must make "ahead in every round" false,
    // even when tracetape's median ratio is the higher one.
    #[test]
    fn traced_is_compared_with_each_peer_round_by_round() {
        let runs = |rps: [f64; 3]| rps.iter().map(|&r| sample(r, Some(1))).collect::<Vec<_>>();
        let samples = vec![
            (Mode::Baseline, runs([100.0, 100.0, 100.0])),
            (Mode::Traced, runs([90.0, 91.0, 92.0])),
            (Mode::PeerOtelTower, runs([80.0, 95.0, 70.0])),
            (Mode::PeerTowerHttp, runs([50.0, 50.0, 50.0])),
        ];
        let text = report(3, Duration::from_secs(15), &samples);
        assert!(
            text.contains(
                "traced vs peer-otel-tower, per round (each to the baseline of its round): \
                 0.900 vs 0.800, 0.910 vs 0.950, 0.920 vs 0.700; traced ahead in every round: NO"
            ),
            "{text}"
        );
        assert!(
            text.contains("traced vs peer-tower-http, per round")
                && text.contains("0.920 vs 0.500; traced ahead in every round: yes"),
            "{text}"
        );
    }

    // The pair's ratio must be to pair-baseline: against the single-app
    // baseline it would mostly measure the extra hop, not tracetape.
    #[test]
    fn pair_ratio_is_against_the_pair_baseline() {
        let rounds = 2;
        let samples = vec![
            (
                Mode::Baseline,
                vec![sample(100.0, None), sample(100.0, None)],
            ),
            (
                Mode::Traced,
                vec![sample(90.0, Some(900)), sample(90.0, Some(900))],
            ),
            (
                Mode::PairBaseline,
                vec![sample(50.0, None), sample(40.0, None)],
            ),
            (
                Mode::PairTraced,
                vec![sample(40.0, Some(1200)), sample(36.0, Some(1080))],
            ),
        ];
        let text = report(rounds, Duration::from_secs(15), &samples);
        assert!(
            text.contains("ratio traced/baseline: 0.90 (target >= 0.90)"),
            "{text}"
        );
        // Medians 38 / 45.
        assert!(
            text.contains("ratio pair-traced/pair-baseline: 0.84 (target >= 0.90)"),
            "{text}"
        );
        assert!(!text.contains("ratio pair-traced/baseline"), "{text}");
        assert!(!text.contains("ratio pair-baseline/"), "{text}");
        assert!(
            text.contains(
                "pair-traced: per-round ratios to the pair-baseline of the same round: 0.800 0.900"
            ),
            "{text}"
        );
        let row = text
            .lines()
            .find(|l| l.starts_with("pair-traced "))
            .unwrap_or_default();
        assert!(row.ends_with(" 0.844  vs pair-baseline"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("pair-baseline "))
            .unwrap_or_default();
        assert!(row.ends_with(" 1.000"), "{text}");
        // 760 responses, 3 spans each: all 2280 arrived.
        assert!(
            text.contains(
                "pair-traced: the collector received 2280 spans for 760 responses counted by \
                 the load generator at 3 spans each (front SERVER, CLIENT, back SERVER): \
                 100.0% of 2280, warm-up included"
            ),
            "{text}"
        );
        assert!(!text.contains("warning"), "{text}");
    }

    fn record_sample(rps: f64, peak_mb: u64, written: u64, dropped: u64) -> Sample {
        Sample {
            peak_rss: Some(peak_mb * 1_000_000),
            recorder: Some(RecorderCounts {
                written,
                dropped,
                failed: 0,
                cut_by_budget: 0,
                flushed: true,
            }),
            recorded: Some(RecordedFiles {
                files: written,
                bytes: written * 1000,
                sample: Some(BodySizes {
                    request: 998,
                    response: 1010,
                    truncated: false,
                }),
            }),
            ..sample(rps, Some((rps * 10.0) as u64))
        }
    }

    fn with_peak(sample: Sample, peak_mb: u64) -> Sample {
        Sample {
            peak_rss: Some(peak_mb * 1_000_000),
            ..sample
        }
    }

    // "Off" in the brief may mean no tracetape or tracing without
    // recording: both ratios are given, and both memory differences.
    #[test]
    fn record_mode_is_compared_with_baseline_and_traced() {
        let samples = vec![
            (
                Mode::Json1kBaseline,
                vec![with_peak(sample(100.0, None), 20)],
            ),
            (
                Mode::Json1kTraced,
                vec![with_peak(sample(90.0, Some(900)), 24)],
            ),
            (Mode::Json1kRecord, vec![record_sample(72.0, 30, 720, 0)]),
        ];
        let text = report(1, Duration::from_secs(15), &samples);
        for line in [
            "ratio json-1k-record/json-1k-baseline: 0.72 (target >= 0.80, record vs no tracetape)",
            "ratio json-1k-record/json-1k-traced: 0.80 (target >= 0.80, record vs tracing with \
             TRACETAPE_MODE=off)",
            "ratio json-1k-traced/json-1k-baseline: 0.90 (target >= 0.90)",
            "memory json-1k-record: peak RSS 30.0 MB, +10.0 MB over json-1k-baseline (20.0 MB), \
             +6.0 MB over json-1k-traced (24.0 MB) (target: record mode adds <= 10 MB)",
            "memory json-1k-traced: peak RSS 24.0 MB, +4.0 MB over json-1k-baseline (20.0 MB)",
            "json-1k-record: 720 recordings written (720 on disk, 0.7 MB) for 720 responses",
            "dropped by the full queue: 0 (0.0%), failed: 0",
            "a 998-byte request body and a 1010-byte response body, both whole",
            "json-1k-record: per-round ratios to the json-1k-traced of the same round: 0.800",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains("warning"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("json-1k-record "))
            .unwrap_or_default();
        assert!(row.ends_with(" 30.0  0.720  vs json-1k-baseline"), "{text}");
    }

    #[test]
    fn dropped_recordings_are_reported_next_to_the_ratio() {
        let samples = vec![
            (Mode::Json1mBaseline, vec![sample(100.0, None)]),
            (Mode::Json1mRecord, vec![record_sample(70.0, 40, 500, 200)]),
        ];
        let text = report(1, Duration::from_secs(15), &samples);
        assert!(
            text.contains(
                "ratio json-1m-record/json-1m-baseline: 0.70 (target >= 0.60, record vs no \
                 tracetape; the queue dropped 200 recordings)"
            ),
            "{text}"
        );
        assert!(
            text.contains("warning: json-1m-record: the bounded recording queue dropped 200"),
            "{text}"
        );
        // No traced twin ran: no ratio to it.
        assert!(!text.contains("json-1m-record/json-1m-traced"), "{text}");
    }

    #[test]
    fn a_record_run_without_counters_is_flagged() {
        let samples = vec![
            (Mode::Json1kBaseline, vec![sample(100.0, None)]),
            (Mode::Json1kRecord, vec![sample(90.0, Some(900))]),
        ];
        let text = report(1, Duration::from_secs(15), &samples);
        assert!(
            text.contains("warning: json-1k-record: the server did not report its recorder"),
            "{text}"
        );
    }

    #[test]
    fn failed_and_killed_servers_are_flagged_with_their_stderr() {
        let warned = Sample {
            stderr: "tracetape: warning: queue full\n".to_owned(),
            ..sample(100.0, None)
        };
        let failed = Sample {
            exit: Exit::Failed("exit status: 1".to_owned()),
            stderr: "tracetape: warning: queue full\na\nb\nc\nd\ntracetape-bench: boom\n"
                .to_owned(),
            ..sample(100.0, None)
        };
        let killed = Sample {
            exit: Exit::Killed,
            ..sample(100.0, None)
        };
        let samples = vec![(
            Mode::Json1kBaseline,
            vec![warned.clone(), failed, warned, killed],
        )];
        let text = report(4, Duration::from_secs(20), &samples);
        for line in [
            "warning: json-1k-baseline: 1 server(s) did not stop within 20s and were killed",
            "warning: json-1k-baseline: the server of round 2 failed as it stopped (exit status: 1)",
            "json-1k-baseline server stderr, round(s) 1, 3:\n  tracetape: warning: queue full\n",
            "json-1k-baseline server stderr, round(s) 2:\n  tracetape: warning: queue full\n  \
             a\n  ...\n  c\n  d\n  tracetape-bench: boom\n",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn pair_spans_missing_are_counted_three_per_response() {
        // 1000 responses want 3000 spans; only one per response arrived.
        let text = spans_note(Mode::PairTraced, 1000, 1000);
        assert!(text.contains("33.3% of 3000"), "{text}");
        assert!(
            text.contains("warning: pair-traced: 2000 spans did not reach the collector"),
            "{text}"
        );
        let text = spans_note(Mode::Traced, 1000, 1000);
        assert!(text.contains("(100.0%, warm-up included)"), "{text}");
        assert!(!text.contains("warning"), "{text}");
    }
}
