//! When a replayed request's handler ran, and on which thread: what lets
//! `tracetape replay` tell which request a connection bypassing tracetape
//! was made under, at any concurrency.
//!
//! The preload library that catches such connections reports the kernel
//! thread id and the time of each. A connection made by the handler (or
//! by anything it awaits in its own task) happens while the server layer
//! is polling that request's future, on the thread doing the polling; so
//! the server layer notes each poll's thread and start and end times,
//! and the replay log carries them back. Only when the replay asks for
//! detection (`TRACETAPE_UNPATCHED_REPORT` is set in the service's
//! environment): otherwise nothing is timed. Work that carries the
//! request's context to another thread is timed as well ([`TaskPolls`],
//! kept in the request's [`ReplayScope`](super::ReplayScope)): the polls
//! of tasks spawned with `context::spawn` (`task.rs`), and closures run
//! with `context::run_in` (`spawn_blocking`, `bind`, threads spawned with
//! the context), until the response head, when the log is made. The same
//! wrapper moves the polling thread's wall clock to the request's
//! recorded time while the replay controls the clock (`clock.rs`); poll
//! times stay in real time, as the library reports.

use std::cell::Cell;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};

use super::clock::{ClockShift, real_unix_nanos};

/// The variable `tracetape replay` sets when it detects connections that
/// bypass tracetape (the preload library's report file).
const DETECTION_VARIABLE: &str = "TRACETAPE_UNPATCHED_REPORT";

/// Polls noted per request; later ones are not.
const MAX_WINDOWS: usize = 64;

/// Runs of work carrying a request's context to other threads noted per
/// request; later ones are not.
const MAX_TASK_WINDOWS: usize = 64;

/// Whether the replay detects connections bypassing tracetape (and this
/// platform tells thread ids): read once.
pub(crate) fn detecting() -> bool {
    static DETECTING: OnceLock<bool> = OnceLock::new();
    *DETECTING
        .get_or_init(|| std::env::var_os(DETECTION_VARIABLE).is_some() && thread_id().is_some())
}

/// The polls of one replayed request's handler, up to its response head
/// (the first 64), as the [`ReplayLog`](super::ReplayLog) carries them.
///
/// ```
/// use tracetape::replay::{PollTimes, PollWindow};
///
/// let times = PollTimes {
///     windows: vec![PollWindow { tid: 4242, from: 1_000, to: 1_500 }],
/// };
/// assert!(times.contains(4242, 1_200));
/// assert!(!times.contains(4243, 1_200));
/// assert!(!times.contains(4242, 1_600));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollTimes {
    /// Each poll, in order.
    pub windows: Vec<PollWindow>,
}

/// One poll of a replayed request's handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollWindow {
    /// The kernel's id of the thread that polled (`gettid`).
    pub tid: i64,
    /// When the poll started, in nanoseconds since the Unix epoch.
    pub from: u64,
    /// When it returned, in nanoseconds since the Unix epoch.
    pub to: u64,
}

impl PollTimes {
    /// Whether thread `tid` was polling the handler at `at` (nanoseconds
    /// since the Unix epoch).
    pub fn contains(&self, tid: i64, at: u64) -> bool {
        self.windows
            .iter()
            .any(|window| window.tid == tid && (window.from..=window.to).contains(&at))
    }
}

/// Wraps the polls of one replayed request's handler: notes when and on
/// which thread each ran, when the replay detects connections bypassing
/// tracetape, and moves the polling thread's wall clock to the request's
/// recorded time while it runs, when the replay controls the clock (see
/// [`ClockShift`]). `None` from [`PollClock::start`] when neither.
#[derive(Debug)]
pub(crate) struct PollClock {
    times: Option<PollTimes>,
    shift: Option<ClockShift>,
}

impl PollClock {
    /// The poll clock of a new replayed request whose wall clock is moved
    /// by `shift`, if any; `None` when there is no shift and the replay
    /// does not detect connections bypassing tracetape (or this platform
    /// does not tell thread ids).
    pub(crate) fn start(shift: Option<ClockShift>) -> Option<Self> {
        let detecting = detecting();
        (detecting || shift.is_some()).then(|| Self {
            times: detecting.then(PollTimes::default),
            shift,
        })
    }

    /// Runs `poll` with `clock`'s shift, noting when and on which thread
    /// when it notes times; just runs it without a clock.
    pub(crate) fn time<R>(clock: Option<&mut Self>, poll: impl FnOnce() -> R) -> R {
        let Some(clock) = clock else {
            return poll();
        };
        let Some(times) = clock.times.as_mut() else {
            return ClockShift::run(clock.shift, poll);
        };
        // Real time on both ends: the preload library reports in it.
        let from = real_unix_nanos();
        let result = ClockShift::run(clock.shift, poll);
        let to = real_unix_nanos();
        if let Some(tid) = thread_id()
            && times.windows.len() < MAX_WINDOWS
        {
            times.windows.push(PollWindow { tid, from, to });
        }
        result
    }

    /// What was noted, when times are.
    pub(crate) fn times(&self) -> Option<&PollTimes> {
        self.times.as_ref()
    }

    /// The shift the request's wall clock is moved by, if any.
    pub(crate) fn shift(&self) -> Option<ClockShift> {
        self.shift
    }
}

/// When and on which thread work carrying one replayed request's context
/// ran away from its handler: the polls of its spawned tasks and the runs
/// of its closures on other threads (the first [`MAX_TASK_WINDOWS`]).
#[derive(Debug, Default)]
pub(crate) struct TaskPolls {
    windows: Mutex<Vec<PollWindow>>,
}

impl TaskPolls {
    /// A place to note them, when the replay detects connections
    /// bypassing tracetape.
    pub(crate) fn when_detecting() -> Option<Self> {
        detecting().then(Self::default)
    }

    /// Runs `work`, noting when and on which thread, when `polls` is
    /// given.
    pub(crate) fn time<R>(polls: Option<&Self>, work: impl FnOnce() -> R) -> R {
        let Some(polls) = polls else {
            return work();
        };
        let from = real_unix_nanos();
        let result = work();
        let to = real_unix_nanos();
        if let Some(tid) = thread_id() {
            let mut windows = polls.windows.lock().unwrap_or_else(PoisonError::into_inner);
            if windows.len() < MAX_TASK_WINDOWS {
                windows.push(PollWindow { tid, from, to });
            }
        }
        result
    }

    /// The handler's polls `handler` followed by these, or `None` when
    /// there are neither.
    pub(crate) fn with_handler(&self, handler: Option<&PollTimes>) -> Option<PollTimes> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.is_empty() {
            return handler.cloned();
        }
        let mut all = handler.cloned().unwrap_or_default();
        all.windows.extend(windows.iter().copied());
        Some(all)
    }
}

thread_local! {
    /// This thread's kernel id, once read.
    static THREAD_ID: Cell<Option<i64>> = const { Cell::new(None) };
}

/// The calling thread's kernel id, as `gettid(2)` gives it, read once per
/// thread from `/proc/thread-self` (a link to `<pid>/task/<tid>`); `None`
/// where there is no such link.
pub(super) fn thread_id() -> Option<i64> {
    THREAD_ID
        .try_with(|cached| {
            if cached.get().is_none() {
                cached.set(read_thread_id());
            }
            cached.get()
        })
        .ok()
        .flatten()
}

fn read_thread_id() -> Option<i64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_told_apart_by_their_kernel_ids() {
        let here = thread_id().unwrap();
        assert_eq!(thread_id(), Some(here), "cached and stable");
        let there = std::thread::spawn(thread_id).join().unwrap().unwrap();
        assert!(here > 0 && there > 0);
        assert_ne!(here, there);
    }

    #[test]
    fn a_clock_notes_each_poll_up_to_the_limit() {
        let mut clock = PollClock {
            times: Some(PollTimes::default()),
            shift: None,
        };
        let inside = PollClock::time(Some(&mut clock), real_unix_nanos);
        let times = clock.times().unwrap();
        let [window] = *times.windows.as_slice() else {
            panic!("{times:?}")
        };
        assert!(window.from <= inside && inside <= window.to);
        assert!(times.contains(thread_id().unwrap(), inside));
        for _ in 0..MAX_WINDOWS {
            PollClock::time(Some(&mut clock), || ());
        }
        assert_eq!(clock.times().unwrap().windows.len(), MAX_WINDOWS);
        assert_eq!(
            clock.times().unwrap().windows[0],
            window,
            "the first are kept"
        );
    }

    #[test]
    fn work_on_other_threads_is_noted_after_the_handler_s_polls() {
        let tasks = TaskPolls::default();
        let handler = PollTimes {
            windows: vec![PollWindow {
                tid: 1,
                from: 2,
                to: 3,
            }],
        };
        assert_eq!(tasks.with_handler(None), None);
        assert_eq!(tasks.with_handler(Some(&handler)), Some(handler.clone()));
        let (tid, inside) = std::thread::scope(|scope| {
            scope
                .spawn(|| TaskPolls::time(Some(&tasks), || (thread_id(), real_unix_nanos())))
                .join()
                .unwrap()
        });
        let all = tasks.with_handler(Some(&handler)).unwrap();
        assert_eq!(all.windows[0], handler.windows[0]);
        assert!(all.contains(tid.unwrap(), inside), "{all:?}");
        assert!(!all.contains(thread_id().unwrap(), inside));
        let only_tasks = tasks.with_handler(None).unwrap();
        assert_eq!(only_tasks.windows.len(), 1);
        for _ in 0..MAX_TASK_WINDOWS {
            TaskPolls::time(Some(&tasks), || ());
        }
        assert_eq!(
            tasks.with_handler(None).unwrap().windows.len(),
            MAX_TASK_WINDOWS
        );
        assert_eq!(TaskPolls::time(None, || 7), 7);
    }

    #[test]
    fn poll_times_survive_the_header_s_json() {
        let times = PollTimes {
            windows: vec![PollWindow {
                tid: 7,
                from: 1_700_000_000_000_000_000,
                to: 1_700_000_000_000_050_000,
            }],
        };
        let json = serde_json::to_string(&times).unwrap();
        assert_eq!(serde_json::from_str::<PollTimes>(&json).unwrap(), times);
    }
}
