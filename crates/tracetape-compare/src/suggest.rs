//! The next step suggested for each deviation, for the CLI to show below
//! it.

use serde_json::Value;

use super::CompareOptions;
use super::dynamic::{self, Dynamic, Rules as _};

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
        (Some(Dynamic::Date), Some(Dynamic::Date)) => format!(
            "each value is a date: set `dates = true` and `time_window = \"off\"` to forgive \
             any two dates, or add an ignore rule for {path}"
        ),
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
        // No ignore rule for the root, or for every element of it.
        (None, None) if path == "$" || path == "$[*]" => {
            format!("if the new value is intended, {RECORD_AGAIN}")
        }
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

/// For `actual` elements (or lines, or events: `noun`) instead of
/// `expected`.
pub(super) fn array_length(expected: usize, actual: usize, noun: &str) -> String {
    format!(
        "check why there are {actual} {noun}s instead of {expected}; if that is intended, \
         {RECORD_AGAIN}"
    )
}

/// For an integer that became a float, or the other way round.
pub(super) fn number_type(from: &str, to: &str) -> String {
    format!(
        "the number is now written as {} instead of {}: check how it is serialised (a client \
         that reads an integer may reject it); if that is intended, {RECORD_AGAIN}, or set \
         `numbers_by_value = true` under `[replay.compare]` to compare numbers by value",
        article(to),
        article(from)
    )
}

/// For a timestamp or epoch outside the time window, or a date that
/// changed while the window is on, at `path` (`None` in a text body,
/// which ignore rules do not reach).
pub(super) fn clock(path: Option<&str>, options: &CompareOptions) -> String {
    let window = options
        .time_window
        .map_or_else(|| "none".to_owned(), dynamic::window_text);
    let otherwise = match path {
        Some(path) => format!("add an ignore rule for {path}"),
        None => "set `time_window = \"off\"` under `[replay.compare]`".to_owned(),
    };
    format!(
        "timestamps and epochs are forgiven only within `time_window` ({window}) of the \
         recorded ones, and dates only when equal, since the service's clock reads the recorded \
         time: check what computes this value (date arithmetic such as `today + 30 days`); if it \
         does not come from the service's clock, {otherwise}"
    )
}

/// For an event's field (`event:`, `id:`) that changed.
pub(super) fn field(name: &str) -> String {
    format!(
        "check what sets the event's `{name}:` field; if the new value is intended, {RECORD_AGAIN}"
    )
}

/// For a record (`noun`: line, event) JSON on one side only.
pub(super) fn record_format(noun: &str, recorded_json: bool) -> String {
    let change = if recorded_json {
        "was JSON and is not"
    } else {
        "is JSON and was not"
    };
    format!(
        "the {noun} {change}: check what writes it (an error message?); if that is intended, {RECORD_AGAIN}"
    )
}

/// For bodies compared as text or bytes.
pub(super) fn body() -> String {
    format!("if the new body is intended, {RECORD_AGAIN}")
}

/// For a body read in another format on each side (`JSON`, `NDJSON`, an
/// event stream, a form; `None` for text or bytes).
pub(super) fn format_changed(recorded: Option<&str>, new: Option<&str>) -> String {
    let change = match (recorded, new) {
        (Some(recorded), None) => format!("was {recorded} and is not"),
        (None, Some(new)) => format!("is {new} and was not"),
        (Some(recorded), Some(new)) => format!("was {recorded} and is {new}"),
        (None, None) => "changed format".to_owned(),
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
    if type_name.starts_with(['a', 'i', 'o']) {
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
