//! How closely a recorded call matched a live one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How closely the recorded call that answered a live call matched it.
/// The levels are tried in this order, and the first one at which some
/// recorded call matches decides; `Exact < Redacted < Similar`.
///
/// ```
/// use tracetape::replay::matching::Level;
///
/// assert_eq!(Level::Redacted.to_string(), "redacted");
/// assert!(Level::Exact < Level::Similar);
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
    /// The same method, origin, path and set of query keys, and of those
    /// the recorded call whose body is most like the live one
    /// ([`Similarity`](super::Similarity)).
    Similar,
}

impl Level {
    /// The level's name: `exact`, `redacted` or `similar`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Redacted => "redacted",
            Self::Similar => "similar",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
