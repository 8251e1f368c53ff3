//! Replay mode: recordings served back to a new build of the service.
//!
//! Being built. [`compare`] decides whether a replayed response deviates
//! from the recorded one; [`matching`] picks the recorded outbound call
//! that answers a live one.

pub mod compare;
pub mod matching;
