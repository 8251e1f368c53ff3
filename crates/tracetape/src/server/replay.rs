//! Replay mode in the server layer: a request sent again by `tracetape
//! replay` runs with its recording's calls in its context, on the
//! recorded clock when the replay controls it, and its response carries
//! the replay log; a request for the replay's status is answered by the
//! layer itself.

use std::task::{Context as TaskContext, Poll, ready};

use http::{HeaderMap, Response};
use http_body::Body;
use opentelemetry::Context;

use super::body::Inner;
use super::config::Config;
use super::mode::{Mode, Untraced};
use super::record_replay::ModeHeld;
use crate::body::ModeResponseBody;
use crate::record::MaybeTee;
use crate::replay::{Begun, ClockShift, Handling, PollClock, REPLAY_LOG_HEADER, ReplayScope};

/// Replay mode's decision: `None` for a request that is not replayed
/// (or when replay mode is off). The header naming the recording is
/// taken out of `headers`.
pub(crate) fn decide(config: &Config, headers: &mut HeaderMap) -> Option<Result<Mode, Untraced>> {
    let begun = match &config.modes.replayer {
        Some(replayer) => replayer.begin(headers),
        None => crate::replay::global().and_then(|replayer| replayer.begin(headers)),
    };
    match begun? {
        Begun::Status(status) => Some(Err(Untraced::ReplayStatus(status))),
        Begun::Replay(scope) => Some(Ok(Mode::Replay(scope))),
    }
}

/// Begins the replayed request of `scope` whose SERVER span has the
/// context `cx`: the context with the scope in it and, when the replay
/// controls the clock, the recorded request's wall clock from the moment
/// the request came.
pub(crate) fn begin(cx: Context, scope: ReplayScope) -> (Context, ModeHeld) {
    let cx = cx.with_value(scope.clone());
    let shift = scope.recorded_start().and_then(ClockShift::begin);
    let cx = match shift {
        Some(shift) => cx.with_value(shift),
        None => cx,
    };
    let held = Held {
        // A request replayed together with others takes turns with them.
        turns: scope.seat().cloned().map(Handling::new),
        // The handler is timed when the replay detects connections
        // bypassing tracetape, and runs on the recorded clock when the
        // replay controls it, from the call on.
        polls: PollClock::start(shift),
        scope: Some(scope),
    };
    (cx, ModeHeld::Replaying(held))
}

/// What a replayed request holds until its response: its scope, whose
/// log the response carries, its handler's poll times, and its turns
/// (dropped when the handler has answered).
#[derive(Debug)]
pub(crate) struct Held {
    scope: Option<ReplayScope>,
    polls: Option<PollClock>,
    turns: Option<Handling>,
}

impl Held {
    pub(crate) fn call<R>(&mut self, call: impl FnOnce() -> R) -> R {
        PollClock::time(self.polls.as_mut(), call)
    }

    /// Ready once the request's start has had its turn.
    pub(crate) fn poll_start(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if let Some(turns) = self.turns.as_mut() {
            ready!(turns.poll_start(cx));
        }
        Poll::Ready(())
    }

    pub(crate) fn poll<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        let _polling = self.turns.as_ref().map(Handling::polling);
        PollClock::time(self.polls.as_mut(), poll)
    }

    pub(crate) fn answered(&mut self) {
        self.turns = None;
    }

    /// The replay log: how the request's calls were answered, and when
    /// its handler was polled.
    pub(crate) fn head(&mut self, headers: &mut HeaderMap) {
        let times = self.polls.as_ref().and_then(PollClock::times);
        if let Some(log) = self.scope.take().and_then(|scope| scope.log_header(times)) {
            headers.insert(REPLAY_LOG_HEADER, log);
        }
    }

    /// A streamed body is polled on the recorded clock too.
    pub(crate) fn body<B: Body>(&mut self, response: Response<B>) -> Response<Inner<B>> {
        match self.polls.as_ref().and_then(PollClock::shift) {
            Some(shift) => response.map(|body| Inner::Mode {
                inner: ModeResponseBody::new(MaybeTee::passthrough(body), Some(shift)),
            }),
            None => response.map(|inner| Inner::Passed { inner }),
        }
    }
}
