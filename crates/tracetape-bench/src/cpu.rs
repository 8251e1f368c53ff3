//! CPU time of child processes, read from `/proc` (Linux): a running
//! child's own user + system time from `/proc/<pid>/stat`, and the time of
//! the children this process has already waited for (reaped) from
//! `/proc/self/stat`, so a child that has exited can be measured by the
//! difference before and after it is reaped.

use std::fs;
use std::process::Command;
use std::time::Duration;

/// The clock ticks `/proc` counts in when `getconf` does not say.
const DEFAULT_TICKS_PER_SECOND: u64 = 100;

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuTime {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
}

impl CpuTime {
    pub(crate) fn total(self) -> Duration {
        self.user + self.system
    }

    /// The time spent since `earlier`.
    pub(crate) fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// Reads CPU times out of `/proc`, in the kernel's clock ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcCpu {
    ticks_per_second: u64,
}

impl ProcCpu {
    /// Asks `getconf CLK_TCK` for the tick rate once (100 on nearly every
    /// Linux system, the fallback).
    pub(crate) fn new() -> Self {
        let ticks_per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(DEFAULT_TICKS_PER_SECOND);
        ProcCpu { ticks_per_second }
    }

    /// The CPU time process `pid` has used so far, all its threads
    /// included; `None` where `/proc` does not say.
    pub(crate) fn process(self, pid: u32) -> Option<CpuTime> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        self.fields(&stat, 14, 15)
    }

    /// The CPU time all of the machine's cores have been busy so far
    /// (`/proc/stat`: everything but idle and I/O wait), every process
    /// counted.
    pub(crate) fn machine_busy(self) -> Option<Duration> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal (guest time is
        // already in user).
        let busy: u64 = ticks.iter().take(8).sum::<u64>() - ticks.get(3)? - ticks.get(4)?;
        Some(Duration::from_secs_f64(
            busy as f64 / self.ticks_per_second as f64,
        ))
    }

    /// The context switches of the whole machine so far (`/proc/stat`'s
    /// `ctxt`).
    pub(crate) fn machine_context_switches(self) -> Option<u64> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|line| line.starts_with("ctxt "))?;
        line["ctxt ".len()..].trim().parse().ok()
    }

    /// The CPU time of this process's children that have exited and been
    /// waited for (`cutime` and `cstime`).
    pub(crate) fn reaped_children(self) -> Option<CpuTime> {
        let stat = fs::read_to_string("/proc/self/stat").ok()?;
        self.fields(&stat, 16, 17)
    }

    /// Fields `user` and `system` (numbered from 1 as in proc(5)) of a
    /// `/proc/<pid>/stat` line, as durations.
    fn fields(self, stat: &str, user: usize, system: usize) -> Option<CpuTime> {
        // The command name (field 2) is in parentheses and may hold
        // spaces or parentheses itself: count from after the last `)`.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3.
        let field = |n: usize| -> Option<Duration> {
            let ticks: u64 = fields.get(n.checked_sub(3)?)?.parse().ok()?;
            Some(Duration::from_secs_f64(
                ticks as f64 / self.ticks_per_second as f64,
            ))
        };
        Some(CpuTime {
            user: field(user)?,
            system: field(system)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_after_the_command_name() {
        let cpu = ProcCpu {
            ticks_per_second: 100,
        };
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime cutime cstime ...
        let stat = "42 (tracetape (x) y) S 1 42 42 0 -1 4194560 10 0 0 0 250 30 7 3 20 0 3 0";
        assert_eq!(
            cpu.fields(stat, 14, 15),
            Some(CpuTime {
                user: Duration::from_millis(2500),
                system: Duration::from_millis(300),
            })
        );
        assert_eq!(
            cpu.fields(stat, 16, 17).map(CpuTime::total),
            Some(Duration::from_millis(100))
        );
        assert_eq!(cpu.fields("42 (x) S 1", 14, 15), None);
        assert_eq!(cpu.fields("no parenthesis", 14, 15), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_and_its_reaped_children_have_cpu_times() {
        let cpu = ProcCpu::new();
        assert!(cpu.process(std::process::id()).is_some());
        assert!(cpu.reaped_children().is_some());
    }
}
