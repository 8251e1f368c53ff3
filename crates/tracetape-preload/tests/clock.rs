//! The preloaded library in a real process, for the replay clock: the
//! test binary runs itself as a child with `libtracetape_preload.so`
//! preloaded and `TRACETAPE_REPLAY_CLOCK` naming a clock file. The child
//! writes its own thread's slot as the `tracetape` library does
//! (`FileExt::write_at`), then reads the time with
//! `std::time::SystemTime::now()` (which shows that the standard library
//! goes through the interposable `clock_gettime`), `clock_gettime` with
//! `CLOCK_REALTIME_COARSE`, `gettimeofday` and `time`, and on a second
//! thread that has no slot; it prints what it read, in nanoseconds since
//! the Unix epoch, and the parent compares that with its own clock.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(
    dead_code,
    reason = "only the library's path is shared with the connection tests"
)]
mod common;

use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Set for the child: the child runs (else its test does nothing).
const CHILD: &str = "TRACETAPE_PRELOAD_TEST_CLOCK_CHILD";
/// Set for the child: the shift it writes into its slot, in nanoseconds.
const SHIFT: &str = "TRACETAPE_PRELOAD_TEST_SHIFT";
/// Set for the child: the slot's tag is its thread id plus this (not 0:
/// another thread's tag in the same slot).
const TAG_OFFSET: &str = "TRACETAPE_PRELOAD_TEST_TAG_OFFSET";
/// The library's variable.
const CLOCK_VAR: &str = "TRACETAPE_REPLAY_CLOCK";

/// About 1,000 days back: far outside any clock skew.
const SHIFT_NANOS: i64 = -86_400_000_000_000_000;

/// Slack for the child's reading against the parent's window: the time
/// of `time`'s whole seconds and `CLOCK_REALTIME_COARSE`'s tick.
const SLACK: i128 = 1_100_000_000;

/// The child's side, run by the other tests in a child process of their
/// own.
#[test]
#[ignore = "run in a child process by the other tests"]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    if maps.contains("libtracetape_preload.so") {
        println!("child: preloaded");
    }
    let shift: i64 = std::env::var(SHIFT).unwrap().parse().unwrap();
    let tag_offset: i64 = std::env::var(TAG_OFFSET).unwrap().parse().unwrap();
    let tid = thread_id();
    if let Some(path) = std::env::var_os("TRACETAPE_PRELOAD_TEST_CLOCK_FILE") {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        let mut slot = [0u8; 16];
        slot[..8].copy_from_slice(&(tid + tag_offset).to_ne_bytes());
        slot[8..].copy_from_slice(&shift.to_ne_bytes());
        let index = u64::try_from(tid).unwrap() % 65_536;
        file.write_at(&slot, index * 16).unwrap();
    }
    println!("child: system_time {}", unix_nanos(SystemTime::now()));
    println!("child: coarse {}", raw::coarse());
    println!("child: gettimeofday {}", raw::gettimeofday());
    println!("child: time {}", raw::time());
    let other = std::thread::spawn(|| unix_nanos(SystemTime::now()))
        .join()
        .unwrap();
    println!("child: other_thread {other}");
}

/// The C calls the standard library has no counterpart for.
#[allow(unsafe_code, reason = "calling the C functions the library interposes")]
mod raw {
    /// `clock_gettime(CLOCK_REALTIME_COARSE)`, in nanoseconds.
    pub(crate) fn coarse() -> i128 {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a live, writable `timespec`.
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &raw mut now) },
            0
        );
        i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_nsec)
    }

    /// `gettimeofday`, in nanoseconds.
    pub(crate) fn gettimeofday() -> i128 {
        let mut now = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: `now` is a live, writable `timeval`; no time zone.
        assert_eq!(
            unsafe { libc::gettimeofday(&raw mut now, std::ptr::null_mut()) },
            0
        );
        i128::from(now.tv_sec) * 1_000_000_000 + i128::from(now.tv_usec) * 1_000
    }

    /// `time`, in nanoseconds; checks that it stores what it returns.
    pub(crate) fn time() -> i128 {
        let mut stored: libc::time_t = 0;
        // SAFETY: `stored` is a live, writable `time_t`.
        let returned = unsafe { libc::time(&raw mut stored) };
        assert_eq!(returned, stored);
        i128::from(returned) * 1_000_000_000
    }
}

/// The calling thread's kernel id.
fn thread_id() -> i64 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

fn unix_nanos(time: SystemTime) -> i128 {
    // Negative before the epoch, which a shift may reach.
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i128::try_from(since.as_nanos()).unwrap(),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap(),
    }
}

/// A clock file of the full size in a directory of its own.
fn clock_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(65_536 * 16 + 16)
        .unwrap();
    (dir, path)
}

/// What the child read: each clock, in nanoseconds, with the parent's
/// window around the child's run.
struct Readings {
    stdout: String,
    window: (i128, i128),
}

impl Readings {
    fn of(&self, what: &str) -> i128 {
        let prefix = format!("child: {what} ");
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("the child did not read {what}:\n{}", self.stdout))
            .parse()
            .unwrap()
    }

    /// Asserts that `what` read the parent's time moved by `shift`.
    fn assert_shifted(&self, what: &str, shift: i64) {
        let read = self.of(what);
        let (from, to) = self.window;
        let (from, to) = (from + i128::from(shift), to + i128::from(shift));
        assert!(
            from - SLACK <= read && read <= to + SLACK,
            "{what} read {read}, expected within {from}..={to} (shift {shift}):\n{}",
            self.stdout
        );
    }
}

/// Runs the child, preloaded, with the clock variable naming `clock` (when
/// given) and the child writing `(its tid + tag_offset, shift)` into its
/// slot of `written` (when given).
fn run_child(
    clock: Option<&Path>,
    written: Option<&Path>,
    shift: i64,
    tag_offset: i64,
) -> Readings {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["child", "--exact", "--ignored", "--nocapture"])
        .env("LD_PRELOAD", common::preload_library())
        .env(CHILD, "1")
        .env(SHIFT, shift.to_string())
        .env(TAG_OFFSET, tag_offset.to_string())
        .env_remove(CLOCK_VAR)
        .env_remove("TRACETAPE_PRELOAD_TEST_CLOCK_FILE");
    if let Some(clock) = clock {
        command.env(CLOCK_VAR, clock);
    }
    if let Some(written) = written {
        command.env("TRACETAPE_PRELOAD_TEST_CLOCK_FILE", written);
    }
    let from = unix_nanos(SystemTime::now());
    let output = command.output().unwrap();
    let to = unix_nanos(SystemTime::now());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("child: preloaded"), "{stdout}");
    Readings {
        stdout,
        window: (from, to),
    }
}

#[test]
fn a_thread_whose_slot_holds_a_shift_reads_the_shifted_wall_clock() {
    let (_dir, clock) = clock_file();
    let readings = run_child(Some(&clock), Some(&clock), SHIFT_NANOS, 0);
    // Rust's `SystemTime::now()` goes through the interposed clock_gettime.
    readings.assert_shifted("system_time", SHIFT_NANOS);
    readings.assert_shifted("coarse", SHIFT_NANOS);
    readings.assert_shifted("gettimeofday", SHIFT_NANOS);
    readings.assert_shifted("time", SHIFT_NANOS);
    // A thread without a slot of its own reads real time.
    readings.assert_shifted("other_thread", 0);
}

#[test]
fn a_slot_tagged_with_another_thread_s_id_is_not_read() {
    // The same slot, written by a thread whose id is 65,536 away.
    let (_dir, clock) = clock_file();
    let readings = run_child(Some(&clock), Some(&clock), SHIFT_NANOS, 65_536);
    readings.assert_shifted("system_time", 0);
    readings.assert_shifted("time", 0);
}

#[test]
fn without_the_variable_the_clock_is_real() {
    let (_dir, clock) = clock_file();
    let readings = run_child(None, Some(&clock), SHIFT_NANOS, 0);
    readings.assert_shifted("system_time", 0);
    readings.assert_shifted("gettimeofday", 0);
    readings.assert_shifted("time", 0);
}

#[test]
fn a_clock_file_too_short_to_hold_every_slot_is_not_mapped() {
    // Reading past its end would fault; the library leaves it alone.
    let (_dir, clock) = clock_file();
    std::fs::File::options()
        .write(true)
        .open(&clock)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let readings = run_child(Some(&clock), None, SHIFT_NANOS, 0);
    readings.assert_shifted("system_time", 0);
    readings.assert_shifted("coarse", 0);
}
