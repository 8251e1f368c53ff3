//! The error for a live call no recorded call answers: what was called,
//! the closest recorded calls and how each differs, and what to do next.

use std::cmp::Reverse;
use std::fmt;

use serde::Serialize;

use super::request::NormalRequest;
use super::{CallSummary, Similarity};

/// How many of the closest recorded calls a [`NoMatch`] names, at most.
const CLOSEST: usize = 3;

/// No recorded call answers a live call, at any [`Level`](super::Level):
/// none has the same method, origin, path and query keys. The message names
/// the call, up to three of the closest recorded calls with what differs
/// (live value first), and what to do next.
///
/// ```
/// # use tracetape::opentelemetry::trace::{SpanId, TraceId};
/// # use tracetape::record::{BodyRecord, Exchange, ExchangeKind, Recording, RequestRecord, ResponseRecord};
/// use tracetape::record::RedactionKey;
/// use tracetape::replay::matching::{Difference, LiveCall, Matcher};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let exchange = Exchange {
/// #     kind: ExchangeKind::Client, span_id: SpanId::from(2), parent_span_id: SpanId::from(1),
/// #     name: "GET".into(), route: None, start_unix_nanos: 1, end_unix_nanos: 2,
/// #     request: RequestRecord { method: "GET".into(), url: "http://inventory/v1/items?sku=tea".into(), headers: vec![], body: BodyRecord::default() },
/// #     response: Some(ResponseRecord { status: 200, headers: vec![], body: BodyRecord::default(), trailers: Vec::new() }),
/// #     error: None,
/// # };
/// # let recording = Recording { trace_id: TraceId::from(7), service_name: "checkout".into(), background: false, exchanges: vec![exchange] };
/// let session = Matcher::new(Vec::new(), RedactionKey::ephemeral()?).session(&recording);
/// let Err(err) = session.answer(&LiveCall::new("GET", "http://inventory/v2/items?sku=tea")) else {
///     panic!("nothing was recorded at /v2/items");
/// };
/// assert_eq!(err.closest[0].call.url, "http://inventory/v1/items?sku=tea");
/// assert_eq!(
///     err.closest[0].differences,
///     [Difference::Path { live: "/v2/items".into(), recorded: "/v1/items".into() }]
/// );
/// assert!(err.to_string().contains("path /v2/items vs /v1/items"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", Message(self))]
#[non_exhaustive]
pub struct NoMatch {
    /// The live call, redacted as recordings are.
    pub call: CallSummary,
    /// The recorded calls that were looked in: `the recording of POST
    /// /checkout (trace …)`, or `the background recordings`.
    pub scope: String,
    /// How many recorded calls there were.
    pub recorded: usize,
    /// Up to three recorded calls, closest first: most of method, origin,
    /// path and query keys in common, then the most similar body, then the
    /// first recorded.
    pub closest: Vec<Candidate>,
    /// A drop rule of the redaction rules matches the call, so recordings
    /// leave calls like it out.
    pub dropped_by_rule: bool,
    /// Recorded calls that match it but have all answered already: the
    /// service makes the call more often than the recording did.
    pub used_up: usize,
}

/// A recorded call close to a live call that nothing answered, and how it
/// differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Candidate {
    /// Its position among the session's recorded calls.
    pub index: usize,
    /// The recorded call.
    pub call: CallSummary,
    /// What differs from the live call.
    pub differences: Vec<Difference>,
}

/// One way a recorded call differs from a live one.
///
/// ```
/// use tracetape::replay::matching::Difference;
///
/// let keys = Difference::QueryKeys {
///     live: vec!["a".into(), "b".into()],
///     recorded: vec!["a".into()],
/// };
/// assert_eq!(keys.to_string(), "query keys {a,b} vs {a}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Difference {
    /// Another method.
    Method {
        /// The live call's.
        live: String,
        /// The recorded call's.
        recorded: String,
    },
    /// Another scheme, host or port (`http://inventory:8080`).
    Origin {
        /// The live call's.
        live: String,
        /// The recorded call's.
        recorded: String,
    },
    /// Another path.
    Path {
        /// The live call's.
        live: String,
        /// The recorded call's.
        recorded: String,
    },
    /// Another set of query keys.
    QueryKeys {
        /// The live call's, sorted.
        live: Vec<String>,
        /// The recorded call's, sorted.
        recorded: Vec<String>,
    },
    /// The same query keys with other values.
    Query {
        /// The live call's query, pairs sorted and decoded.
        live: String,
        /// The recorded call's, likewise.
        recorded: String,
    },
    /// Another body.
    Body {
        /// How alike the two are.
        similarity: Similarity,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Method { live, recorded } => write!(f, "method {live} vs {recorded}"),
            Self::Origin { live, recorded } => write!(f, "origin {live} vs {recorded}"),
            Self::Path { live, recorded } => write!(f, "path {live} vs {recorded}"),
            Self::QueryKeys { live, recorded } => write!(
                f,
                "query keys {{{}}} vs {{{}}}",
                live.join(","),
                recorded.join(",")
            ),
            Self::Query { live, recorded } => write!(f, "query {live} vs {recorded}"),
            Self::Body { similarity } => write!(f, "body {similarity} similar"),
        }
    }
}

/// The closest of `recorded` to `live`, at most [`CLOSEST`].
pub(super) fn closest<'a>(
    live: &NormalRequest,
    recorded: impl Iterator<Item = (&'a NormalRequest, &'a CallSummary)>,
) -> Vec<Candidate> {
    let mut ranked: Vec<(usize, usize, Similarity, &CallSummary, &NormalRequest)> = recorded
        .enumerate()
        .map(|(index, (request, call))| {
            let agreement = [
                request.method == live.method,
                request.url.origin == live.url.origin,
                request.url.path == live.url.path,
                request.url.keys() == live.url.keys(),
            ]
            .into_iter()
            .filter(|same| *same)
            .count();
            let similarity = request.body.similarity(&live.body);
            (index, agreement, similarity, call, request)
        })
        .collect();
    ranked.sort_by_key(|(index, agreement, similarity, ..)| {
        (Reverse(*agreement), Reverse(*similarity), *index)
    });
    ranked
        .into_iter()
        .take(CLOSEST)
        .map(|(index, _, similarity, call, request)| Candidate {
            index,
            call: call.clone(),
            differences: differences(live, request, similarity),
        })
        .collect()
}

/// What differs between `live` and `recorded`, in the order a reader
/// checks: method, origin, path, query, body.
fn differences(
    live: &NormalRequest,
    recorded: &NormalRequest,
    similarity: Similarity,
) -> Vec<Difference> {
    let mut differences = Vec::new();
    if live.method != recorded.method {
        differences.push(Difference::Method {
            live: live.method.clone(),
            recorded: recorded.method.clone(),
        });
    }
    if live.url.origin != recorded.url.origin {
        differences.push(Difference::Origin {
            live: live.url.origin.clone(),
            recorded: recorded.url.origin.clone(),
        });
    }
    if live.url.path != recorded.url.path {
        differences.push(Difference::Path {
            live: live.url.path.clone(),
            recorded: recorded.url.path.clone(),
        });
    }
    let (live_keys, recorded_keys) = (live.url.keys(), recorded.url.keys());
    if live_keys != recorded_keys {
        let owned =
            |keys: std::collections::BTreeSet<&str>| keys.into_iter().map(str::to_owned).collect();
        differences.push(Difference::QueryKeys {
            live: owned(live_keys),
            recorded: owned(recorded_keys),
        });
    } else if !recorded.url.query_matches_redacted(&live.url) {
        differences.push(Difference::Query {
            live: live.url.query_text(),
            recorded: recorded.url.query_text(),
        });
    }
    if !recorded.body.redacted(&live.body) {
        differences.push(Difference::Body { similarity });
    }
    differences
}

/// The message of a [`NoMatch`].
struct Message<'a>(&'a NoMatch);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let NoMatch {
            call,
            scope,
            recorded,
            closest,
            dropped_by_rule,
            used_up,
        } = self.0;
        write!(f, "no recorded call matches {call}: ")?;
        match (recorded, used_up) {
            (_, 1) => write!(
                f,
                "the one call like it in {scope} has answered already, and was made once when \
                 recorded: this call is made more often now"
            )?,
            (_, n @ 2..) => write!(
                f,
                "the {n} calls like it in {scope} have all answered already: this call is made \
                 more often now"
            )?,
            (0, _) => write!(f, "there are no outbound calls in {scope}")?,
            (1, _) => write!(
                f,
                "the only outbound call in {scope} differs in method, origin or path"
            )?,
            (n, _) => write!(
                f,
                "none of the {n} outbound calls in {scope} has the same method, origin and path"
            )?,
        }
        for (i, candidate) in closest.iter().enumerate() {
            let lead = if i == 0 {
                "; closest (live vs recorded): "
            } else {
                "; "
            };
            write!(f, "{lead}#{} {}", candidate.index, candidate.call)?;
            for (j, difference) in candidate.differences.iter().enumerate() {
                let lead = if j == 0 { " (" } else { ", " };
                write!(f, "{lead}{difference}")?;
            }
            if !candidate.differences.is_empty() {
                f.write_str(")")?;
            }
        }
        if *dropped_by_rule {
            f.write_str(
                "; a drop rule of the redaction rules matches this call, so recordings leave \
                 calls like it out: narrow the rule and record again",
            )
        } else {
            f.write_str(
                "; the service now makes a call its recording does not have: record again if \
                 that is intended, else look for what changed the call",
            )
        }
    }
}
