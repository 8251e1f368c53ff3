//! How a live call answered at the [`Similar`](super::Level::Similar)
//! level differs from the recorded call that answered it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::replay::values::clip;

/// Differences kept per call; the first ones, in the order path, query,
/// body.
pub const MAX_DIFFERENCES: usize = 16;

/// The part of a call a [`CallDifference`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CallPart {
    /// A segment of the URL's path.
    Path,
    /// A header chosen for matching.
    Header,
    /// A query parameter.
    Query,
    /// The request body.
    Body,
}

impl CallPart {
    /// `path`, `header`, `query` or `body`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Header => "header",
            Self::Query => "query",
            Self::Body => "body",
        }
    }
}

/// One way a live call differs from the recorded call that answered it.
///
/// ```
/// use tracetape::replay::matching::{CallDifference, CallPart};
///
/// let difference = CallDifference::new(CallPart::Body, "$.qty", Some("2"), Some("3"));
/// assert_eq!(difference.to_string(), "body $.qty: expected 2, actual 3");
/// let dropped = CallDifference::new(CallPart::Query, "warehouse", Some("north"), None);
/// assert_eq!(dropped.to_string(), "query warehouse: missing (expected north)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CallDifference {
    /// Which part of the call.
    pub part: CallPart,
    /// Where in it: the path segment's position (`2` for the second), the
    /// header's name, the query key, the body's JSON path (`$.items[0].sku`; a form field as
    /// `$.field`), or `bytes` for a body compared as bytes.
    pub at: String,
    /// The recorded value (compact JSON for JSON values, text otherwise,
    /// cut after 200 characters); `None` when only the live call has it.
    pub expected: Option<String>,
    /// The live value; `None` when only the recorded call has it.
    pub actual: Option<String>,
}

impl CallDifference {
    /// A difference at `at` in `part`, the values cut after 200
    /// characters.
    pub fn new(
        part: CallPart,
        at: impl Into<String>,
        expected: Option<&str>,
        actual: Option<&str>,
    ) -> Self {
        Self {
            part,
            at: at.into(),
            expected: expected.map(clip),
            actual: actual.map(clip),
        }
    }
}

impl fmt::Display for CallDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.part.as_str(), self.at)?;
        match (&self.expected, &self.actual) {
            (Some(expected), Some(actual)) => write!(f, "expected {expected}, actual {actual}"),
            (Some(expected), None) => write!(f, "missing (expected {expected})"),
            (None, Some(actual)) => write!(f, "unexpected {actual}"),
            (None, None) => f.write_str("differs"),
        }
    }
}
