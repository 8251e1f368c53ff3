//! The replay clock: which shift the calling thread's wall clock reads
//! with, from the clock file `tracetape replay` hands the service in
//! [`CLOCK_VAR`].
//!
//! The file is [`SLOTS`] slots of [`SLOT_BYTES`] bytes, each two native
//! `i64`s: the kernel id of the thread that wrote it (its tag), and a
//! shift in nanoseconds. Thread `tid` owns slot `tid % SLOTS`. While a
//! replayed request's handler is polled, the `tracetape` library writes
//! `(tid, shift)` into its polling thread's slot (recorded start of the
//! request minus the real time its replay began), and clears it after;
//! the interposed `clock_gettime`, `gettimeofday` and `time` read the
//! calling thread's slot and add the shift when the tag is the caller's.
//! A slot is written and read by the same thread, so there is no race
//! between threads; two threads of the service whose ids are equal
//! modulo [`SLOTS`] share a slot, and one of them then reads the
//! process default while the other's shift is in it (a documented
//! limit). After the slots comes the process default: the shift of the
//! replayed request that began last, which every thread without a shift
//! of its own reads (work that does not carry the request's context).
//!
//! This module is the layout and the arithmetic; mapping the file and
//! the exported functions are in `interpose/clock.rs`.

use std::sync::atomic::{AtomicI64, Ordering};

/// The variable naming the clock file. Unset (or a file that cannot be
/// mapped): every clock reads real time.
pub(crate) const CLOCK_VAR: &str = "TRACETAPE_REPLAY_CLOCK";

/// Slots in the file: thread `tid` owns slot `tid % SLOTS`.
pub(crate) const SLOTS: usize = 65_536;

/// Bytes per slot: the tag and the shift, one `i64` each.
pub(crate) const SLOT_BYTES: usize = 16;

/// The file's size, which it must have at least to be mapped: the slots
/// (1 MiB), then the process default (a shift, and 8 bytes unused).
pub(crate) const FILE_BYTES: usize = SLOTS * SLOT_BYTES + SLOT_BYTES;

/// The word of the process default shift: right after the slots.
const DEFAULT_WORD: usize = SLOTS * 2;

/// `i64` words in the file: two per slot.
pub(crate) const WORDS: usize = FILE_BYTES / 8;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The shift thread `tid` reads its wall clock with, from the mapped
/// file's words: the slot's shift when its tag is `tid` and it is not 0,
/// else the process default (the shift of the replayed request that
/// began last; 0 before any).
pub(crate) fn shift_of(words: &[AtomicI64], tid: i64) -> i64 {
    let own = usize::try_from(tid.rem_euclid(SLOTS as i64))
        .ok()
        .and_then(|index| Some((words.get(index * 2)?, words.get(index * 2 + 1)?)))
        // Relaxed: the slot is only ever written by this same thread
        // (with `pwrite`, a system call, before the reads that follow it).
        .filter(|(tag, _)| tag.load(Ordering::Relaxed) == tid)
        .map_or(0, |(_, shift)| shift.load(Ordering::Relaxed));
    if own != 0 {
        return own;
    }
    // Written whole by one aligned `pwrite` of another thread; a reader
    // sees the old value or the new one.
    words
        .get(DEFAULT_WORD)
        .map_or(0, |shift| shift.load(Ordering::Relaxed))
}

/// `(seconds, nanoseconds)` moved by `shift` nanoseconds, the nanoseconds
/// kept within `0..1_000_000_000` as `timespec` requires; saturating at
/// the ends of `i64` seconds.
pub(crate) fn shifted(seconds: i64, nanos: i64, shift: i64) -> (i64, i64) {
    let total = i128::from(seconds) * i128::from(NANOS_PER_SEC) + i128::from(nanos);
    let moved = total + i128::from(shift);
    let per_sec = i128::from(NANOS_PER_SEC);
    let secs = moved.div_euclid(per_sec);
    let nanos = moved.rem_euclid(per_sec);
    match i64::try_from(secs) {
        Ok(secs) => (secs, i64::try_from(nanos).unwrap_or(0)),
        Err(_) if secs < 0 => (i64::MIN, 0),
        Err(_) => (i64::MAX, NANOS_PER_SEC - 1),
    }
}

/// Nanoseconds since the Unix epoch of `(seconds, nanoseconds)`; 0 before
/// it, `u64::MAX` past what fits.
pub(crate) fn unix_nanos(seconds: i64, nanos: i64) -> u64 {
    let total = i128::from(seconds) * i128::from(NANOS_PER_SEC) + i128::from(nanos);
    u64::try_from(total.max(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Vec<AtomicI64> {
        (0..WORDS).map(|_| AtomicI64::new(0)).collect()
    }

    fn write(words: &[AtomicI64], tid: i64, shift: i64) {
        let index = usize::try_from(tid).unwrap_or(0) % SLOTS;
        words[index * 2].store(tid, Ordering::Relaxed);
        words[index * 2 + 1].store(shift, Ordering::Relaxed);
    }

    #[test]
    fn a_thread_reads_the_shift_of_its_own_slot_only() {
        let words = file();
        write(&words, 4242, -86_400_000_000_000);
        assert_eq!(shift_of(&words, 4242), -86_400_000_000_000);
        assert_eq!(shift_of(&words, 4243), 0, "no slot written");
        // Thread 4242 + 65,536 shares the slot but not the tag.
        assert_eq!(shift_of(&words, 4242 + SLOTS as i64), 0);
        write(&words, 4242, 0);
        assert_eq!(shift_of(&words, 4242), 0, "cleared");
    }

    // A task spawned without the request's context (a streamed body's
    // producer) read today's time while its request read the recorded one.
    #[test]
    fn a_thread_without_a_shift_of_its_own_reads_the_process_default() {
        let words = file();
        assert_eq!(shift_of(&words, 77), 0, "before any replayed request");
        words[DEFAULT_WORD].store(-3_600_000_000_000, Ordering::Relaxed);
        assert_eq!(shift_of(&words, 77), -3_600_000_000_000);
        // Its own slot wins; a cleared one (tag 0) falls back.
        write(&words, 77, 5);
        assert_eq!(shift_of(&words, 77), 5);
        write(&words, 77, 0);
        assert_eq!(shift_of(&words, 77), -3_600_000_000_000);
        // Another thread's tag in the shared slot: the default.
        write(&words, 77 + SLOTS as i64, 9);
        assert_eq!(shift_of(&words, 77), -3_600_000_000_000);
    }

    #[test]
    fn slots_at_both_ends_and_odd_ids_are_safe() {
        let words = file();
        write(&words, SLOTS as i64 - 1, 7);
        assert_eq!(shift_of(&words, SLOTS as i64 - 1), 7);
        assert_eq!(shift_of(&words, -1), 0);
        assert_eq!(shift_of(&[], 1), 0, "a file too short reads nothing");
    }

    #[test]
    fn shifting_keeps_nanoseconds_in_range() {
        assert_eq!(shifted(10, 500, 0), (10, 500));
        assert_eq!(shifted(10, 999_999_999, 1), (11, 0));
        assert_eq!(shifted(10, 0, -1), (9, 999_999_999));
        assert_eq!(
            shifted(1_700_000_000, 250_000_000, -86_400_750_000_000),
            (1_699_913_599, 500_000_000)
        );
        assert_eq!(shifted(i64::MAX, 0, i64::MAX), (i64::MAX, 999_999_999));
        assert_eq!(shifted(i64::MIN, 0, i64::MIN), (i64::MIN, 0));
    }

    #[test]
    fn unix_nanos_of_a_time() {
        assert_eq!(unix_nanos(1, 5), 1_000_000_005);
        assert_eq!(unix_nanos(-1, 0), 0);
        assert_eq!(unix_nanos(i64::MAX, 0), u64::MAX);
    }
}
