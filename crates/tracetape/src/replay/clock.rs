//! The replay clock, this side of it: while a replayed request's handler
//! is polled, the polling thread's wall clock reads the request's recorded
//! time (plus the time elapsed since its replay began), so that values
//! derived from "now" come out as recorded.
//!
//! `tracetape replay` starts the service with the preload library and
//! [`CLOCK_VARIABLE`] naming a clock file of 65,536 slots of 16 bytes: a
//! thread's kernel id and a shift in nanoseconds, two native `i64`s, slot
//! `tid % 65536` (the layout the preload library reads; see its `clock`
//! module). Around each poll this module writes `(tid, shift)` into the
//! polling thread's slot and clears it after, with `pwrite` on the file
//! opened once; the library's `clock_gettime(CLOCK_REALTIME)`,
//! `gettimeofday` and `time` add the shift on that thread. After the
//! slots, the file holds the **process default**: the shift of the
//! replayed request that began last, which threads without a shift of
//! their own read (a task spawned without the request's context that
//! streams its body, a background job), so that "now" in the service is
//! the recorded timeline's wherever it is read. Without the variable
//! nothing is written and nothing is shifted.

use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::Context;

use super::polls::thread_id;

/// The variable `tracetape replay` names the clock file in.
pub(crate) const CLOCK_VARIABLE: &str = "TRACETAPE_REPLAY_CLOCK";

/// Slots in the clock file: thread `tid` owns slot `tid % SLOTS`.
const SLOTS: u64 = 65_536;

/// Bytes per slot: the thread's id and the shift.
const SLOT_BYTES: u64 = 16;

/// Where the process default shift is: right after the slots.
const DEFAULT_AT: u64 = SLOTS * SLOT_BYTES;

thread_local! {
    /// The shift this thread's slot holds now (0: none).
    static SHIFT: Cell<i64> = const { Cell::new(0) };
}

/// The clock file, opened for writing at the first use; `None` when
/// [`CLOCK_VARIABLE`] is unset, the file cannot be opened, or this
/// platform does not tell thread ids.
fn clock_file() -> Option<&'static File> {
    static FILE: OnceLock<Option<File>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var_os(CLOCK_VARIABLE).filter(|path| !path.is_empty())?;
        thread_id()?;
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => {
                // A service started again finds its predecessor's default;
                // real time is taken before any shift is in place.
                let _ = file.write_at(&0_i64.to_ne_bytes(), DEFAULT_AT);
                let _ = REAL_BASE.set(RealBase {
                    at: Instant::now(),
                    unix_nanos: SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |since| {
                            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
                        }),
                });
                Some(file)
            }
            Err(err) => {
                crate::diag::warn_once(
                    "replay.clock",
                    format_args!(
                        "replay: the clock file {} cannot be opened, so the service's clock is \
                         not set to the recorded time: {err}",
                        std::path::Path::new(&path).display()
                    ),
                );
                None
            }
        }
    })
    .as_ref()
}

/// How far one replayed request's wall clock is moved: its recorded start
/// minus the real time its replay began, in nanoseconds. In the request's
/// context (next to its `ReplayScope`), for the tasks and closures that
/// carry the context through the `context` helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockShift(i64);

impl ClockShift {
    /// The shift of a request recorded as starting at `recorded_start`
    /// (nanoseconds since the Unix epoch) whose replay begins now; `None`
    /// when the replay does not control the clock.
    /// It becomes the process default, which threads without a shift of
    /// their own read.
    pub(crate) fn begin(recorded_start: u64) -> Option<Self> {
        let file = clock_file()?;
        let shift = i128::from(recorded_start) - i128::from(real_unix_nanos());
        let shift = i64::try_from(shift).unwrap_or(if shift < 0 { i64::MIN } else { i64::MAX });
        // One aligned word, which readers load whole.
        if let Err(err) = file.write_at(&shift.to_ne_bytes(), DEFAULT_AT) {
            crate::diag::warn_once(
                "replay.clock.write",
                format_args!(
                    "replay: failed to set the service's clock to the recorded time: {err}"
                ),
            );
        }
        Some(Self(shift))
    }

    /// The shift in context `cx`, if any (none at all unless the replay
    /// controls the clock: one atomic load then).
    pub(crate) fn of(cx: &Context) -> Option<Self> {
        clock_file()?;
        cx.get::<Self>().copied()
    }

    /// The shift in the current context, if any.
    pub(crate) fn current() -> Option<Self> {
        clock_file()?;
        Context::map_current(|cx| cx.get::<Self>().copied())
    }

    /// Runs `f` with this thread's wall clock moved by `shift` (when there
    /// is one), as it was again after.
    pub(crate) fn run<R>(shift: Option<Self>, f: impl FnOnce() -> R) -> R {
        let Some(Self(shift)) = shift else {
            return f();
        };
        let _restore = Restore(set_shift(shift));
        f()
    }
}

/// Puts the thread's previous shift back when dropped (also when the
/// code run in between panics).
struct Restore(i64);

impl Drop for Restore {
    fn drop(&mut self) {
        set_shift(self.0);
    }
}

/// Sets this thread's shift to `shift` (its slot written when it
/// changes); returns the one it had.
fn set_shift(shift: i64) -> i64 {
    let Ok(previous) = SHIFT.try_with(|current| current.replace(shift)) else {
        return 0;
    };
    if previous != shift {
        write_slot(shift);
    }
    previous
}

/// Writes `(tid, shift)` into this thread's slot, or clears it for 0.
/// A failed write leaves the clock as it was: reported once.
fn write_slot(shift: i64) {
    let (Some(file), Some(tid)) = (clock_file(), thread_id()) else {
        return;
    };
    let tag = if shift == 0 { 0 } else { tid };
    let mut slot = [0u8; SLOT_BYTES as usize];
    slot[..8].copy_from_slice(&tag.to_ne_bytes());
    slot[8..].copy_from_slice(&shift.to_ne_bytes());
    let index = tid.unsigned_abs() % SLOTS;
    if let Err(err) = file.write_at(&slot, index * SLOT_BYTES) {
        crate::diag::warn_once(
            "replay.clock.write",
            format_args!("replay: failed to set the service's clock to the recorded time: {err}"),
        );
    }
}

/// The real time when the clock file was opened, before any shift, and
/// the monotonic clock then: real time later is that plus the time
/// elapsed, whatever shift the wall clock of this thread or the process
/// reads with.
struct RealBase {
    at: Instant,
    unix_nanos: u64,
}

static REAL_BASE: OnceLock<RealBase> = OnceLock::new();

/// The real time now, in nanoseconds since the Unix epoch, whatever this
/// thread's shift: what poll times and the start of a replay are taken
/// in.
pub(crate) fn real_unix_nanos() -> u64 {
    if let Some(base) = REAL_BASE.get() {
        let elapsed = u64::try_from(base.at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        return base.unix_nanos.saturating_add(elapsed);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| i128::try_from(since.as_nanos()).unwrap_or(0));
    let shift = SHIFT.try_with(Cell::get).unwrap_or(0);
    u64::try_from(now - i128::from(shift)).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn without_a_clock_file_there_is_no_shift_and_the_clock_is_real() {
        // The tests run without `TRACETAPE_REPLAY_CLOCK`.
        assert_eq!(ClockShift::begin(1_700_000_000_000_000_000), None);
        let cx = Context::current().with_value(ClockShift(-5));
        assert_eq!(ClockShift::of(&cx), None);
        let before = real_unix_nanos();
        let inside = ClockShift::run(None, real_unix_nanos);
        assert!(before <= inside);
    }

    #[test]
    fn a_shift_is_restored_when_the_code_run_with_it_ends_or_panics() {
        // No file: nothing is written, but the thread's shift is kept.
        ClockShift::run(Some(ClockShift(7)), || {
            assert_eq!(SHIFT.with(Cell::get), 7);
            ClockShift::run(Some(ClockShift(9)), || {
                assert_eq!(SHIFT.with(Cell::get), 9);
            });
            assert_eq!(SHIFT.with(Cell::get), 7, "nested: the outer one back");
            let panicked = std::panic::catch_unwind(|| {
                ClockShift::run(Some(ClockShift(11)), || panic!("in the handler"))
            });
            assert!(panicked.is_err());
            assert_eq!(SHIFT.with(Cell::get), 7, "after a panic too");
        });
        assert_eq!(SHIFT.with(Cell::get), 0);
    }

    #[test]
    fn real_time_takes_the_thread_s_shift_out() {
        let shift = -86_400_000_000_000;
        let real = ClockShift::run(Some(ClockShift(shift)), real_unix_nanos);
        // Without the preload library the system clock is not moved, so
        // taking the shift out moves the result forward by a day.
        let now = real_unix_nanos();
        assert!(real > now + 86_000_000_000_000, "{real} vs {now}");
    }
}
