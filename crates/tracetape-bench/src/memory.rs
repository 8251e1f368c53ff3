//! The served app's memory: its peak resident set, read from
//! `/proc/<pid>/status` (Linux) while it is still running; or its current
//! resident set, sampled on a thread of its own ([`RssSampler`]).

use std::fs;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The peak resident set of process `pid` in bytes: `VmHWM` (the
/// high-water mark since it started), else its current `VmRSS`; `None`
/// where `/proc` does not say (not Linux, process gone).
pub(crate) fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    peak_from_status(&status)
}

/// The current resident set of process `pid` in bytes (`VmRSS`); `None`
/// where `/proc` does not say.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field_kib(&status, "VmRSS:").map(|kib| kib * 1024)
}

/// Samples a process's `VmRSS` at a fixed interval, on its own thread,
/// from [`start`](Self::start) to [`finish`](Self::finish).
#[derive(Debug)]
pub(crate) struct RssSampler {
    stop: mpsc::Sender<()>,
    thread: thread::JoinHandle<Vec<u64>>,
}

impl RssSampler {
    /// Takes a first sample of `pid` at once, then one every `every`.
    pub(crate) fn start(pid: u32, every: Duration) -> Self {
        let (stop, stopped) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut samples = Vec::new();
            loop {
                samples.extend(rss_bytes(pid));
                match stopped.recv_timeout(every) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            samples.extend(rss_bytes(pid));
            samples
        });
        RssSampler { stop, thread }
    }

    /// Takes a last sample and returns them all, in order, in bytes
    /// (empty where `/proc` does not say).
    pub(crate) fn finish(self) -> Vec<u64> {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

/// `VmHWM`, else `VmRSS`, from the text of `/proc/<pid>/status`, in bytes.
fn peak_from_status(status: &str) -> Option<u64> {
    field_kib(status, "VmHWM:")
        .or_else(|| field_kib(status, "VmRSS:"))
        .map(|kib| kib * 1024)
}

/// A `Name:   1234 kB` line's number.
fn field_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(name))?;
    let mut words = line[name.len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

/// Bytes as megabytes (10^6 bytes).
pub(crate) fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_else_the_resident_set() {
        let status =
            "Name:\tserve\nVmPeak:\t  300000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(peak_from_status(status), Some(20480 * 1024));
        assert_eq!(
            peak_from_status("VmRSS:\t   10240 kB\n"),
            Some(10240 * 1024)
        );
        assert_eq!(peak_from_status("Name:\tserve\n"), None);
        assert_eq!(peak_from_status("VmHWM:\t lots\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_peak() {
        let peak = peak_rss_bytes(std::process::id()).unwrap_or_default();
        assert!(peak > 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sampler_takes_a_first_and_a_last_sample() {
        let sampler = RssSampler::start(std::process::id(), Duration::from_secs(60));
        let samples = sampler.finish();
        assert_eq!(samples.len(), 2);
        assert!(samples.iter().all(|&bytes| bytes > 0));
    }
}
