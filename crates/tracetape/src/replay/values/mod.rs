//! The values of calls and responses as replay reads them, for matching
//! a live call against a recorded one (see the [matching
//! rules](super::matching)) and for judging a replayed response
//! (`tracetape replay`'s comparison, which reads values with the same
//! rules):
//!
//! - [`Dynamic`]: the kinds of value that change from run to run by their
//!   nature (UUIDs, timestamps, dates, epoch times, JWTs), and the instant
//!   a clock value stands for;
//! - [`Jwt`]: a token's decoded header and claims;
//! - [`form_fields`]: the fields of an `application/x-www-form-urlencoded`
//!   body, decoded, in order;
//! - [`push_member`]: a member of a JSON path, written as ignore rules
//!   and [`CallDifference`](super::matching::CallDifference) paths write
//!   it;
//! - [`clip`] (and [`clip_after`]): a value cut for a report, after [`MAX_VALUE_CHARS`]
//!   characters.

mod clip;
mod dynamic;
mod form;
mod jwt;
mod path;

pub use clip::{MAX_VALUE_CHARS, clip, clip_after};
pub use dynamic::Dynamic;
pub(crate) use form::decoded_pairs;
pub use form::form_fields;
pub use jwt::Jwt;
pub use path::push_member;
