//! How alike two calls are, as the [`Similar`](super::Level::Similar)
//! level ranks candidates: an exact fraction, so that ties are ties and
//! every run ranks the same way.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use serde::Serialize;
use serde_json::Value;

use super::redacted::looks_redacted;
use crate::replay::values::push_member;

/// How alike a live call is to a recorded one: `shared` parts of `total`,
/// compared as an exact fraction. The parts are the path's segments, the
/// query's pairs and the body's, counted as follows, a part being alike
/// when equal or, at the [`Similar`](super::Level::Similar) level, when
/// the recorded value stands for the live one as at
/// [`Dynamic`](super::Level::Dynamic).
///
/// - Query pairs and form fields: each pair once, alike when found on both
///   sides.
/// - Two JSON bodies: their leaves (scalars, empty objects and arrays), by
///   path; `shared` is the number of paths with equal values in both,
///   `total` the number of paths in either. A recorded string that looks
///   redacted (`REDACTED…`, a mask of `*`) equals whatever the live body
///   holds at its path, a whole object included. Key order never counts.
/// - Anything else: the decoded bytes; `shared` is the length of the
///   common prefix plus that of the common suffix after it, `total` the
///   longer length. Linear, so large bodies cost little; a change in the
///   middle keeps both ends alike.
/// - Two empty bodies are alike in full (`1` of `1`).
///
/// ```
/// use tracetape::replay::matching::Similarity;
///
/// let half = Similarity::new(1, 2);
/// assert_eq!(half, Similarity::new(2, 4));
/// assert!(Similarity::new(3, 4) > half);
/// assert_eq!(half.to_string(), "50%");
/// assert_eq!(Similarity::new(0, 0), Similarity::FULL);
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Similarity {
    shared: u64,
    total: u64,
}

impl Similarity {
    /// Alike in full.
    pub const FULL: Self = Self {
        shared: 1,
        total: 1,
    };

    /// `shared` of `total` (`shared` capped at `total`); nothing of
    /// nothing is alike in full.
    pub fn new(shared: u64, total: u64) -> Self {
        if total == 0 {
            return Self::FULL;
        }
        Self {
            shared: shared.min(total),
            total,
        }
    }

    /// The parts alike.
    pub fn shared(&self) -> u64 {
        self.shared
    }

    /// The parts compared.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// `shared / total`, from `0.0` to `1.0`.
    pub fn ratio(&self) -> f64 {
        self.shared as f64 / self.total as f64
    }

    /// Whether nothing differs.
    pub fn is_full(&self) -> bool {
        self.shared == self.total
    }
}

impl Ord for Similarity {
    fn cmp(&self, other: &Self) -> Ordering {
        let left = u128::from(self.shared) * u128::from(other.total);
        let right = u128::from(other.shared) * u128::from(self.total);
        left.cmp(&right)
    }
}

impl PartialOrd for Similarity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Similarity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Similarity {}

impl fmt::Display for Similarity {
    /// A whole percentage, rounded down, so that `100%` means alike in
    /// full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = u128::from(self.shared) * 100 / u128::from(self.total);
        write!(f, "{percent}%")
    }
}

/// How alike the live JSON body is to the recorded one, leaf by leaf,
/// leaves counted alike when equal.
pub(super) fn json(recorded: &Value, live: &Value) -> Similarity {
    let fit = json_fit(recorded, live, &|recorded, live| recorded == live);
    Similarity::new(fit.alike, fit.total)
}

/// How two JSON bodies line up, leaf by leaf.
#[derive(Debug)]
pub(super) struct LeafFit {
    /// Leaves alike on both sides (a redacted recorded leaf and whatever
    /// is below its path on the live side count as one).
    pub(super) alike: u64,
    /// Leaves in either body, one alike on both sides counted once.
    pub(super) total: u64,
    /// The leaves that differ: their path (`$.items[0].sku`), and the
    /// recorded and live values as compact JSON, when present.
    pub(super) differences: Vec<(String, Option<String>, Option<String>)>,
}

/// How the live JSON body lines up with the recorded one, leaf by leaf,
/// `same` telling whether a recorded leaf stands for a live one. A
/// recorded string that looks redacted (`REDACTED…`, a mask of `*`)
/// stands for whatever the live body holds at its path, a whole object
/// included. Key order never counts.
pub(super) fn json_fit(
    recorded: &Value,
    live: &Value,
    same: &dyn Fn(&Value, &Value) -> bool,
) -> LeafFit {
    let mut recorded_leaves = BTreeMap::new();
    leaves(recorded, String::from("$"), &mut recorded_leaves);
    let mut live_leaves = BTreeMap::new();
    leaves(live, String::from("$"), &mut live_leaves);
    let mut fit = LeafFit {
        alike: 0,
        total: 0,
        differences: Vec::new(),
    };
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (path, value) in &recorded_leaves {
        fit.total += 1;
        if matches!(value, Value::String(text) if looks_redacted(text)) {
            // Whatever is there, down to the leaves under it.
            let covered: Vec<&str> = live_leaves
                .range::<str, _>((Bound::Included(path.as_str()), Bound::Unbounded))
                .map(|(live_path, _)| live_path.as_str())
                .take_while(|live_path| live_path.starts_with(path.as_str()))
                .filter(|live_path| {
                    live_path.len() == path.len()
                        || matches!(live_path.as_bytes().get(path.len()), Some(b'.' | b'['))
                })
                .collect();
            if covered.is_empty() {
                fit.differences
                    .push((path.clone(), Some(value.to_string()), None));
            } else {
                fit.alike += 1;
            }
            seen.extend(covered);
        } else if let Some(live_value) = live_leaves.get(path) {
            if same(value, live_value) {
                fit.alike += 1;
            } else {
                fit.differences.push((
                    path.clone(),
                    Some(value.to_string()),
                    Some(live_value.to_string()),
                ));
            }
            seen.insert(path);
        } else {
            fit.differences
                .push((path.clone(), Some(value.to_string()), None));
        }
    }
    for (path, value) in &live_leaves {
        if !seen.contains(path.as_str()) {
            fit.total += 1;
            fit.differences
                .push((path.clone(), None, Some(value.to_string())));
        }
    }
    fit
}

/// Every leaf of `value` by its path, in the syntax ignore rules use
/// (`$.a.b`, `$['odd key']`, `$.items[0]`): scalars, and empty objects and
/// arrays.
fn leaves<'a>(value: &'a Value, path: String, out: &mut BTreeMap<String, &'a Value>) {
    match value {
        Value::Object(members) if !members.is_empty() => {
            for (name, member) in members {
                leaves(member, member_path(&path, name), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                leaves(item, format!("{path}[{index}]"), out);
            }
        }
        leaf => {
            out.insert(path, leaf);
        }
    }
}

/// `path` followed by member `name`, as ignore rules write it.
pub(super) fn member_path(path: &str, name: &str) -> String {
    let mut path = path.to_owned();
    push_member(&mut path, name);
    path
}

/// How alike two byte strings are: the common prefix and the common
/// suffix after it, of the longer length.
pub(super) fn bytes(recorded: &[u8], live: &[u8]) -> Similarity {
    let prefix = recorded
        .iter()
        .zip(live)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = recorded[prefix..]
        .iter()
        .rev()
        .zip(live[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let total = recorded.len().max(live.len());
    Similarity::new((prefix + suffix) as u64, total as u64)
}

/// How alike a live body is to a recorded one cut at the size limit: the
/// common prefix, of the bytes kept.
pub(super) fn prefix(kept: &[u8], live: &[u8]) -> Similarity {
    let prefix = kept.iter().zip(live).take_while(|(a, b)| a == b).count();
    Similarity::new(prefix as u64, kept.len() as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn json_bodies_are_compared_leaf_by_leaf_whatever_the_key_order() {
        let recorded = json!({"sku": "tea", "qty": 2, "tags": ["a", "b"]});
        assert_eq!(
            json(
                &recorded,
                &json!({"tags": ["a", "b"], "qty": 2, "sku": "tea"})
            ),
            Similarity::FULL
        );
        // sku, qty, tags/0, tags/1: three of four equal.
        let one_off = json(
            &recorded,
            &json!({"sku": "tea", "qty": 3, "tags": ["a", "b"]}),
        );
        assert_eq!((one_off.shared(), one_off.total()), (3, 4));
        // A member only on one side counts once in the total.
        let extra = json(
            &recorded,
            &json!({"sku": "tea", "qty": 2, "tags": ["a", "b"], "x": 1}),
        );
        assert_eq!((extra.shared(), extra.total()), (4, 5));
        let missing = json(&recorded, &json!({"sku": "tea"}));
        assert_eq!((missing.shared(), missing.total()), (1, 4));
        assert!(extra > one_off && one_off > missing);
        // Empty containers are leaves; a scalar root is one leaf.
        assert_eq!(json(&json!({}), &json!({})), Similarity::FULL);
        assert_eq!(json(&json!({}), &json!([])), Similarity::new(0, 1));
        assert_eq!(json(&json!(1), &json!(1.0)), Similarity::new(0, 1));
        // Names with `/` and `~` do not collide with nesting.
        assert_eq!(
            json(&json!({"a/b": 1}), &json!({"a": {"b": 1}})),
            Similarity::new(0, 2)
        );
    }

    #[test]
    fn a_redacted_recorded_leaf_equals_whatever_is_there() {
        let recorded = json!({"card": "REDACTED:0123456789abcdef", "pin": "****", "qty": 1});
        let live = json!({"card": {"number": "4111", "exp": "12/30"}, "pin": 1234, "qty": 1});
        assert_eq!(json(&recorded, &live), Similarity::FULL);
        // Nothing at its path: not shared.
        let live = json!({"pin": "1234", "qty": 1});
        assert_eq!(json(&recorded, &live), Similarity::new(2, 3));
        // Paths that sort between a redacted member and its children.
        let recorded = json!({"a": "REDACTED", "a-b": 1});
        let live = json!({"a": {"x": 1, "y": 2}, "a-b": 1});
        assert_eq!(json(&recorded, &live), Similarity::FULL);
        // A whole redacted body.
        assert_eq!(json(&json!("REDACTED"), &live), Similarity::FULL);
    }

    #[test]
    fn bytes_share_a_prefix_and_a_suffix() {
        assert_eq!(bytes(b"", b""), Similarity::FULL);
        assert_eq!(bytes(b"abcdef", b"abcdef"), Similarity::FULL);
        assert_eq!(bytes(b"abcdef", b"abXdef"), Similarity::new(5, 6));
        assert_eq!(bytes(b"abcdef", b"abcdefgh"), Similarity::new(6, 8));
        assert_eq!(bytes(b"aaaa", b"aa"), Similarity::new(2, 4));
        assert_eq!(bytes(b"xyz", b""), Similarity::new(0, 3));
        assert_eq!(prefix(b"abc", b"abcdef"), Similarity::FULL);
        assert_eq!(prefix(b"abc", b"abX"), Similarity::new(2, 3));
    }

    #[test]
    fn fractions_compare_exactly() {
        assert_eq!(Similarity::new(1, 3), Similarity::new(2, 6));
        assert!(Similarity::new(1, 3) < Similarity::new(334, 1000));
        assert_eq!(Similarity::new(5, 3), Similarity::FULL);
        assert_eq!(Similarity::new(2, 3).to_string(), "66%");
        assert_eq!(Similarity::new(999, 1000).to_string(), "99%");
        assert!((Similarity::new(1, 4).ratio() - 0.25).abs() < f64::EPSILON);
        assert_eq!(
            serde_json::to_value(Similarity::new(1, 4)).unwrap(),
            json!({"shared": 1, "total": 4})
        );
    }
}
