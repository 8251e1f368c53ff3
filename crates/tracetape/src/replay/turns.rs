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
//! request is running from the moment one of its steps is taken until
//! none of its futures is being polled (it waits for a call, a timer, a
//! lock) or it waits at its next step; one with a step waiting is taken
//! to be waiting for it (calls made together). A new build does not
//! always take the recorded steps: the steps of a request whose handler
//! has answered are dropped, a step of a request that waits at another
//! of its steps (calls made in another order) holds nobody back, and when
//! nothing has moved for [`PATIENCE`] (a request that never comes, a call
//! never made) the group goes on without them.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
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

/// How long a group may stand still, with a step waiting, before it gives
/// up on the requests that have not come, and then (standing still again)
/// lets the waiting step recorded first go anyway.
const PATIENCE: Duration = Duration::from_millis(500);

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
        let seat = {
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
        Some(seat)
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
        if let Some(mut state) = self.group.lock()
            && let Some(member) = state.members.get_mut(self.member)
        {
            member.polling += 1;
        }
        Polling { seat: self }
    }

    /// The request's handler has answered (or was dropped): its steps not
    /// taken yet are dropped.
    pub(crate) fn answered(&self) {
        self.group.update(|state| state.answered(self.member));
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
    /// Wakes its steps that wait, when one of them may have its turn.
    moved: Arc<Notify>,
    /// How many of its steps wait now.
    waiting: usize,
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

    /// Whether it holds back the steps of the others: it runs and does not
    /// wait at a step (`waits`).
    fn holds_back(&self, waits: bool) -> bool {
        self.runs() && !waits
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
                // The size comes from a header: room for the members
                // that come, not for the number it names.
                members: Vec::new(),
                steps: Vec::new(),
                moved_at: Instant::now(),
            }),
        });
        let watched = Arc::downgrade(&group);
        std::thread::Builder::new()
            .name("tracetape-replay-turns".to_owned())
            .spawn(move || {
                while let Some(group) = watched.upgrade() {
                    if !group.nudge() {
                        break;
                    }
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
        let member = state.add(steps);
        state.moved_at = Instant::now();
        drop(state);
        self.wake();
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
            self.wake();
        }
    }

    /// Changes the state, and wakes whoever may go now.
    fn update(&self, change: impl FnOnce(&mut State)) {
        if let Some(mut state) = self.lock() {
            change(&mut state);
            state.moved_at = Instant::now();
        }
        self.wake();
    }

    /// Wakes the members with a step that may go now (see
    /// [`State::to_wake`]): one, usually, rather than the whole group, so
    /// that a step costs the same in a group of 200 as in a group of 2.
    fn wake(&self) {
        let to_wake = self.lock().map(|state| state.to_wake()).unwrap_or_default();
        for moved in to_wake {
            moved.notify_waiters();
        }
    }

    /// Waits until `step` of `member` has its turn; at once for a step
    /// that is not planned (a call not recorded, or answered twice).
    async fn wait(&self, member: usize, step: Step) {
        let Some(moved) = self.lock().and_then(|mut state| state.arrive(member, step)) else {
            return;
        };
        self.wake();
        loop {
            let notified = moved.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let gone = self.lock().is_none_or(|mut state| state.go(member, step));
            if gone {
                break;
            }
            notified.await;
        }
        self.update(|state| state.left(member));
    }

    /// Lets the first waiting step go when the group has stood still for
    /// [`PATIENCE`]; wakes the waiters either way (a member may have
    /// answered). False once every request of the group has answered:
    /// there is nothing left to watch.
    fn nudge(&self) -> bool {
        let Some(mut state) = self.lock() else {
            return false;
        };
        if state.complete() && state.members.iter().all(|m| m.answered) {
            return false;
        }
        if state.moved_at.elapsed() >= PATIENCE {
            if !state.complete() {
                // The requests that have not come by now are given up on.
                crate::diag::warn_once(
                    "replay.turns.late_requests",
                    format_args!(
                        "{} of a group of {} overlapping requests had not come after {PATIENCE:?}; \
                         the others went on, and those that come later take turns with them",
                        state.size - state.members.len(),
                        state.size
                    ),
                );
                state.size = state.members.len();
            } else {
                state.force_first_waiting();
            }
            state.moved_at = Instant::now();
        }
        drop(state);
        self.wake();
        true
    }
}

impl State {
    /// Adds a member with its recorded steps; its number. One that comes
    /// after the group gave up on it takes turns with the others all
    /// the same.
    fn add(&mut self, steps: Vec<(u64, Step)>) -> usize {
        let member = self.members.len();
        self.members.push(Member::default());
        self.steps
            .extend(steps.into_iter().map(|(at, step)| Planned {
                at,
                member,
                step,
                taken: false,
                waited: false,
                forced: false,
            }));
        self.steps
            .sort_by_key(|planned| (planned.at, planned.member));
        member
    }

    /// Whether every request the group waits for has come (more may come
    /// after it gave up on them).
    fn complete(&self) -> bool {
        self.members.len() >= self.size
    }

    /// Where `step` of `member` is planned, if it is and has not been
    /// taken (positions change as members come).
    fn position(&self, member: usize, step: Step) -> Option<usize> {
        self.steps
            .iter()
            .position(|p| p.member == member && p.step == step && !p.taken)
    }

    /// `member` has come to `step` and waits there: what wakes it; `None`
    /// when the step is not planned (a call not recorded, or answered
    /// twice), which goes at once.
    fn arrive(&mut self, member: usize, step: Step) -> Option<Arc<Notify>> {
        let planned = self.position(member, step)?;
        if let Some(waiting) = self.steps.get_mut(planned) {
            waiting.waited = true;
        }
        let waiter = self.members.get_mut(member)?;
        // A request whose futures are not all counted (a task spawned
        // without its context) stops running when it waits.
        waiter.released = false;
        waiter.waiting += 1;
        Some(Arc::clone(&waiter.moved))
    }

    /// A step of `member` that waited has gone.
    fn left(&mut self, member: usize) {
        if let Some(waiter) = self.members.get_mut(member) {
            waiter.waiting = waiter.waiting.saturating_sub(1);
        }
    }

    /// What wakes the members whose waiting steps may go now, as
    /// [`go`](Self::go) decides: the step whose [`turn`](Self::turn) it
    /// is, one let go out of turn, and the steps of a member whose steps
    /// were dropped (it has answered).
    fn to_wake(&self) -> Vec<Arc<Notify>> {
        let waiting = self.waiting_members();
        let mut wake = vec![false; self.members.len()];
        let forced = self
            .steps
            .iter()
            .filter(|p| p.waited && !p.taken && p.forced);
        let turn = self.turn(&waiting).and_then(|index| self.steps.get(index));
        for planned in forced.chain(turn.filter(|p| p.waited)) {
            if let Some(wake) = wake.get_mut(planned.member) {
                *wake = true;
            }
        }
        (self.members.iter().zip(wake.iter().zip(&waiting)))
            .filter(|(member, (wake, waits))| member.waiting > 0 && (**wake || !**waits))
            .map(|(member, _)| Arc::clone(&member.moved))
            .collect()
    }

    /// Which members [`wait`](Self::waits) at one of their steps, in one
    /// pass over the steps.
    fn waiting_members(&self) -> Vec<bool> {
        let mut waiting = vec![false; self.members.len()];
        for planned in self.steps.iter().filter(|p| p.waited && !p.taken) {
            if let Some(waits) = waiting.get_mut(planned.member) {
                *waits = true;
            }
        }
        waiting
    }

    /// The step whose turn it is, by its position: the first step not
    /// taken that nothing [blocks](Self::blocked), once every request of
    /// the group has come, when no other member [holds it
    /// back](Member::holds_back). `waiting` is
    /// [`waiting_members`](Self::waiting_members).
    fn turn(&self, waiting: &[bool]) -> Option<usize> {
        if !self.complete() {
            return None;
        }
        let waits = |member: usize| waiting.get(member).copied().unwrap_or(false);
        let index = self
            .steps
            .iter()
            .position(|p| !p.taken && !self.blocked(p, waits(p.member)))?;
        let member = self.steps.get(index)?.member;
        (self.members.iter().enumerate())
            .all(|(other, m)| other == member || !m.holds_back(waits(other)))
            .then_some(index)
    }

    /// `member`'s handler has answered: its steps will not come.
    fn answered(&mut self, member: usize) {
        if let Some(answered) = self.members.get_mut(member) {
            answered.answered = true;
        }
        for planned in &mut self.steps {
            if planned.member == member {
                planned.taken = true;
            }
        }
    }

    /// Whether `member` waits at one of its steps: then it is not running
    /// (a poll of it under way is that wait being looked at, or a call
    /// made together with the one it waits for).
    fn waits(&self, member: usize) -> bool {
        self.steps
            .iter()
            .any(|p| p.member == member && p.waited && !p.taken)
    }

    /// Whether `planned` cannot come before its member's other steps: the
    /// member waits at another one (`waits`) and none of its futures is
    /// being polled (a build that makes its calls in another order than
    /// recorded). It does not hold back the steps after it.
    fn blocked(&self, planned: &Planned, waits: bool) -> bool {
        !planned.waited
            && waits
            && (self.members.get(planned.member)).is_some_and(|m| !m.released && m.polling == 0)
    }

    /// Whether `member` holds back the steps of the others
    /// ([`Member::holds_back`]).
    fn holds_back(&self, member: usize) -> bool {
        (self.members.get(member)).is_some_and(|m| m.holds_back(self.waits(member)))
    }

    /// Whether `step` of `member` goes now: it was dropped, let
    /// go out of turn, or it is the first step not taken, every request
    /// has come and no other is running. A step that goes is taken and
    /// its member runs (until its futures have all stopped).
    fn go(&mut self, member: usize, step: Step) -> bool {
        let Some(index) = self.position(member, step) else {
            return true;
        };
        let Some(planned) = self.steps.get(index) else {
            return true;
        };
        let turn = planned.forced || self.turn(&self.waiting_members()) == Some(index);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A group of `size` whose first `came` requests have come, with the
    /// steps `(at, member, step)`.
    fn group(size: usize, came: usize, steps: &[(u64, usize, Step)]) -> State {
        let mut state = State {
            size,
            members: Vec::new(),
            steps: Vec::new(),
            moved_at: Instant::now(),
        };
        for member in 0..came {
            let own = (steps.iter())
                .filter(|&&(_, of, _)| of == member)
                .map(|&(at, _, step)| (at, step));
            assert_eq!(state.add(own.collect()), member);
        }
        state
    }

    /// Member `member`'s futures have all stopped being polled.
    fn idle(state: &mut State, member: usize) {
        state.members[member].released = false;
        state.members[member].polling = 0;
    }

    #[test]
    fn steps_go_in_recorded_order_one_request_running_at_a_time() {
        use Step::{Answer, Start};
        let mut state = group(
            2,
            2,
            &[
                (1, 0, Start),
                (2, 1, Start),
                (3, 0, Answer(0)),
                (4, 1, Answer(0)),
            ],
        );
        assert!(state.arrive(1, Start).is_some() && state.arrive(0, Start).is_some());
        assert!(!state.go(1, Start), "0 started first");
        assert!(state.go(0, Start));
        assert!(!state.go(1, Start), "0 runs");
        // 0 calls out and waits for its answer: 1 may start.
        assert!(state.arrive(0, Answer(0)).is_some());
        assert!(!state.go(0, Answer(0)), "1 started before 0 was answered");
        assert!(state.go(1, Start));
        assert!(state.arrive(1, Answer(0)).is_some());
        assert!(!state.go(1, Answer(0)));
        assert!(state.go(0, Answer(0)));
        // 0 runs on after its answer, until its futures all wait.
        assert!(!state.go(1, Answer(0)));
        state.members[0].polling = 1;
        idle(&mut state, 0);
        assert!(state.go(1, Answer(0)));
    }

    #[test]
    fn nothing_goes_before_every_request_has_come_unless_given_up_on() {
        use Step::Start;
        let mut state = group(3, 2, &[(1, 0, Start), (2, 1, Start)]);
        assert!(state.arrive(0, Start).is_some());
        assert!(!state.go(0, Start), "one request is still to come");
        state.size = 2;
        assert!(state.go(0, Start));
    }

    #[test]
    fn a_request_that_comes_after_the_group_gave_up_on_it_takes_turns() {
        use Step::{Answer, Start};
        let mut state = group(3, 2, &[(1, 0, Start), (4, 0, Answer(0)), (3, 1, Start)]);
        assert!(state.arrive(0, Start).is_some() && state.arrive(1, Start).is_some());
        // The watch gave up on the third request: the two that came go.
        state.size = 2;
        assert!(state.go(0, Start));
        assert!(state.arrive(0, Answer(0)).is_some());
        idle(&mut state, 0);
        // The third comes late (a connection retried): it was recorded
        // starting before 1, so it goes first, then 1, then 0's answer,
        // each in its turn rather than one per nudge of the watch.
        let late = state.add(vec![(2, Start)]);
        assert_eq!(late, 2);
        assert!(state.arrive(late, Start).is_some());
        assert!(!state.go(1, Start), "the late request started first");
        assert!(state.go(late, Start));
        state.answered(late);
        assert!(state.go(1, Start));
        state.answered(1);
        assert!(state.go(0, Answer(0)));
    }

    #[test]
    fn steps_of_a_request_that_has_answered_or_is_not_planned_hold_nobody_back() {
        use Step::{Answer, Start};
        let mut state = group(2, 2, &[(1, 0, Start), (2, 0, Answer(0)), (3, 1, Start)]);
        assert!(state.arrive(0, Start).is_some() && state.go(0, Start));
        // 0 answered without making its call.
        state.answered(0);
        assert!(state.arrive(1, Start).is_some() && state.go(1, Start));
        // A call that was not recorded (or is answered a second time)
        // does not wait.
        assert!(state.arrive(1, Answer(7)).is_none());
        assert!(state.go(1, Answer(7)));
    }

    #[test]
    fn a_request_making_its_calls_in_another_order_is_not_held_back_by_itself() {
        use Step::{Answer, Start};
        let mut state = group(
            2,
            2,
            &[
                (1, 0, Start),
                (2, 0, Answer(1)),
                (3, 0, Answer(0)),
                (4, 1, Start),
            ],
        );
        assert!(state.arrive(0, Start).is_some() && state.go(0, Start));
        // 0 calls 0 first, recorded as answered after 1, which 0 makes
        // only once 0 is answered.
        assert!(state.arrive(0, Answer(0)).is_some());
        state.members[0].polling = 1;
        assert!(!state.go(0, Answer(0)), "0 is still being polled");
        idle(&mut state, 0);
        assert!(state.go(0, Answer(0)));
        assert!(state.arrive(1, Start).is_some());
        assert!(!state.go(1, Start), "0 runs");
        assert!(state.arrive(0, Answer(1)).is_some() && state.go(0, Answer(1)));
    }

    #[test]
    fn the_watch_lets_the_first_waiting_step_go() {
        use Step::{Answer, Start};
        let mut state = group(2, 2, &[(1, 0, Start), (2, 0, Answer(0)), (3, 1, Start)]);
        assert!(state.arrive(0, Start).is_some() && state.go(0, Start));
        // 0 waits for something that is not a step (a channel fed by 1).
        state.members[0].released = true;
        assert!(state.arrive(1, Start).is_some());
        assert!(!state.go(1, Start));
        state.force_first_waiting();
        assert!(state.go(1, Start));
    }

    #[test]
    fn only_the_member_whose_step_may_go_is_woken() {
        use Step::Start;
        let mut state = group(3, 3, &[(1, 0, Start), (2, 1, Start), (3, 2, Start)]);
        let woken = |state: &State| -> Vec<usize> {
            let wake = state.to_wake();
            (0..state.members.len())
                .filter(|&m| wake.iter().any(|n| Arc::ptr_eq(n, &state.members[m].moved)))
                .collect()
        };
        // All three wait at their starts, recorded 0, 1, 2: only 0 may go.
        for member in [2, 1, 0] {
            assert!(state.arrive(member, Start).is_some());
        }
        assert_eq!(woken(&state), [0]);
        assert!(state.go(0, Start));
        state.left(0);
        // 0 runs: nobody may go.
        assert_eq!(woken(&state), Vec::<usize>::new());
        idle(&mut state, 0);
        assert_eq!(woken(&state), [1]);
        // 2's handler answered while its start waited: its step is
        // dropped, and it is woken to find that out.
        state.answered(2);
        assert_eq!(woken(&state), [1, 2]);
        // A step let go out of turn wakes its member.
        let mut forced = group(2, 2, &[(1, 0, Start), (2, 1, Start)]);
        assert!(forced.arrive(1, Start).is_some());
        assert_eq!(woken(&forced), Vec::<usize>::new());
        forced.force_first_waiting();
        assert_eq!(woken(&forced), [1]);
    }
}
