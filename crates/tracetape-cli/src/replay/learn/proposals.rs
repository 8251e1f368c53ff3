//! What two replays of the same build tell about noise: the JSON paths
//! whose values differ between them, as ignore rules, and the differences
//! no ignore rule can cover.

use std::collections::{BTreeMap, HashMap, HashSet};

use tracetape::replay::ReplayId;
use tracetape_compare::{CompareOptions, Deviation, DeviationKind, compare};

use super::super::outcome::Replayed;

/// One proposed ignore rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proposal {
    /// The JSON path, array indices as `[*]` when the same member differed
    /// in several elements.
    pub(crate) path: String,
    /// In how many recordings it differed.
    pub(crate) recordings: usize,
    /// The first run's value and the second's, in one of them.
    pub(crate) example: (String, String),
}

/// A difference between the runs that no JSON path can name: the status,
/// a compared header, a body that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unignorable {
    /// `status`, `header etag`, `body`.
    pub(crate) what: String,
    pub(crate) recordings: usize,
    /// What the comparison said, for one of them.
    pub(crate) example: String,
}

/// Everything learnt.
#[derive(Debug, Default)]
pub(crate) struct Learnt {
    pub(crate) proposals: Vec<Proposal>,
    pub(crate) unignorable: Vec<Unignorable>,
    /// Recordings with a response in both runs: those compared.
    pub(crate) compared: usize,
    /// Recordings without a response in one run or both.
    pub(crate) not_compared: usize,
}

/// Compares, for each recording, the response of `first` (as if it were
/// the recorded one) with that of `second`, under `options`: every value
/// that differs is noise; one equal in both runs never is.
pub(crate) fn learn(first: &[Replayed], second: &[Replayed], options: &CompareOptions) -> Learnt {
    let second: HashMap<ReplayId, &Replayed> = second
        .iter()
        .map(|replayed| (replayed.id, replayed))
        .collect();
    let mut learnt = Learnt::default();
    // Concrete path -> the recordings it differed in, and an example.
    let mut paths: BTreeMap<String, (HashSet<ReplayId>, (String, String))> = BTreeMap::new();
    let mut others: BTreeMap<String, (HashSet<ReplayId>, String)> = BTreeMap::new();
    for one in first {
        let other = second
            .get(&one.id)
            .and_then(|other| other.response.as_ref());
        let (Some(before), Some(after)) = (one.response.as_ref(), other) else {
            learnt.not_compared += 1;
            continue;
        };
        learnt.compared += 1;
        for deviation in compare(before, after, options).deviations {
            match (&deviation.kind, &deviation.path) {
                (DeviationKind::Body, Some(path)) => {
                    let entry = paths
                        .entry(path.clone())
                        .or_insert_with(|| (HashSet::new(), example(&deviation)));
                    entry.0.insert(one.id);
                }
                _ => {
                    let what = match (&deviation.kind, &deviation.header) {
                        (DeviationKind::Status, _) => "status".to_owned(),
                        (DeviationKind::Header, Some(name)) => format!("header {name}"),
                        _ => "body".to_owned(),
                    };
                    let entry = others
                        .entry(what)
                        .or_insert_with(|| (HashSet::new(), deviation.message.clone()));
                    entry.0.insert(one.id);
                }
            }
        }
    }
    // Concrete paths that differ only in array indices become one rule
    // with `[*]` when there are several of them.
    let mut general: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for path in paths.keys() {
        general.entry(any_index(path)).or_default().push(path);
    }
    for (generalised, concrete) in general {
        let recordings: HashSet<ReplayId> = concrete
            .iter()
            .flat_map(|path| paths[*path].0.iter().copied())
            .collect();
        let path = match concrete.as_slice() {
            [only] => (*only).clone(),
            _ => generalised,
        };
        learnt.proposals.push(Proposal {
            path,
            recordings: recordings.len(),
            example: paths[concrete[0]].1.clone(),
        });
    }
    learnt.unignorable = others
        .into_iter()
        .map(|(what, (recordings, example))| Unignorable {
            what,
            recordings: recordings.len(),
            example,
        })
        .collect();
    learnt
}

/// The first run's value and the second's.
fn example(deviation: &Deviation) -> (String, String) {
    let value = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_owned());
    (value(&deviation.expected), value(&deviation.actual))
}

/// `path` with each array index (`[3]`) as `[*]`; quoted member names
/// (`['a[0]']`) are left as they are.
pub(crate) fn any_index(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if let Some(quote @ ('\'' | '"')) = after.chars().next() {
            // A quoted name: copied up to its closing quote and bracket.
            let mut end = None;
            let mut escaped = false;
            for (at, c) in after.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == quote && after[at + 1..].starts_with(']') {
                    end = Some(at + 2);
                    break;
                }
            }
            let end = end.unwrap_or(after.len());
            out.push('[');
            out.push_str(&after[..end]);
            rest = &after[end..];
            continue;
        }
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(']') {
            out.push_str("[*]");
            rest = &after[digits + 1..];
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::super::super::outcome::tests::{log, replayable};
    use super::super::super::outcome::{Judging, judge};
    use super::super::super::send::Reply;
    use super::*;
    use crate::testing::json_response;

    /// The recording `replayable(recorded)` replayed, answering `body`.
    fn run(recorded: &str, body: &str) -> Replayed {
        judge(
            &replayable(recorded),
            Ok(Reply {
                response: json_response(200, body),
                log: Some(Ok(log(&[], 0, true))),
            }),
            &Judging::default(),
            Duration::ZERO,
        )
    }

    #[test]
    fn values_that_differ_between_runs_are_proposed_and_equal_ones_never() {
        // The total deviates from the recording in both runs alike: a real
        // deviation, not noise. The nonce and the tags differ between runs.
        let recorded = r#"{"total": 5, "nonce": "n-1", "items": [{"tag": "a"}, {"tag": "b"}]}"#;
        let first = run(
            recorded,
            r#"{"total": 6, "nonce": "n-2", "id": "6f1c2e9a-3b4d-4c5e-8f70-112233445566",
                "items": [{"tag": "c", "n": 1}, {"tag": "d", "n": 2}]}"#,
        );
        let second = run(
            recorded,
            r#"{"total": 6, "nonce": "n-3", "id": "01890a5d-ac96-774b-bcce-b302099a8057",
                "items": [{"tag": "e", "n": 1}, {"tag": "f", "n": 2}]}"#,
        );
        let learnt = learn(&[first], &[second], &CompareOptions::default());
        let paths: Vec<&str> = learnt.proposals.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["$.items[*].tag", "$.nonce"]);
        assert_eq!(learnt.proposals[1].recordings, 1);
        assert_eq!(
            learnt.proposals[1].example,
            ("\"n-2\"".to_owned(), "\"n-3\"".to_owned())
        );
        assert!(learnt.unignorable.is_empty());
        assert_eq!((learnt.compared, learnt.not_compared), (1, 0));
    }

    #[test]
    fn one_element_keeps_its_index_and_other_differences_are_named() {
        let first = run("{}", r#"{"items": [{"tag": "a"}]}"#);
        let mut second = run("{}", r#"{"items": [{"tag": "b"}]}"#);
        second.response.as_mut().unwrap().status = 500;
        let learnt = learn(&[first], &[second], &CompareOptions::default());
        assert_eq!(learnt.proposals[0].path, "$.items[0].tag");
        assert_eq!(learnt.unignorable.len(), 1);
        assert_eq!(learnt.unignorable[0].what, "status");

        let mut errored = run("{}", "{}");
        errored.response = None;
        let learnt = learn(&[run("{}", "{}")], &[errored], &CompareOptions::default());
        assert_eq!((learnt.compared, learnt.not_compared), (0, 1));
    }

    #[test]
    fn indices_become_wildcards_but_quoted_names_stay() {
        assert_eq!(any_index("$.a[0].b[12]"), "$.a[*].b[*]");
        assert_eq!(any_index("$['x[0]'][3]"), "$['x[0]'][*]");
        assert_eq!(any_index("$['it\\'s[1]'].v"), "$['it\\'s[1]'].v");
        assert_eq!(any_index("$.a[-1]"), "$.a[-1]");
        assert_eq!(any_index("$"), "$");
    }
}
