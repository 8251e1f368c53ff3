//! How closely a recorded call matched a live one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How closely the recorded call that answered a live call matched it.
/// The levels are tried in this order, and the first one at which some
/// recorded call matches decides; `Exact < Redacted < Dynamic < Similar`.
/// A call answered at [`Similar`](Self::Similar) is not the recorded
/// call: the replay reports how it differs, as a deviation.
///
/// ```
/// use tracetape::replay::matching::Level;
///
/// assert_eq!(Level::Redacted.to_string(), "redacted");
/// assert!(Level::Exact < Level::Dynamic && Level::Dynamic < Level::Similar);
/// assert!(Level::Dynamic.is_same_call() && !Level::Similar.is_same_call());
/// assert_eq!(serde_json::to_string(&Level::Similar)?, r#""similar""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Level {
    /// The same method, the same normalised URL (scheme and host in lower
    /// case, no default port, no fragment, query pairs in any order) and
    /// the same body (decoded; JSON compared as values, key order
    /// ignored). Headers are never compared.
    Exact,
    /// As [`Exact`](Self::Exact), except that each recorded query value
    /// or JSON string that redaction wrote (`REDACTED…`, a mask of `*`),
    /// and a body redaction withheld, stands for whatever the live call
    /// has in its place.
    Redacted,
    /// The same call but for its run-to-run values: as
    /// [`Redacted`](Self::Redacted), except that in path segments, query
    /// values and body values (JSON leaves, form fields, the words of a
    /// text body) a recorded UUID, RFC 3339 timestamp, epoch in seconds or
    /// milliseconds, JWT, nonce or signature (16 or more hex digits), or
    /// token (20 or more base64 characters) stands for a live value of the
    /// same kind. Dates and every other value must be equal, and so must
    /// a number's type (`2` is not `2.0`). In the background session, a
    /// value that already differs among the recorded calls to the same
    /// endpoint (a periodic job's sequence number) may differ too.
    Dynamic,
    /// Not the same call: the same method and origin, a path with as
    /// many segments and the same words in it, and of the recorded calls
    /// not yet used, the one most like the live call (path segments,
    /// query pairs and body values counted alike as at
    /// [`Dynamic`](Self::Dynamic); [`Similarity`](super::Similarity)). A
    /// recorded call answers here at most once.
    Similar,
}

impl Level {
    /// The level's name: `exact`, `redacted`, `dynamic` or `similar`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Redacted => "redacted",
            Self::Dynamic => "dynamic",
            Self::Similar => "similar",
        }
    }

    /// Whether a call answered at this level is the recorded call (but
    /// for run-to-run and redacted values); below it, at
    /// [`Similar`](Self::Similar), the call deviates from the recording.
    pub fn is_same_call(&self) -> bool {
        *self != Self::Similar
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
