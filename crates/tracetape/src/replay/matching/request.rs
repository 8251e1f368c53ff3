//! One request, recorded or live, in the form the matcher compares, and
//! the level at which a recorded one answers a live one.

use super::body::NormalBody;
use super::url::NormalUrl;
use super::{Level, Similarity};
use crate::record::RequestRecord;

/// A request normalised for matching.
#[derive(Debug, Clone)]
pub(super) struct NormalRequest {
    pub(super) method: String,
    pub(super) url: NormalUrl,
    pub(super) body: NormalBody,
}

/// How a recorded request fits a live one: the level, and at
/// [`Level::Similar`] how alike the bodies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fit {
    pub(super) level: Level,
    pub(super) similarity: Option<Similarity>,
}

impl NormalRequest {
    /// A recorded request (its body may have been cut or withheld).
    pub(super) fn recorded(request: &RequestRecord) -> Self {
        Self::new(request, NormalBody::recorded(request))
    }

    /// A live call's request, already redacted as recordings are.
    pub(super) fn live(request: &RequestRecord) -> Self {
        Self::new(request, NormalBody::live(request))
    }

    fn new(request: &RequestRecord, body: NormalBody) -> Self {
        Self {
            method: request.method.clone(),
            url: NormalUrl::parse(&request.url),
            body,
        }
    }

    /// Whether `live` goes to the same place: method, origin and path.
    pub(super) fn same_place(&self, live: &Self) -> bool {
        self.method == live.method
            && self.url.origin == live.url.origin
            && self.url.path == live.url.path
    }

    /// The first level at which this recorded request answers `live`, if
    /// any.
    pub(super) fn fit(&self, live: &Self) -> Option<Fit> {
        if !self.same_place(live) {
            return None;
        }
        let level = if self.url.query == live.url.query && self.body.exact(&live.body) {
            Level::Exact
        } else if self.url.query_matches_redacted(&live.url) && self.body.redacted(&live.body) {
            Level::Redacted
        } else if self.url.keys() == live.url.keys() {
            return Some(Fit {
                level: Level::Similar,
                similarity: Some(self.body.similarity(&live.body)),
            });
        } else {
            return None;
        };
        Some(Fit {
            level,
            similarity: None,
        })
    }
}
