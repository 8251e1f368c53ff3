//! The next step suggested for each deviation, for the CLI to show below
//! it.

use serde_json::Value;

use super::dynamic::Dynamic;

/// Words in a member name that mark a value likely to change from run to
/// run.
const VOLATILE_WORDS: [&str; 31] = [
    "at",
    "created",
    "date",
    "duration",
    "elapsed",
    "etag",
    "expires",
    "expiry",
    "generated",
    "guid",
    "hash",
    "id",
    "ids",
    "latency",
    "modified",
    "nonce",
    "now",
    "random",
    "rev",
    "seed",
    "session",
    "sig",
    "signature",
    "span",
    "time",
    "timestamp",
    "token",
    "trace",
    "ts",
    "updated",
    "uuid",
];

const RECORD_AGAIN: &str = "record this request again";

pub(super) fn status(expected: u16, actual: u16) -> String {
    format!(
        "check why the service answers {actual} where it answered {expected}; if that is intended, {RECORD_AGAIN}"
    )
}

pub(super) fn header(name: &str) -> String {
    format!(
        "if `{name}` may differ from build to build, leave it out of the compared headers \
         (`headers` under `[replay.compare]`); if the new value is intended, {RECORD_AGAIN}"
    )
}

/// For a JSON leaf at `path` (indices as `[*]`), the member `name`, whose
/// value changed from `values.0` to `values.1`, of dynamic `kinds`.
pub(super) fn changed_value(
    path: &str,
    name: Option<&str>,
    kinds: (Option<Dynamic>, Option<Dynamic>),
    values: (&Value, &Value),
) -> String {
    match kinds {
        (Some(e), Some(a)) if e == a => format!(
            "each value is {}: turn `{}` back on to forgive them, or add an ignore rule for {path}",
            e.described(),
            e.option()
        ),
        (Some(e), Some(a)) => format!(
            "the value was {} and is now {}: check what produces it",
            e.described(),
            a.described()
        ),
        (Some(e), None) => format!(
            "the value was {} and now is not: check what produces it",
            e.described()
        ),
        (None, Some(a)) => format!(
            "the value is now {} and was not: check what produces it",
            a.described()
        ),
        (None, None) if path == "$" => format!("if the new value is intended, {RECORD_AGAIN}"),
        (None, None) if name.is_some_and(volatile_name) || generated_looking(values) => {
            format!("add an ignore rule for {path}")
        }
        (None, None) => format!(
            "if the new value is intended, {RECORD_AGAIN}; if it changes from run to run, \
             add an ignore rule for {path}"
        ),
    }
}

pub(super) fn missing(path: &str) -> String {
    format!(
        "the new response has nothing at {path}: if that is intended, {RECORD_AGAIN}; \
         if it comes and goes, add an ignore rule for {path}"
    )
}

pub(super) fn unexpected(path: &str) -> String {
    format!(
        "the new response adds {path}: {RECORD_AGAIN} to accept it, or add an ignore rule for {path}"
    )
}

pub(super) fn type_changed(from: &str, to: &str) -> String {
    format!(
        "the value is now {} instead of {}: check how it is serialised; if that is intended, \
         {RECORD_AGAIN}",
        article(to),
        article(from)
    )
}

pub(super) fn array_length(expected: usize, actual: usize) -> String {
    format!(
        "check why there are {actual} elements instead of {expected}; if that is intended, \
         {RECORD_AGAIN}"
    )
}

/// For bodies compared as text or bytes.
pub(super) fn body() -> String {
    format!("if the new body is intended, {RECORD_AGAIN}")
}

/// For a body JSON on one side only; `recorded_json` says which.
pub(super) fn json_no_more(recorded_json: bool) -> String {
    let change = if recorded_json {
        "was JSON and is not"
    } else {
        "is JSON and was not"
    };
    format!("the body {change}: check its content type and what wrote it (an error page?)")
}

pub(super) fn truncated() -> String {
    format!(
        "only the bytes the recording kept were compared: raise TRACETAPE_RECORD_MAX_BODY_BYTES \
         and {RECORD_AGAIN} to compare whole bodies"
    )
}

pub(super) fn undecodable(reason: &str) -> String {
    format!(
        "{reason}, so the bytes as sent were compared; if the new body is intended, {RECORD_AGAIN}"
    )
}

/// `a number`, `an array`.
fn article(type_name: &str) -> String {
    if type_name.starts_with(['a', 'o']) {
        format!("an {type_name}")
    } else {
        format!("a {type_name}")
    }
}

/// Whether one of the words of `name` (`created_at`, `requestId`) marks
/// a value likely to change from run to run.
fn volatile_name(name: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut after_lower = false;
    for c in name.chars() {
        let boundary = !c.is_alphanumeric() || (c.is_uppercase() && after_lower);
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        after_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    words.push(word);
    words
        .iter()
        .any(|word| VOLATILE_WORDS.contains(&word.as_str()))
}

/// Two strings that look generated: the same length, at least eight
/// characters of letters, digits, `-` and `_`, each with a digit.
fn generated_looking(values: (&Value, &Value)) -> bool {
    let (Value::String(e), Value::String(a)) = values else {
        return false;
    };
    let generated = |text: &str| {
        text.len() >= 8
            && text.bytes().any(|b| b.is_ascii_digit())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    e.len() == a.len() && generated(e) && generated(a)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn volatile_names_are_found_by_their_words() {
        for name in [
            "id",
            "created_at",
            "requestId",
            "X-Request-ID",
            "updatedAt",
            "etag",
            "session_token",
            "ts",
        ] {
            assert!(volatile_name(name), "{name}");
        }
        for name in ["paid", "valid", "total", "status", "identity", "createdby"] {
            assert!(!volatile_name(name), "{name}");
        }
    }

    #[test]
    fn generated_looking_values_are_alike_in_shape() {
        assert!(generated_looking((
            &json!("a1b2c3d4e5"),
            &json!("f6a7b8c9d0")
        )));
        assert!(generated_looking((
            &json!("ord_12345678"),
            &json!("ord_87654321")
        )));
        assert!(!generated_looking((
            &json!("a1b2c3d4e5"),
            &json!("f6a7b8c9d")
        )));
        assert!(!generated_looking((&json!("abcdefgh"), &json!("hgfedcba"))));
        assert!(!generated_looking((
            &json!("a1b2 c3d4"),
            &json!("f6a7 b8c9")
        )));
        assert!(!generated_looking((&json!(12_345_678), &json!(87_654_321))));
    }

    #[test]
    fn dynamic_kinds_explain_themselves() {
        let v = (&json!(1), &json!(2));
        let uuid = Some(Dynamic::Uuid);
        assert!(changed_value("$.id", None, (uuid, uuid), v).contains("turn `uuids` back on"));
        assert_eq!(
            changed_value(
                "$.t",
                None,
                (Some(Dynamic::EpochSeconds), Some(Dynamic::EpochMillis)),
                v
            ),
            "the value was epoch seconds and is now epoch milliseconds: check what produces it"
        );
        assert!(changed_value("$.x", None, (None, uuid), v).starts_with("the value is now a UUID"));
        assert_eq!(article("object"), "an object");
        assert_eq!(article("number"), "a number");
    }
}
