//! Replay mode: recordings served back to a new build of the service.
//!
//! With `TRACETAPE_MODE=replay`, [`tracetape::init`](crate::init) loads a
//! [`Replayer`] from the recordings directory. The `tracetape replay`
//! command sends each recorded inbound request again, marked with the
//! [`REPLAY_HEADER`] naming its recording ([`ReplayId`]); the server layer
//! removes the header and puts the recording's [`MockSession`](matching::MockSession)
//! in the request's context, and every outbound call made while serving
//! it, through either client integration, is answered from the recording
//! by [`matching`], never from the network. Calls made outside any
//! replayed request are answered from the background recordings. The
//! response carries [`REPLAY_LOG_HEADER`]: how each call was answered, and
//! which recorded calls went unused (and, when the replay detects
//! connections bypassing tracetape, when the handler ran: [`PollTimes`]).
//! With the clock file `tracetape replay` names in `TRACETAPE_REPLAY_CLOCK`
//! (and its preload library), the wall clock of the thread polling a
//! replayed request's handler reads the request's recorded time.
//! `tracetape replay` then decides whether the response deviates from
//! the recorded one, reading run-to-run values with the same rules as
//! matching ([`values`]). Before it stops the service, it asks for the
//! [`ReplayStatus`]: the calls made outside the replayed requests, and
//! those the requests' work made after their responses.

mod body;
mod clock;
mod global;
mod id;
#[cfg(all(test, feature = "axum", feature = "reqwest"))]
mod layer_tests;
mod log;
pub mod matching;
mod polls;
mod replayer;
mod scope;
mod status;
#[cfg(all(test, feature = "axum"))]
mod streaming_tests;
mod task;
#[cfg(all(test, feature = "axum", feature = "reqwest"))]
mod turn_tests;
mod turns;
pub mod values;

pub(crate) use body::ReplayedBody;
pub(crate) use clock::ClockShift;
pub(crate) use global::{
    forget_ended, global, install as install_global, refuse, uninstall as uninstall_global,
};
pub use id::{ParseReplayIdError, REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId};
pub use log::{LoggedCall, LoggedUnused, ReplayLog};
pub use matching::normal_origin;
pub(crate) use polls::PollClock;
pub use polls::{PollTimes, PollWindow};
pub use replayer::{LoadReplayError, MATCH_HEADERS_VARIABLE, ORIGINS_VARIABLE, Replayer};
pub use scope::ReplayError;
pub(crate) use scope::{Begun, ReplayScope, response_parts};
pub(crate) use status::Late;
pub use status::{REPLAY_STATUS, REPLAY_STATUS_HEADER, ReplayStatus};
pub(crate) use task::{ReplayTask, timed};
pub(crate) use turns::Handling;
pub use turns::REPLAY_GROUP_HEADER;
