//! Replay mode: recordings served back to a new build of the service.
//!
//! Being built. [`compare`] decides whether a replayed response deviates
//! from the recorded one; [`matching`] picks the recorded outbound call
//! that answers a live one; [`ReplayId`] names the recording a replayed
//! request comes from.

pub mod compare;
mod id;
pub mod matching;

pub use id::{ParseReplayIdError, REPLAY_HEADER, REPLAY_LOG_HEADER, ReplayId};
