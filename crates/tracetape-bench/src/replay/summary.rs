//! The replay benchmark's report: one row per round (replays/s, the
//! window, the whole process, latency, CPU), the medians, what was
//! checked, and the figure against the brief's target.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::round::Round;
use crate::cli::ReplayArgs;
use crate::cpu::CpuTime;
use crate::orders::CALLS_PER_ORDER;
use crate::report::fmt_opt;
use crate::sample::median_of;

/// The brief's target: recorded requests replayed per second.
const TARGET: f64 = 1_000.0;

fn seconds(time: Option<Duration>) -> String {
    time.map_or("-".to_owned(), |t| format!("{:.2}", t.as_secs_f64()))
}

fn total(time: Option<CpuTime>) -> Option<Duration> {
    time.map(CpuTime::total)
}

/// The table and the lines under it.
pub(crate) fn summary(args: &ReplayArgs, rounds: &[Round]) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<7} {:>9} {:>9} {:>10} {:>7} {:>7} {:>14} {:>15}",
        "round",
        "replays/s",
        "window s",
        "process s",
        "p50 ms",
        "p99 ms",
        "service CPU s",
        "replayer CPU s"
    );
    for round in rounds {
        let verdicts = &round.verdicts;
        let _ = writeln!(
            out,
            "{:<7} {:>9.0} {:>9.3} {:>10.3} {:>7} {:>7} {:>14} {:>15}",
            round.number,
            verdicts.rate(),
            verdicts.window.as_secs_f64(),
            round.process.as_secs_f64(),
            fmt_opt(verdicts.latency_ms(0.50), 2),
            fmt_opt(verdicts.latency_ms(0.99), 2),
            seconds(total(round.service_cpu)),
            seconds(total(round.replayer_cpu)),
        );
    }
    let rate = median_of(rounds, |r| Some(r.verdicts.rate()));
    let cpu_s = |pick: fn(&Round) -> Option<CpuTime>| {
        median_of(rounds, |r| total(pick(r)).map(|t| t.as_secs_f64()))
    };
    let _ = writeln!(
        out,
        "{:<7} {:>9} {:>9} {:>10} {:>7} {:>7} {:>14} {:>15}",
        "median",
        fmt_opt(rate, 0),
        fmt_opt(
            median_of(rounds, |r| Some(r.verdicts.window.as_secs_f64())),
            3
        ),
        fmt_opt(median_of(rounds, |r| Some(r.process.as_secs_f64())), 3),
        fmt_opt(median_of(rounds, |r| r.verdicts.latency_ms(0.50)), 2),
        fmt_opt(median_of(rounds, |r| r.verdicts.latency_ms(0.99)), 2),
        fmt_opt(cpu_s(|r| r.service_cpu), 2),
        fmt_opt(cpu_s(|r| r.replayer_cpu), 2),
    );
    let _ = writeln!(out);
    out.push_str(&checked(rounds));
    out.push_str(&cpu_lines(rounds));
    let _ = writeln!(
        out,
        "not in the figure: the service's start in replay mode (spawned to listening, loading \
         the recordings) took {} s (median)",
        fmt_opt(median_of(rounds, |r| Some(r.startup.as_secs_f64())), 3)
    );
    let _ = writeln!(
        out,
        "end to end: the whole tracetape process (start, loading the recordings, replaying, \
         writing the report) replays {} recordings/s (median)",
        fmt_opt(
            median_of(rounds, |r| Some(
                r.verdicts.totals.recordings as f64 / r.process.as_secs_f64().max(1e-9)
            )),
            0
        )
    );
    let _ = writeln!(out);
    if let Some(rate) = rate {
        let _ = writeln!(
            out,
            "replay speed: {rate:.0} recorded requests/s (median of {} rounds of {} recordings, \
             {CALLS_PER_ORDER} mocked calls each, concurrency {}): {:.2} x the target (>= 1,000/s){}",
            rounds.len(),
            args.recordings,
            args.concurrency,
            rate / TARGET,
            if rate >= TARGET { "" } else { ", BELOW it" }
        );
    }
    out
}

/// What every round was checked for.
fn checked(rounds: &[Round]) -> String {
    let recordings: u64 = rounds.iter().map(|r| r.verdicts.totals.recordings).sum();
    let answered: u64 = rounds.iter().map(|r| r.verdicts.answered()).sum();
    let mut levels: BTreeMap<&str, u64> = BTreeMap::new();
    for round in rounds {
        for (level, n) in &round.verdicts.levels {
            *levels.entry(level).or_default() += n;
        }
    }
    let levels: Vec<String> = levels.iter().map(|(l, n)| format!("{l} {n}")).collect();
    let detection = if rounds.iter().all(|round| round.detection) {
        "the service ran with the preload library and unpatched-dependency detection on, \
         nothing reported"
    } else {
        "unpatched-dependency detection off (libtracetape_preload.so not found beside tracetape)"
    };
    format!(
        "checked: every replay passed ({recordings} recordings over {} rounds); {answered} \
         outbound calls answered from the recordings ({}), none unmatched; {detection}\n",
        rounds.len(),
        levels.join(", ")
    )
}

/// CPU time per replayed request of the service and of the replayer, and
/// the cores each kept busy.
fn cpu_lines(rounds: &[Round]) -> String {
    let per_request = |pick: fn(&Round) -> Option<CpuTime>| {
        median_of(rounds, |r| {
            let n = r.verdicts.totals.recordings.max(1) as f64;
            total(pick(r)).map(|t| t.as_secs_f64() * 1e6 / n)
        })
    };
    let service_cores = median_of(rounds, |r| {
        total(r.service_cpu).map(|t| t.as_secs_f64() / r.verdicts.window.as_secs_f64().max(1e-9))
    });
    let replayer_cores = median_of(rounds, |r| {
        total(r.replayer_cpu).map(|t| t.as_secs_f64() / r.process.as_secs_f64().max(1e-9))
    });
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "CPU per replayed request (medians, user + system): service {} us ({} cores over the \
         window), replayer {} us over its whole run ({} cores over its process time); {cpus} \
         CPUs\n",
        fmt_opt(per_request(|r| r.service_cpu), 0),
        fmt_opt(service_cores, 2),
        fmt_opt(per_request(|r| r.replayer_cpu), 0),
        fmt_opt(replayer_cores, 2),
    )
}

#[cfg(test)]
mod tests {
    use super::super::verdicts::{Totals, Verdicts};
    use super::*;
    use crate::cli::Traces;

    fn round(number: u32, window_ms: u64, service_ms: u64) -> Round {
        Round {
            number,
            verdicts: Verdicts {
                window: Duration::from_millis(window_ms),
                selected: 1000,
                totals: Totals {
                    recordings: 1000,
                    passed: 1000,
                    ..Totals::default()
                },
                levels: BTreeMap::from([("exact".to_owned(), 3000), ("similar".to_owned(), 0)]),
                calls: vec![3; 1000],
                latencies_ms: vec![2.0; 1000],
                ..Verdicts::default()
            },
            startup: Duration::from_millis(300),
            process: Duration::from_millis(window_ms + 500),
            service_cpu: Some(CpuTime {
                user: Duration::from_millis(service_ms),
                system: Duration::ZERO,
            }),
            replayer_cpu: None,
            detection: true,
        }
    }

    #[test]
    fn the_median_rate_is_set_against_the_target() {
        let args = ReplayArgs {
            recordings: 1000,
            rounds: 3,
            concurrency: 8,
            order: None,
            tracetape: None,
            traces: Traces::None,
        };
        let rounds = [round(1, 500, 400), round(2, 1000, 500), round(3, 800, 600)];
        let text = summary(&args, &rounds);
        for line in [
            "replay speed: 1250 recorded requests/s (median of 3 rounds of 1000 recordings, 3 \
             mocked calls each, concurrency 8): 1.25 x the target (>= 1,000/s)\n",
            "checked: every replay passed (3000 recordings over 3 rounds); 9000 outbound calls \
             answered from the recordings (exact 9000, similar 0), none unmatched; the service \
             ran with the preload library and unpatched-dependency detection on, nothing \
             reported\n",
            "service 500 us (0.75 cores over the window), replayer - us",
            "the recordings) took 0.300 s (median)",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        let slow = summary(&args, &[round(1, 2000, 400)]);
        assert!(
            slow.contains("0.50 x the target (>= 1,000/s), BELOW it"),
            "{slow}"
        );
    }
}
