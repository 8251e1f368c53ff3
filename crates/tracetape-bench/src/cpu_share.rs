//! Where the CPU of a measured run went, per request: the served app, the
//! load generator and the collector, which all share this machine's cores.
//!
//! From the baseline's figures and a traced mode's collector figure comes
//! the ceiling that the collector alone puts on that mode's ratio: when the
//! baseline keeps every core busy, a request costs the machine the served
//! app's CPU plus the load generator's, and a traced request at least that
//! plus what the collector spends receiving its spans, even if tracing
//! cost the app nothing.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cpu::{CpuTime, ProcCpu};
use crate::report::fmt_opt;
use crate::sample::{Sample, Samples, median_of, runs_of};

/// CPU time used during one measured run (warm-up excluded).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct RunCpu {
    /// The served app, all its threads.
    pub(crate) server: Duration,
    /// The load generator (a child reaped when its run ended).
    pub(crate) load: Duration,
    /// The collector, for runs with one.
    pub(crate) collector: Option<Duration>,
}

/// CPU times read at the start of a measured run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    cpu: ProcCpu,
    server: (u32, CpuTime),
    reaped: CpuTime,
    collector: Option<(u32, CpuTime)>,
}

impl CpuMark {
    /// Reads the CPU time so far of the server `server`, of this process's
    /// reaped children and of the collector `collector`; `None` where
    /// `/proc` does not say.
    pub(crate) fn take(cpu: ProcCpu, server: u32, collector: Option<u32>) -> Option<Self> {
        let collector = match collector {
            Some(pid) => Some((pid, cpu.process(pid)?)),
            None => None,
        };
        Some(CpuMark {
            cpu,
            server: (server, cpu.process(server)?),
            reaped: cpu.reaped_children()?,
            collector,
        })
    }

    /// What each used since the mark; call it after the load generator
    /// has been waited for and while the server still runs.
    pub(crate) fn since(self) -> Option<RunCpu> {
        let (server, server_then) = self.server;
        let collector = match self.collector {
            Some((pid, then)) => Some(self.cpu.process(pid)?.since(then).total()),
            None => None,
        };
        Some(RunCpu {
            server: self.cpu.process(server)?.since(server_then).total(),
            load: self.cpu.reaped_children()?.since(self.reaped).total(),
            collector,
        })
    }
}

/// Microseconds of `pick` per request answered in the measured run, the
/// median over `runs`.
fn per_request(runs: &[Sample], pick: impl Fn(&RunCpu) -> Option<Duration>) -> Option<f64> {
    median_of(runs, |sample| {
        let spent = pick(sample.cpu.as_ref()?)?;
        (sample.load.requests > 0).then(|| spent.as_secs_f64() * 1e6 / sample.load.requests as f64)
    })
}

/// The CPU table (µs per request, medians over the rounds), and for each
/// mode that exports the ceiling its collector puts on its ratio.
pub(crate) fn lines(samples: &Samples) -> String {
    if samples
        .iter()
        .all(|(_, runs)| runs.iter().all(|run| run.cpu.is_none()))
    {
        return String::new();
    }
    let mut out = String::from(
        "cpu: microseconds per request in the measured run (medians), on the same cores\n\
         mode                   server    load  collector\n",
    );
    for (mode, runs) in samples {
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>7} {:>10}",
            mode.name(),
            fmt_opt(per_request(runs, |cpu| Some(cpu.server)), 2),
            fmt_opt(per_request(runs, |cpu| Some(cpu.load)), 2),
            fmt_opt(per_request(runs, |cpu| cpu.collector), 2),
        );
    }
    for (mode, runs) in samples {
        let Some(baseline) = mode.baseline().filter(|_| mode.exports()) else {
            continue;
        };
        let Some(base) = runs_of(samples, baseline) else {
            continue;
        };
        let base_cost = per_request(base, |cpu| Some(cpu.server))
            .zip(per_request(base, |cpu| Some(cpu.load)))
            .map(|(server, load)| server + load);
        let (Some(base_cost), Some(collector)) =
            (base_cost, per_request(runs, |cpu| cpu.collector))
        else {
            continue;
        };
        let _ = writeln!(
            out,
            "ceiling {mode}/{baseline}: {:.2} (the collector's {collector:.2} us per request \
             added to the {base_cost:.2} us of {baseline}'s app and load, were tracing free; \
             holds while {baseline} keeps every core busy)",
            base_cost / (base_cost + collector),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadResult;
    use crate::mode::Mode;

    fn run(requests: u64, server_ms: u64, load_ms: u64, collector_ms: Option<u64>) -> Sample {
        Sample {
            load: LoadResult {
                requests,
                ..LoadResult::default()
            },
            cpu: Some(RunCpu {
                server: Duration::from_millis(server_ms),
                load: Duration::from_millis(load_ms),
                collector: collector_ms.map(Duration::from_millis),
            }),
            ..Sample::default()
        }
    }

    #[test]
    fn per_request_cpu_and_the_collectors_ceiling() {
        // Baseline: 8 us of app and 8 of load per request; traced: the
        // collector spends 4 us per request.
        let samples = vec![
            (Mode::Baseline, vec![run(1000, 8, 8, None)]),
            (Mode::Traced, vec![run(500, 7, 4, Some(2))]),
        ];
        let text = lines(&samples);
        assert!(
            text.contains("baseline                 8.00    8.00          -"),
            "{text}"
        );
        assert!(
            text.contains("traced                  14.00    8.00       4.00"),
            "{text}"
        );
        assert!(text.contains("ceiling traced/baseline: 0.80 "), "{text}");
    }

    #[test]
    fn nothing_is_said_without_cpu_figures() {
        let samples = vec![(Mode::Baseline, vec![Sample::default()])];
        assert_eq!(lines(&samples), "");
    }
}
