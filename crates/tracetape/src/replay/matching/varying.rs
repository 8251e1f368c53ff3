//! The values that vary among the recorded calls to one endpoint of the
//! background recordings: a periodic job's sequence number or counter,
//! which an unchanged build sends with values never recorded as soon as
//! it runs longer than the recording did.

use std::collections::{HashMap, HashSet};

use super::difference::{CallDifference, CallPart, MAX_DIFFERENCES};
use super::request::NormalRequest;

/// For each endpoint (method, origin and path), the places (part and
/// where) whose values differ among its recorded calls.
#[derive(Debug, Default)]
pub(super) struct Varying {
    by_endpoint: HashMap<(String, String, String), HashSet<(CallPart, String)>>,
}

impl Varying {
    /// The places that vary among `recorded`, each endpoint's calls
    /// compared with its first.
    pub(super) fn among<'a>(recorded: impl IntoIterator<Item = &'a NormalRequest>) -> Self {
        let mut first: HashMap<(String, String, String), &NormalRequest> = HashMap::new();
        let mut by_endpoint: HashMap<_, HashSet<(CallPart, String)>> = HashMap::new();
        for request in recorded {
            let key = endpoint(request);
            let Some(earlier) = first.get(&key) else {
                first.insert(key, request);
                continue;
            };
            let Some(fit) = earlier.fit(request) else {
                continue;
            };
            by_endpoint.entry(key).or_default().extend(
                fit.differences
                    .into_iter()
                    .map(|difference| (difference.part, difference.at)),
            );
        }
        Self { by_endpoint }
    }

    /// Whether every one of `differences` between a live call and a
    /// recorded call to `endpoint` is at a place that varies among the
    /// recorded calls to it (and none was left out of the list).
    pub(super) fn covers(&self, recorded: &NormalRequest, differences: &[CallDifference]) -> bool {
        if differences.is_empty() || differences.len() >= MAX_DIFFERENCES {
            return false;
        }
        self.by_endpoint
            .get(&endpoint(recorded))
            .is_some_and(|places| {
                differences
                    .iter()
                    .all(|difference| places.contains(&(difference.part, difference.at.clone())))
            })
    }
}

fn endpoint(request: &NormalRequest) -> (String, String, String) {
    (
        request.method.clone(),
        request.url.origin.clone(),
        request.url.path.clone(),
    )
}
