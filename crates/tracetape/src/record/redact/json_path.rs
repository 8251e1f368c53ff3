//! JSON paths that name values in a body: a small subset of RFC 9535,
//! enough to point at secrets. `$` is the whole document, followed by
//! any number of segments:
//!
//! - `.name` or `['name']`: a member of an object;
//! - `[0]`: an element of an array (negative indices count from the end);
//! - `.*` or `[*]`: every member or element;
//! - `..name`: a member of that name at any depth below.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A JSON path naming values in a JSON body, such as `$.card.number`,
/// `$.items[*].token` or `$..password`.
///
/// ```
/// use tracetape::record::JsonPath;
///
/// let path: JsonPath = "$.items[*].token".parse()?;
/// assert_eq!(path.to_string(), "$.items[*].token");
/// assert!("items.token".parse::<JsonPath>().is_err());
/// # Ok::<(), tracetape::record::JsonPathError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Member(String),
    Index(i64),
    Wildcard,
    Descendant(String),
}

/// Why a JSON path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON path {path:?} at byte {at}: {reason}")]
pub struct JsonPathError {
    path: String,
    at: usize,
    reason: &'static str,
}

impl FromStr for JsonPath {
    type Err = JsonPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |at: usize, reason| JsonPathError {
            path: text.to_owned(),
            at,
            reason,
        };
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| fail(0, "a path starts with `$`"))?;
        let bytes = rest.as_bytes();
        let mut segments = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let at = i + 1;
            if rest[i..].starts_with("..") {
                let (name, next) = name(rest, i + 2)
                    .ok_or_else(|| fail(at, "`..` is followed by a member name"))?;
                segments.push(Segment::Descendant(name));
                i = next;
            } else if bytes[i] == b'.' {
                if bytes.get(i + 1) == Some(&b'*') {
                    segments.push(Segment::Wildcard);
                    i += 2;
                } else {
                    let (name, next) = name(rest, i + 1)
                        .ok_or_else(|| fail(at, "`.` is followed by a member name or `*`"))?;
                    segments.push(Segment::Member(name));
                    i = next;
                }
            } else if bytes[i] == b'[' {
                let close = rest[i..]
                    .find(']')
                    .map(|offset| i + offset)
                    .ok_or_else(|| fail(at, "`[` is never closed"))?;
                let inside = rest[i + 1..close].trim();
                let segment = if inside == "*" {
                    Segment::Wildcard
                } else if let Some(quoted) = quoted(inside) {
                    Segment::Member(quoted.to_owned())
                } else {
                    inside
                        .parse::<i64>()
                        .map(Segment::Index)
                        .map_err(|_| fail(at, "brackets hold an index, `*` or a quoted name"))?
                };
                segments.push(segment);
                i = close + 1;
            } else {
                return Err(fail(at, "expected `.`, `..` or `[`"));
            }
        }
        if segments.is_empty() {
            return Err(fail(0, "a path names at least one member or element"));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }
}

/// A member name starting at `start`: up to the next `.` or `[`.
fn name(text: &str, start: usize) -> Option<(String, usize)> {
    let tail = text.get(start..)?;
    let len = tail.find(['.', '[']).unwrap_or(tail.len());
    (len > 0 && &tail[..len] != "*").then(|| (tail[..len].to_owned(), start + len))
}

/// The inside of `'name'` or `"name"`.
fn quoted(inside: &str) -> Option<&str> {
    ['\'', '"'].into_iter().find_map(|quote| {
        inside
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
    })
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    /// Calls `visit` on every value the path names in `document`; returns
    /// how many there were. Redaction rules and `tracetape replay`'s
    /// ignore rules both find their values this way.
    ///
    /// ```
    /// use serde_json::json;
    /// use tracetape::record::JsonPath;
    ///
    /// let path: JsonPath = "$.items[*].token".parse()?;
    /// let mut document = json!({"items": [{"token": "a"}, {"token": "b"}, {}]});
    /// let found = path.for_each_mut(&mut document, &mut |value| *value = json!("hidden"));
    /// assert_eq!(found, 2);
    /// assert_eq!(document["items"][1]["token"], "hidden");
    /// # Ok::<(), tracetape::record::JsonPathError>(())
    /// ```
    pub fn for_each_mut(&self, document: &mut Value, visit: &mut dyn FnMut(&mut Value)) -> usize {
        walk(&self.segments, document, visit)
    }
}

fn walk(segments: &[Segment], value: &mut Value, visit: &mut dyn FnMut(&mut Value)) -> usize {
    let Some((first, rest)) = segments.split_first() else {
        visit(value);
        return 1;
    };
    match first {
        Segment::Member(name) => match value {
            Value::Object(map) => map
                .get_mut(name)
                .map_or(0, |child| walk(rest, child, visit)),
            _ => 0,
        },
        Segment::Index(index) => match value {
            Value::Array(items) => {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if *index < 0 { len + index } else { *index };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| items.get_mut(at))
                    .map_or(0, |child| walk(rest, child, visit))
            }
            _ => 0,
        },
        Segment::Wildcard => children(value).map(|child| walk(rest, child, visit)).sum(),
        Segment::Descendant(name) => descend(name, rest, value, visit),
    }
}

/// `..name`: the member `name` of `value` and of everything below it.
fn descend(
    name: &str,
    rest: &[Segment],
    value: &mut Value,
    visit: &mut dyn FnMut(&mut Value),
) -> usize {
    let mut count = 0;
    if let Value::Object(map) = value
        && let Some(child) = map.get_mut(name)
    {
        count += walk(rest, child, visit);
    }
    for child in children(value) {
        count += descend(name, rest, child, visit);
    }
    count
}

fn children(value: &mut Value) -> Box<dyn Iterator<Item = &mut Value> + '_> {
    match value {
        Value::Object(map) => Box::new(map.values_mut()),
        Value::Array(items) => Box::new(items.iter_mut()),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn names(path: &str, mut document: Value) -> (usize, Value) {
        let path: JsonPath = path.parse().unwrap();
        let count = path.for_each_mut(&mut document, &mut |value| *value = json!("X"));
        (count, document)
    }

    #[test]
    fn members_indices_wildcards_and_descendants() {
        let doc = json!({
            "card": {"number": "4111", "cvc": 123},
            "items": [{"token": "a"}, {"token": "b"}, {"other": 1}],
            "deep": {"x": [{"password": "p1"}], "password": "p2"},
            "odd.key": "v"
        });
        let (n, out) = names("$.card.number", doc.clone());
        assert_eq!((n, &out["card"]), (1, &json!({"number": "X", "cvc": 123})));
        let (n, out) = names("$.items[*].token", doc.clone());
        assert_eq!(n, 2);
        assert_eq!(
            out["items"],
            json!([{"token": "X"}, {"token": "X"}, {"other": 1}])
        );
        let (n, out) = names("$.items[-1]", doc.clone());
        assert_eq!((n, &out["items"][2]), (1, &json!("X")));
        let (n, out) = names("$..password", doc.clone());
        assert_eq!(n, 2);
        assert_eq!(
            out["deep"],
            json!({"x": [{"password": "X"}], "password": "X"})
        );
        let (n, out) = names("$['odd.key']", doc.clone());
        assert_eq!((n, &out["odd.key"]), (1, &json!("X")));
        let (n, out) = names("$.card.*", doc.clone());
        assert_eq!((n, &out["card"]), (2, &json!({"number": "X", "cvc": "X"})));
        // Nothing named: nothing changes.
        for path in [
            "$.missing",
            "$.card.number.deeper",
            "$.items[9]",
            "$.card[0]",
        ] {
            assert_eq!(names(path, doc.clone()), (0, doc.clone()), "{path}");
        }
    }

    #[test]
    fn malformed_paths_are_errors_naming_the_place() {
        for (path, at) in [
            ("card.number", 0),
            ("$", 0),
            ("$.", 1),
            ("$..", 1),
            ("$.a[", 3),
            ("$.a[x]", 3),
            ("$a", 1),
            ("$.*x", 3),
        ] {
            let err = path.parse::<JsonPath>().unwrap_err();
            assert_eq!(err.at, at, "{path}: {err}");
            assert!(err.to_string().contains(path), "{err}");
        }
    }
}
