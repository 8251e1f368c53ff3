//! A recorded call's JSON request body made into the one the new build
//! sent, from the differences the replay log lists for the call (one per
//! JSON leaf that differs: its path, the recorded value, the live one).

use std::cmp::Ordering;

use serde_json::Value;
use tracetape::replay::matching::CallDifference;
use tracetape::replay::values::MAX_VALUE_CHARS;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
}

impl Ord for Step {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Index(a), Self::Index(b)) => a.cmp(b),
            (Self::Member(a), Self::Member(b)) => a.cmp(b),
            (Self::Index(_), Self::Member(_)) => Ordering::Less,
            (Self::Member(_), Self::Index(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `body` (JSON) with every difference applied: each leaf the live body
/// has set to its value, each leaf only the recorded one has removed (and
/// the objects and arrays that leaves empty). An error, saying why, when
/// the differences cannot rebuild the live body: a body that is not JSON,
/// a value the log cut short, a path it cannot read.
pub(crate) fn apply(body: &[u8], differences: &[&CallDifference]) -> Result<Vec<u8>, String> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|_| "the recorded request body is not JSON".to_owned())?;
    let mut removed = Vec::new();
    let mut set = Vec::new();
    for difference in differences {
        let path = parse(&difference.at)
            .ok_or_else(|| format!("the path {} cannot be read", difference.at))?;
        match &difference.actual {
            None => removed.push(path),
            Some(actual) => {
                if cut(actual) {
                    return Err(format!(
                        "the new value at {} is longer than the replay log keeps",
                        difference.at
                    ));
                }
                let actual: Value = serde_json::from_str(actual)
                    .map_err(|_| format!("the new value at {} is not JSON", difference.at))?;
                set.push((path, actual));
            }
        }
    }
    // Removed from the end, so that indices still to remove do not move.
    removed.sort();
    for path in removed.iter().rev() {
        remove(&mut value, path);
    }
    set.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, actual) in set {
        put(&mut value, &path, actual)
            .ok_or_else(|| "the differences do not fit the recorded body".to_owned())?;
    }
    serde_json::to_vec(&value).map_err(|err| err.to_string())
}

/// Whether the replay log cut `text` (after [`MAX_VALUE_CHARS`]
/// characters, marked with `…`).
fn cut(text: &str) -> bool {
    text.ends_with('…') && text.chars().count() > MAX_VALUE_CHARS
}

/// `$`, then `.name`, `['name']`, `["name"]` and `[index]` steps, as the
/// replay log writes them.
fn parse(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Member(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            steps.push(Step::Member(after[..end].to_owned()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix("[\"") {
            let end = after.find("\"]")?;
            steps.push(Step::Member(after[..end].to_owned()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            steps.push(Step::Index(after[..end].parse().ok()?));
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Removes what `path` names, then each object or array on the way to it
/// that this leaves empty (never the document itself).
fn remove(value: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = walk(value, parents) else {
        return;
    };
    match (parent, last) {
        (Value::Object(members), Step::Member(name)) => {
            members.shift_remove(name);
        }
        (Value::Array(items), Step::Index(index)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => return,
    }
    if !parents.is_empty()
        && walk(value, parents).is_some_and(|parent| match parent {
            Value::Object(members) => members.is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => false,
        })
    {
        remove(value, parents);
    }
}

/// Sets what `path` names to `new`, making the objects and arrays on the
/// way (an index may be at most the array's length); `None` when the path
/// goes through a value of another kind.
fn put(value: &mut Value, path: &[Step], new: Value) -> Option<()> {
    let Some((first, rest)) = path.split_first() else {
        *value = new;
        return Some(());
    };
    let fresh = || match rest.first() {
        Some(Step::Index(_)) => Value::Array(Vec::new()),
        _ => Value::Object(serde_json::Map::new()),
    };
    match first {
        Step::Member(name) => {
            if !value.is_object() {
                return None;
            }
            let members = value.as_object_mut()?;
            let child = members.entry(name.clone()).or_insert_with(fresh);
            put(child, rest, new)
        }
        Step::Index(index) => {
            let items = value.as_array_mut()?;
            if *index == items.len() {
                items.push(fresh());
            }
            put(items.get_mut(*index)?, rest, new)
        }
    }
}

fn walk<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Member(name) => value.as_object_mut()?.get_mut(name),
        Step::Index(index) => value.as_array_mut()?.get_mut(*index),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tracetape::replay::matching::CallPart;

    use super::*;

    fn difference(at: &str, expected: Option<&str>, actual: Option<&str>) -> CallDifference {
        let json = serde_json::json!({"part": CallPart::Body, "at": at, "expected": expected,
            "actual": actual});
        serde_json::from_value(json).unwrap()
    }

    fn applied(body: &str, differences: &[CallDifference]) -> Result<String, String> {
        let differences: Vec<&CallDifference> = differences.iter().collect();
        apply(body.as_bytes(), &differences).map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn changed_added_and_removed_leaves_make_the_live_body() {
        let body = r#"{"sku":"tea","qty":2,"items":[{"x":1},{"x":2},{"x":3}],"odd key":{"a":1}}"#;
        let out = applied(
            body,
            &[
                difference("$.qty", Some("2"), Some("3")),
                difference("$.items[1].x", Some("2"), None),
                difference("$.items[2].x", Some("3"), None),
                difference("$['odd key'].a", Some("1"), None),
                difference("$['odd key']", None, Some("{}")),
                difference("$.note", None, Some("\"gift\"")),
                difference("$.tags[0]", None, Some("\"a\"")),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"sku":"tea","qty":3,"items":[{"x":1}],"note":"gift","odd key":{},"tags":["a"]}"#
        );
    }

    #[test]
    fn what_the_log_cannot_rebuild_is_an_error() {
        let long = format!("\"{}…", "x".repeat(MAX_VALUE_CHARS));
        let err = applied(r#"{"a":"x"}"#, &[difference("$.a", None, Some(&long))]).unwrap_err();
        assert!(err.contains("longer than the replay log keeps"), "{err}");
        let err = applied("qty=2", &[difference("$.qty", Some("2"), Some("3"))]).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let err = applied("{}", &[difference("qty", None, Some("3"))]).unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
        let err = applied(r#"{"a":1}"#, &[difference("$.a.b", None, Some("3"))]).unwrap_err();
        assert!(err.contains("do not fit"), "{err}");
    }

    #[test]
    fn paths_read_as_the_log_writes_them() {
        assert_eq!(
            parse(r#"$.a['b c']["it's"][2].d-e"#).unwrap(),
            [
                Step::Member("a".into()),
                Step::Member("b c".into()),
                Step::Member("it's".into()),
                Step::Index(2),
                Step::Member("d-e".into()),
            ]
        );
        assert_eq!(parse("$").unwrap(), []);
        for bad in ["", "a", "$.", "$[x]", "$['a"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
