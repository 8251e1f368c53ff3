//! What a comparison reports: the deviations, each with where it is, both
//! values, and what to do about it.

use std::fmt;

use serde::Serialize;
pub use tracetape::replay::values::MAX_VALUE_CHARS;
use tracetape::replay::values::{clip, clip_after};

/// Deviations a [`Comparison`] lists at most; the others are counted in
/// [`Comparison::omitted`], so that a body that differs everywhere makes
/// a report of bounded size.
pub const MAX_DEVIATIONS: usize = 100;

/// A [`Deviation::path`] is cut after this many characters (with `…`).
pub const MAX_PATH_CHARS: usize = 1024;

/// The outcome of comparing a replayed response with the recorded one.
///
/// ```
/// use tracetape_compare::Comparison;
///
/// let comparison = Comparison::default();
/// assert!(comparison.is_match());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Comparison {
    /// Every deviation: the status first, then the headers in the order
    /// the options name them, then the body in document order (a JSON
    /// object's recorded members in their order, then the new members).
    /// At most [`MAX_DEVIATIONS`].
    pub deviations: Vec<Deviation>,
    /// Deviations past [`MAX_DEVIATIONS`], counted and not listed.
    pub omitted: usize,
}

impl Comparison {
    /// `deviations`, the first [`MAX_DEVIATIONS`] listed and the rest
    /// counted.
    pub(crate) fn of(mut deviations: Vec<Deviation>) -> Self {
        let omitted = deviations.len().saturating_sub(MAX_DEVIATIONS);
        deviations.truncate(MAX_DEVIATIONS);
        Self {
            deviations,
            omitted,
        }
    }

    /// Whether the new response matches the recorded one: no deviation.
    pub fn is_match(&self) -> bool {
        self.deviations.is_empty()
    }
}

/// Which part of the response deviates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeviationKind {
    /// The status code.
    Status,
    /// One of the compared headers ([`Deviation::header`] names it).
    Header,
    /// The body ([`Deviation::path`] says where, for bodies compared as
    /// JSON: JSON, NDJSON, event streams, forms).
    Body,
}

/// How the new value differs from the recorded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Change {
    /// Another value (of the same JSON type, for JSON bodies).
    Changed,
    /// Recorded, but not in the new response.
    Missing,
    /// In the new response, but not recorded.
    Unexpected,
    /// A JSON value of another type (a number now a string, an integer
    /// now a float), or a body or a stream's record that was JSON and is
    /// not (or the other way round).
    TypeChanged,
    /// A JSON array with another number of elements, or a stream with
    /// another number of lines or events; the elements both have are
    /// still compared, each with deviations of its own.
    ArrayLength,
}

/// One difference between the recorded response and the new one.
///
/// Its [`Display`](fmt::Display) is one line naming the part, the place
/// and the change, such as `body $.order.total: expected 12.5, actual 13`;
/// [`detail`](Self::detail) and [`suggestion`](Self::suggestion) are for
/// the lines below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Deviation {
    /// Which part of the response.
    pub kind: DeviationKind,
    /// How it differs.
    pub change: Change,
    /// For bodies compared as JSON (JSON, NDJSON, event streams, forms),
    /// where: a JSON path from the document's root (a stream's records
    /// are the elements of an array, `$[2].total`), such
    /// as `$.order.total`, `$.items[0].sku` or `$['odd key']`; cut after
    /// [`MAX_PATH_CHARS`] characters (ending in `…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For headers, the header's name, lower-case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// One line saying what differs (`expected 12.5, actual 13`).
    pub message: String,
    /// The recorded value: compact JSON for JSON bodies, text for headers
    /// and text bodies, a size for binary bodies; cut after
    /// [`MAX_VALUE_CHARS`] characters. `None` when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The new value, as [`expected`](Self::expected). `None` when there
    /// is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// More lines when one is not enough: a unified diff of text bodies,
    /// the claims of a JWT that differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What to do next, such as `add an ignore rule for
    /// $.order.created_at`.
    pub suggestion: String,
}

impl Deviation {
    pub(super) fn new(kind: DeviationKind, change: Change, message: String) -> Self {
        Self {
            kind,
            change,
            path: None,
            header: None,
            message,
            expected: None,
            actual: None,
            detail: None,
            suggestion: String::new(),
        }
    }

    /// Sets the path, cut to [`MAX_PATH_CHARS`].
    pub(super) fn with_path(mut self, path: String) -> Self {
        self.path = Some(clip_after(&path, MAX_PATH_CHARS));
        self
    }

    pub(super) fn with_header(mut self, name: &str) -> Self {
        self.header = Some(name.to_owned());
        self
    }

    /// Sets both values, each cut to [`MAX_VALUE_CHARS`].
    pub(super) fn with_values(mut self, expected: Option<&str>, actual: Option<&str>) -> Self {
        self.expected = expected.map(clip);
        self.actual = actual.map(clip);
        self
    }

    pub(super) fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    pub(super) fn with_suggestion(mut self, suggestion: String) -> Self {
        self.suggestion = suggestion;
        self
    }
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DeviationKind::Status => f.write_str("status")?,
            DeviationKind::Header => write!(f, "header {}", self.header.as_deref().unwrap_or(""))?,
            DeviationKind::Body => f.write_str("body")?,
        }
        if let Some(path) = &self.path {
            write!(f, " {path}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn display_names_the_part_and_the_place() {
        let status = Deviation::new(
            DeviationKind::Status,
            Change::Changed,
            "expected 200, actual 500".into(),
        );
        assert_eq!(status.to_string(), "status: expected 200, actual 500");
        let header = Deviation::new(DeviationKind::Header, Change::Missing, "missing".into())
            .with_header("etag");
        assert_eq!(header.to_string(), "header etag: missing");
        let body = Deviation::new(DeviationKind::Body, Change::Changed, "x".into())
            .with_path("$.total".into());
        assert_eq!(body.to_string(), "body $.total: x");
    }

    #[test]
    fn deviations_serialize_without_absent_fields() {
        let deviation = Deviation::new(DeviationKind::Body, Change::TypeChanged, "m".into())
            .with_path("$.a".into())
            .with_values(Some("1"), Some("\"1\""))
            .with_suggestion("s".into());
        let json = serde_json::to_value(&deviation).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "body", "change": "type-changed", "path": "$.a", "message": "m",
                "expected": "1", "actual": "\"1\"", "suggestion": "s"
            })
        );
    }
}
