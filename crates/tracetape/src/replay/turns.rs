//! Requests that overlapped when recorded, replayed together and taking
//! turns in the order their steps were recorded in.
//!
//! A handler reads and changes the service's state between awaits: when
//! the request comes, and each time one of its outbound calls is
//! answered. Requests that were served at the same time when recorded
//! changed the state in some interleaving of those steps (ten `POST`s
//! numbered by a counter in the order their dependency answered them; a
//! `GET` that listed what the `POST`s that got their answers before it had
//! made). `tracetape replay` sends such requests together, as one
//! [`REPLAY_GROUP_HEADER`] group; here each step of each of them waits
//! for its turn: the step recorded before it has been taken and no other
//! request of the group is running. So the steps run one at a time, in
//! recorded order, and the state each sees is the state it saw when
//! recorded.
//!
//! The steps are the request's start and the answers to the outbound
//! calls it made before its response ended, at their recorded times. A
//! request is running from the moment one of its steps is taken until it
//! waits for its next answer or its handler has answered; one with a
//! call waiting is taken to be waiting for it (calls made together). A
//! new build does not always take the recorded steps: the steps of a
//! request whose handler has answered are dropped, and when nothing has
//! moved for [`PATIENCE`] (a step waits for a request that never comes, or
//! for a call never made) the waiting step recorded first goes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::matching::MockSession;
use crate::record::Recording;

/// The request header `tracetape replay` marks the requests of one group
/// with: `{group}/{size}`, the group's number (unique within the replay)
/// and how many requests it has. The server layer removes it.
pub const REPLAY_GROUP_HEADER: &str = "x-tracetape-replay-group";

/// How long a group may stand still, with a step waiting, before the
/// waiting step recorded first goes anyway.
pub(crate) const PATIENCE: Duration = Duration::from_millis(500);

/// How often a group that waits is looked at.
const TICK: Duration = Duration::from_millis(20);

/// The groups whose requests have not all come yet.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    forming: Mutex<HashMap<u64, Arc<Group>>>,
}

impl Groups {
    /// A seat in the group `header` names (`{group}/{size}`) for the
    /// replay of `recording`, whose calls `session` answers; `None` when
    /// the header cannot be read or names a group of one.
    pub(crate) fn join(
        &self,
        header: &str,
        recording: &Recording,
        session: &MockSession,
    ) -> Option<Seat> {
        let (key, size) = header.trim().split_once('/')?;
        let (key, size) = (key.parse::<u64>().ok()?, size.parse::<usize>().ok()?);
        if size < 2 {
            return None;
        }
        let group = {
            let mut forming = self.forming.lock().ok()?;
            // Groups some of whose requests never came (a replay cut
            // short) are forgotten.
            forming.retain(|_, group| !group.stale());
            let group = match forming.get(&key) {
                Some(group) => Arc::clone(group),
                None => {
                    let group = Group::start(size)?;
                    forming.insert(key, Arc::clone(&group));
                    group
                }
            };
            let member = group.add(steps(recording, session));
            if member + 1 >= size {
                forming.remove(&key);
            }
            Seat { group, member }
        };
        Some(group)
    }
}

/// When each step of `recording` was taken: its start, and the end of
/// each call answered before its response ended (by the call's index in
/// `session`).
fn steps(recording: &Recording, session: &MockSession) -> Vec<(u64, Step)> {
    let Some(inbound) = recording.inbound() else {
        return Vec::new();
    };
    let end = inbound.end_unix_nanos.max(inbound.start_unix_nanos);
    let answers = (0..session.len()).filter_map(|index| {
        let call = session.recorded(index)?;
        (call.end_unix_nanos <= end && call.end_unix_nanos >= call.start_unix_nanos)
            .then_some((call.end_unix_nanos, Step::Answer(index)))
    });
    std::iter::once((inbound.start_unix_nanos, Step::Start))
        .chain(answers)
        .collect()
}

/// One request's place in its group.
#[derive(Debug, Clone)]
pub(crate) struct Seat {
    group: Arc<Group>,
    member: usize,
}

impl Seat {
    /// Waits for the request's start to have its turn.
    pub(crate) async fn start(&self) {
        self.group.wait(self.member, Step::Start).await;
    }

    /// Waits for the answer to recorded call `index` to have its turn.
    pub(crate) async fn answer(&self, index: usize) {
        self.group.wait(self.member, Step::Answer(index)).await;
    }

    /// One of the request's futures is being polled, until the guard
    /// returned is dropped.
    pub(crate) fn polling(&self) -> Polling<'_> {
        if let Some(mut state) = self.group.lock() {
            if let Some(member) = state.members.get_mut(self.member) {
                member.polling += 1;
            }
        }
        Polling { seat: self }
    }

    /// The request's handler has answered (or was dropped): its steps not
    /// taken yet are dropped.
    pub(crate) fn answered(&self) {
        self.group.update(|state| {
            if let Some(member) = state.members.get_mut(self.member) {
                member.answered = true;
            }
        });
    }
}

/// A poll of one of a request's futures, under way.
pub(crate) struct Polling<'a> {
    seat: &'a Seat,
}

impl Drop for Polling<'_> {
    /// The poll has ended: the request stops running when no other of its
    /// futures is being polled, and whoever waits for that is woken.
    fn drop(&mut self) {
        self.seat.group.poll_ended(self.seat.member);
    }
}

/// The server layer's side of a seat: holds the request back until its
/// start has its turn, and tells the group its handler has answered when
/// dropped (with the handler's future, whether it completed or not).
pub(crate) struct Handling {
    seat: Seat,
    start: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl fmt::Debug for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handling")
            .field("member", &self.seat.member)
            .field("started", &self.start.is_none())
            .finish()
    }
}

impl Handling {
    pub(crate) fn new(seat: Seat) -> Self {
        let waiting = seat.clone();
        Self {
            seat,
            start: Some(Box::pin(async move { waiting.start().await })),
        }
    }

    /// A poll of the handler, under way until the guard is dropped.
    pub(crate) fn polling(&self) -> Polling<'_> {
        self.seat.polling()
    }

    /// Ready once the request's start has had its turn.
    pub(crate) fn poll_start(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if let Some(start) = self.start.as_mut() {
            ready!(start.as_mut().poll(cx));
            self.start = None;
        }
        Poll::Ready(())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.seat.answered();
    }
}

/// A step of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The request comes to its handler.
    Start,
    /// The recorded call with this index is answered.
    Answer(usize),
}

#[derive(Debug)]
struct Group {
    state: Mutex<State>,
    moved: Notify,
    /// The group's watch has stopped (every request has answered).
    over: AtomicBool,
}

#[derive(Debug)]
struct State {
    size: usize,
    members: Vec<Member>,
    /// Every member's steps, by recorded time (then member, then order).
    steps: Vec<Planned>,
    /// When something last moved.
    moved_at: Instant,
}

#[derive(Debug, Default)]
struct Member {
    /// Took a step, and none of its futures has finished a poll since.
    released: bool,
    /// How many of its futures (its handler's, the tasks spawned in its
    /// context) are being polled.
    polling: usize,
    /// Its handler has answered.
    answered: bool,
}

impl Member {
    /// Running: it took a step and has not stopped since, or one of its
    /// futures is being polled. One whose futures all wait (for a call,
    /// a timer, a lock) is not.
    fn runs(&self) -> bool {
        !self.answered && (self.released || self.polling > 0)
    }
}

#[derive(Debug)]
struct Planned {
    at: u64,
    member: usize,
    step: Step,
    /// Taken (or dropped): it no longer holds anyone back.
    taken: bool,
    /// The request waits at it.
    waited: bool,
    /// Let go by the watch, out of turn.
    forced: bool,
}

impl Group {
    /// A group of `size` requests, with the thread that keeps it moving
    /// when it stands still; `None` when that thread cannot start (then
    /// its requests take no turns).
    fn start(size: usize) -> Option<Arc<Self>> {
        let group = Arc::new(Self {
            state: Mutex::new(State {
                size,
                members: Vec::with_capacity(size),
                steps: Vec::new(),
                moved_at: Instant::now(),
            }),
            moved: Notify::new(),
            over: AtomicBool::new(false),
        });
        let watched = Arc::downgrade(&group);
        std::thread::Builder::new()
            .name("tracetape-replay-turns".to_owned())
            .spawn(move || {
                while let Some(group) = watched.upgrade() {
                    if group.over.load(Ordering::Relaxed) {
                        break;
                    }
                    group.nudge();
                    drop(group);
                    std::thread::sleep(TICK);
                }
            })
            .ok()?;
        Some(group)
    }

    /// Nothing has moved for ten times [`PATIENCE`].
    fn stale(&self) -> bool {
        self.lock()
            .is_none_or(|state| state.moved_at.elapsed() >= 10 * PATIENCE)
    }

    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }

    /// Adds a member with its recorded steps; its number.
    fn add(&self, steps: Vec<(u64, Step)>) -> usize {
        let Some(mut state) = self.lock() else {
            return 0;
        };
        let member = state.members.len();
        state.members.push(Member::default());
        state
            .steps
            .extend(steps.into_iter().map(|(at, step)| Planned {
                at,
                member,
                step,
                taken: false,
                waited: false,
                forced: false,
            }));
        state
            .steps
            .sort_by_key(|planned| (planned.at, planned.member));
        state.moved_at = Instant::now();
        drop(state);
        self.moved.notify_waiters();
        member
    }

    /// A poll of one of `member`'s futures has ended. Those waiting are
    /// woken only when that stops the member running, so that waiting
    /// steps looking at the state do not wake each other for ever.
    fn poll_ended(&self, member: usize) {
        let stopped = self.lock().is_some_and(|mut state| {
            let before = state.holds_back(member);
            if let Some(ended) = state.members.get_mut(member) {
                ended.polling = ended.polling.saturating_sub(1);
                if ended.polling == 0 {
                    ended.released = false;
                }
            }
            before && !state.holds_back(member)
        });
        if stopped {
            self.moved.notify_waiters();
        }
    }

    /// Changes the state, and wakes whoever waits.
    fn update(&self, change: impl FnOnce(&mut State)) {
        if let Some(mut state) = self.lock() {
            change(&mut state);
            state.moved_at = Instant::now();
            if state.members.len() == state.size && state.members.iter().all(|m| m.answered) {
                self.over.store(true, Ordering::Relaxed);
            }
        }
        self.moved.notify_waiters();
    }

    /// Waits until `step` of `member` has its turn; at once for a step
    /// that is not planned (a call not recorded, or answered twice).
    async fn wait(&self, member: usize, step: Step) {
        let Some(()) = self.lock().and_then(|mut state| {
            let planned = state.position(member, step)?;
            if let Some(waiter) = state.steps.get_mut(planned) {
                waiter.waited = true;
            }
            // A request whose futures are not all counted (a task spawned
            // without its context) stops running when it waits.
            if let Some(waiter) = state.members.get_mut(member) {
                waiter.released = false;
            }
            Some(())
        }) else {
            return;
        };
        self.moved.notify_waiters();
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            let gone = self.lock().is_none_or(|mut state| state.go(member, step));
            if gone {
                break;
            }
            moved.await;
        }
        self.update(|_| {});
    }

    /// Lets the first waiting step go when the group has stood still for
    /// [`PATIENCE`]; wakes the waiters either way (a member may have
    /// answered).
    fn nudge(&self) {
        if let Some(mut state) = self.lock() {
            if state.moved_at.elapsed() >= PATIENCE {
                if state.members.len() < state.size {
                    // The requests that have not come by now are given up on.
                    state.size = state.members.len();
                } else {
                    state.force_first_waiting();
                }
                state.moved_at = Instant::now();
            }
        }
        self.moved.notify_waiters();
    }
}

impl State {
    /// Where `step` of `member` is planned, if it is and has not been
    /// taken (positions change as members come).
    fn position(&self, member: usize, step: Step) -> Option<usize> {
        self.steps
            .iter()
            .position(|p| p.member == member && p.step == step && !p.taken)
    }

    /// Whether `member` waits at one of its steps: then it is not running
    /// (a poll of it under way is that wait being looked at, or a call
    /// made together with the one it waits for).
    fn waits(&self, member: usize) -> bool {
        self.steps
            .iter()
            .any(|p| p.member == member && p.waited && !p.taken)
    }

    /// Whether `member` holds back the steps of the others: it runs and
    /// does not wait at a step.
    fn holds_back(&self, member: usize) -> bool {
        self.members.get(member).is_some_and(Member::runs) && !self.waits(member)
    }

    /// Whether `step` of `member` goes now: it was dropped, let
    /// go out of turn, or it is the first step not taken, every request
    /// has come and no other is running. A step that goes is taken and
    /// its member runs (until its futures have all stopped).
    fn go(&mut self, member: usize, step: Step) -> bool {
        // The steps of members that have answered will not come.
        for planned in &mut self.steps {
            if !planned.taken
                && (self.members.get(planned.member)).is_some_and(|member| member.answered)
            {
                planned.taken = true;
            }
        }
        let Some(index) = self.position(member, step) else {
            return true;
        };
        let Some(planned) = self.steps.get(index) else {
            return true;
        };
        let turn = planned.forced
            || (self.members.len() == self.size
                && self.steps.iter().position(|p| !p.taken) == Some(index)
                && (0..self.members.len()).all(|other| other == member || !self.holds_back(other)));
        if !turn {
            return false;
        }
        if let Some(planned) = self.steps.get_mut(index) {
            planned.taken = true;
        }
        if let Some(runner) = self.members.get_mut(member) {
            runner.released = true;
        }
        true
    }

    /// Marks the waiting step recorded first to go out of turn.
    fn force_first_waiting(&mut self) {
        if let Some(planned) = (self.steps.iter_mut()).find(|p| p.waited && !p.taken && !p.forced) {
            planned.forced = true;
        }
    }
}
