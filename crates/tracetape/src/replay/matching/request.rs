//! One request, recorded or live, in the form the matcher compares, and
//! the level at which a recorded one answers a live one.

use std::hash::{Hash, Hasher};

use super::body::NormalBody;
use super::difference::{CallDifference, CallPart, MAX_DIFFERENCES};
use super::pairs;
use super::url::NormalUrl;
use super::{Level, Similarity};
use crate::http_attrs::interned::Fnv;
use crate::record::RequestRecord;

/// A request normalised for matching.
#[derive(Debug, Clone)]
pub(super) struct NormalRequest {
    pub(super) method: String,
    pub(super) url: NormalUrl,
    /// The values of the headers chosen for matching, by lower-case name,
    /// sorted.
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: NormalBody,
}

/// How a recorded request fits a live one: the level; how alike they are,
/// which ranks the recorded calls that fit at one level (at the same-call
/// levels, parts counted alike only when equal, so that of several calls
/// that are the same but for run-to-run values the one with the most
/// equal values answers); and at [`Level::Similar`] what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fit {
    pub(super) level: Level,
    pub(super) similarity: Similarity,
    pub(super) differences: Vec<CallDifference>,
}

impl NormalRequest {
    /// A recorded request (its body may have been cut or withheld), with
    /// the `chosen` headers (lower-case names) compared.
    pub(super) fn recorded(request: &RequestRecord, chosen: &[String]) -> Self {
        Self::new(request, NormalBody::recorded(request), chosen)
    }

    /// A live call's request, already redacted as recordings are.
    pub(super) fn live(request: &RequestRecord, chosen: &[String]) -> Self {
        Self::new(request, NormalBody::live(request), chosen)
    }

    fn new(request: &RequestRecord, body: NormalBody, chosen: &[String]) -> Self {
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter(|header| {
                chosen
                    .iter()
                    .any(|name| header.name.eq_ignore_ascii_case(name))
            })
            .map(|header| {
                (
                    header.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&header.value).into_owned(),
                )
            })
            .collect();
        headers.sort();
        Self {
            method: request.method.clone(),
            url: NormalUrl::parse(&request.url),
            headers,
            body,
        }
    }

    /// Whether `live` matches this recorded request at the
    /// [`Exact`](Level::Exact) level: what [`fit`](Self::fit) decides
    /// first, without working out anything else.
    pub(super) fn exactly(&self, live: &Self) -> bool {
        self.method == live.method
            && self.url.origin == live.url.origin
            && self.url.path == live.url.path
            && self.headers == live.headers
            && self.url.query == live.url.query
            && self.body.exact(&live.body)
    }

    /// A key that two requests share whenever [`exactly`](Self::exactly)
    /// finds them equal with JSON bodies: their method, path and body
    /// hashed. `None` for a body that is not whole JSON.
    pub(super) fn exact_key(&self) -> Option<u64> {
        let mut hasher = Fnv::default();
        self.method.hash(&mut hasher);
        self.url.path.hash(&mut hasher);
        self.body.hash_exact(&mut hasher).then(|| hasher.finish())
    }

    /// The first level at which this recorded request answers `live`, if
    /// any: the same method and origin always, then the levels in order.
    pub(super) fn fit(&self, live: &Self) -> Option<Fit> {
        if self.method != live.method || self.url.origin != live.url.origin {
            return None;
        }
        let path = self.url.path_fit(&live.url)?;
        let headers = pairs::pair(&self.headers, &live.headers);
        let query = pairs::pair(&self.url.query, &live.url.query);
        let same_path = self.url.path == live.url.path && self.headers == live.headers;
        let level = if self.exactly(live) {
            Some(Level::Exact)
        } else if same_path
            && self.url.query_matches_redacted(&live.url)
            && self.body.redacted(&live.body)
        {
            Some(Level::Redacted)
        } else if path.all_alike()
            && headers.all_alike()
            && query.all_alike()
            && self.body.dynamic(&live.body)
        {
            Some(Level::Dynamic)
        } else {
            None
        };
        if let Some(level) = level {
            return Some(Fit {
                level,
                similarity: self.literal_similarity(live),
                differences: Vec::new(),
            });
        }
        let body = self.body.fit(&live.body);
        let similarity = Similarity::new(
            path.alike + headers.alike + query.alike + body.similarity.shared(),
            path.total + headers.total() + query.total() + body.similarity.total(),
        );
        let mut differences = path.differences;
        differences.extend(headers.differences(CallPart::Header, str::to_owned));
        differences.extend(query.differences(CallPart::Query, str::to_owned));
        differences.extend(body.differences);
        differences.truncate(MAX_DIFFERENCES);
        Some(Fit {
            level: Level::Similar,
            similarity,
            differences,
        })
    }

    /// How alike the two are, counting only equal parts: query pairs and
    /// the body's (the chosen headers are equal at the levels that use
    /// this, but for run-to-run values).
    fn literal_similarity(&self, live: &Self) -> Similarity {
        let equal_pairs = self
            .url
            .query
            .iter()
            .filter(|pair| live.url.query.contains(pair))
            .count() as u64;
        let pairs = (self.url.query.len() + live.url.query.len()) as u64 - equal_pairs;
        let body = self.body.similarity(&live.body);
        Similarity::new(equal_pairs + body.shared(), pairs + body.total())
    }
}
