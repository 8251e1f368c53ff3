//! `clock_gettime(2)` (`CLOCK_REALTIME` and `CLOCK_REALTIME_COARSE`),
//! `gettimeofday(2)` and `time(2)`: the wall clock of a thread serving a
//! replayed request, shifted to the request's recorded time (see
//! `crate::clock` for the clock file and what a shift is).
//!
//! Hot functions: every realtime call of the process comes through here,
//! and `clock_gettime` with any clock (tokio's `Instant`s included). So,
//! after the first call: one atomic load for the next definition, the
//! clock's id compared, one atomic load for the mapping (none: real time),
//! then the thread's id from a thread-local and two loads from the mapped
//! file. No allocation, no lock, no system call and no clock call of its
//! own. Monotonic, boot-time and CPU-time clocks are never shifted.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::AtomicI64;

use libc::{c_int, c_void, clockid_t, time_t, timespec, timeval};

use super::real::{ClockGettimeFn, GettimeofdayFn, TimeFn, next, unavailable};
use super::thread_id;
use crate::clock::{CLOCK_VAR, FILE_BYTES, WORDS, shift_of, shifted, unix_nanos};

/// The clock file's words, mapped read-only at the first realtime call;
/// `None` when [`CLOCK_VAR`] is unset or its file cannot be mapped (real
/// time for every thread).
static SLOTS: OnceLock<Option<&'static [AtomicI64]>> = OnceLock::new();

thread_local! {
    /// This thread's kernel id once read (0: not yet), reset in a forked
    /// child, whose thread has a new one. `const` and without a
    /// destructor, so it stays usable while the thread is exiting.
    static TID: Cell<i64> = const { Cell::new(0) };
    /// Set while this thread maps the clock file, so that a clock call
    /// made meanwhile reads real time instead of waiting on itself.
    static MAPPING: Cell<bool> = const { Cell::new(false) };
}

/// `clock_gettime(2)`, as seen by every dynamically linked caller in a
/// process that preloads this library (Rust's `SystemTime::now()` and
/// `Instant::now()` among them).
///
/// The real clock's time, and for `CLOCK_REALTIME` and
/// `CLOCK_REALTIME_COARSE`, on a thread whose slot of the clock file
/// (`TRACETAPE_REPLAY_CLOCK`) holds a shift, that time moved by it.
/// Inert (the real function's answer) when the variable is unset.
///
/// # Safety
///
/// The contract of `clock_gettime(2)`: `tp` points to a writable
/// `timespec`.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `clock_gettime`, not to Rust callers"
)]
pub unsafe extern "C" fn clock_gettime(clock: clockid_t, tp: *mut timespec) -> c_int {
    let Some(real) = next!(c"clock_gettime" as ClockGettimeFn) else {
        return unavailable(-1);
    };
    // SAFETY: the caller's arguments are handed on unchanged, under the
    // same contract; `real` has `clock_gettime`'s C signature.
    let result = unsafe { real(clock, tp) };
    if result == 0
        && (clock == libc::CLOCK_REALTIME || clock == libc::CLOCK_REALTIME_COARSE)
        && !tp.is_null()
    {
        let shift = own_shift();
        if shift != 0 {
            // SAFETY: `tp` is non-null and, by the caller's contract,
            // points to a writable `timespec`, which the real function
            // has just filled.
            let time = unsafe { &mut *tp };
            let (seconds, nanos) = shifted(time.tv_sec, time.tv_nsec, shift);
            time.tv_sec = seconds;
            time.tv_nsec = nanos;
        }
    }
    result
}

/// `gettimeofday(2)`: the real time, moved by the calling thread's shift
/// as [`clock_gettime`] does for `CLOCK_REALTIME`.
///
/// # Safety
///
/// The contract of `gettimeofday(2)`: `tv` is null or points to a
/// writable `timeval`; `tz` is null or points to a writable `timezone`.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `gettimeofday`, not to Rust callers"
)]
pub unsafe extern "C" fn gettimeofday(tv: *mut timeval, tz: *mut c_void) -> c_int {
    let Some(real) = next!(c"gettimeofday" as GettimeofdayFn) else {
        return unavailable(-1);
    };
    // SAFETY: the caller's arguments are handed on unchanged, under the
    // same contract; `real` has `gettimeofday`'s C signature.
    let result = unsafe { real(tv, tz) };
    if result == 0 && !tv.is_null() {
        let shift = own_shift();
        if shift != 0 {
            // SAFETY: `tv` is non-null and, by the caller's contract,
            // points to a writable `timeval`, which the real function has
            // just filled.
            let time = unsafe { &mut *tv };
            let (seconds, nanos) = shifted(time.tv_sec, time.tv_usec.saturating_mul(1_000), shift);
            time.tv_sec = seconds;
            time.tv_usec = nanos / 1_000;
        }
    }
    result
}

/// `time(2)`: the real time in seconds, or on a thread with a shift, the
/// realtime clock moved by it, whole seconds (also stored at `tloc` when
/// it is not null).
///
/// # Safety
///
/// The contract of `time(2)`: `tloc` is null or points to a writable
/// `time_t`.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `time`, not to Rust callers"
)]
pub unsafe extern "C" fn time(tloc: *mut time_t) -> time_t {
    let shift = own_shift();
    if shift == 0 {
        return match next!(c"time" as TimeFn) {
            // SAFETY: the caller's argument is handed on unchanged, under
            // the same contract; `real` has `time`'s C signature.
            Some(real) => unsafe { real(tloc) },
            None => unavailable(-1),
        };
    }
    let Some((seconds, nanos)) = real_time() else {
        return unavailable(-1);
    };
    let (seconds, _) = shifted(seconds, nanos, shift);
    if !tloc.is_null() {
        // SAFETY: `tloc` is non-null and, by the caller's contract, points
        // to a writable `time_t`.
        unsafe { *tloc = seconds };
    }
    seconds
}

/// The real time now, in nanoseconds since the Unix epoch, whatever the
/// calling thread's shift: when a reported call was made (0 if the clock
/// cannot be read).
pub(super) fn real_unix_nanos() -> u64 {
    real_time().map_or(0, |(seconds, nanos)| unix_nanos(seconds, nanos))
}

/// The real `CLOCK_REALTIME`, unshifted: `(seconds, nanoseconds)`.
fn real_time() -> Option<(i64, i64)> {
    let real = next!(c"clock_gettime" as ClockGettimeFn)?;
    let mut now = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a live, writable `timespec`; `real` has
    // `clock_gettime`'s C signature.
    let result = unsafe { real(libc::CLOCK_REALTIME, &raw mut now) };
    (result == 0).then_some((now.tv_sec, now.tv_nsec))
}

/// The calling thread's shift: 0 unless the clock file is mapped and the
/// thread's slot is its own.
fn own_shift() -> i64 {
    match slots() {
        Some(words) => shift_of(words, own_thread_id()),
        None => 0,
    }
}

/// The calling thread's kernel id, read once per thread.
fn own_thread_id() -> i64 {
    TID.try_with(|cached| {
        if cached.get() == 0 {
            cached.set(thread_id());
        }
        cached.get()
    })
    .unwrap_or_else(|_| thread_id())
}

/// The clock file's words, mapped at the first call; `None` when there is
/// no clock file, or while this very thread is mapping it.
fn slots() -> Option<&'static [AtomicI64]> {
    if let Some(slots) = SLOTS.get() {
        return *slots;
    }
    if MAPPING
        .try_with(|mapping| mapping.replace(true))
        .unwrap_or(true)
    {
        return None;
    }
    let slots = *SLOTS.get_or_init(map_clock_file);
    let _ = MAPPING.try_with(|mapping| mapping.set(false));
    slots
}

/// Maps the file [`CLOCK_VAR`] names, read-only and shared (so that the
/// slots the `tracetape` library writes with `pwrite` show), when it has
/// at least [`FILE_BYTES`] bytes; and makes a forked child read its new
/// thread id. `None` when the variable is unset or anything fails.
fn map_clock_file() -> Option<&'static [AtomicI64]> {
    use std::os::fd::AsRawFd as _;

    let path = std::env::var_os(CLOCK_VAR).filter(|path| !path.is_empty())?;
    let file = std::fs::File::open(path).ok()?;
    // A shorter file would fault (SIGBUS) when a slot past its end is read.
    if file.metadata().ok()?.len() < FILE_BYTES as u64 {
        return None;
    }
    // SAFETY: mapping `FILE_BYTES` bytes of an open, readable file at
    // offset 0, read-only, at an address of the kernel's choosing: no
    // existing memory is touched. The mapping outlives the descriptor,
    // which is closed when `file` drops.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            FILE_BYTES,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if address == libc::MAP_FAILED || address.is_null() {
        return None;
    }
    // SAFETY: registers a handler that takes no arguments and only writes
    // a thread-local; failing to register only leaves a forked child's
    // thread reading its parent thread's slot.
    unsafe { libc::pthread_atfork(None, None, Some(forget_thread_id)) };
    // SAFETY: the mapping is `FILE_BYTES` = `WORDS * 8` bytes, page-aligned
    // (so aligned for `AtomicI64`), readable, and never unmapped, so it
    // lives for the rest of the process. It is only read, with atomic
    // loads; other processes' and threads' writes to the file (through
    // `pwrite`) are what `AtomicI64` permits: shared mutation.
    Some(unsafe { std::slice::from_raw_parts(address.cast::<AtomicI64>(), WORDS) })
}

/// In a forked child: its thread has a new kernel id, to be read again.
extern "C" fn forget_thread_id() {
    let _ = TID.try_with(|cached| cached.set(0));
}
