//! NDJSON / JSON Lines bodies: one JSON value per line.

use super::records::{Record, Records, Unit};

/// The records of an NDJSON body: each line that is not blank, JSON or
/// not (a line that is not JSON is compared as text).
pub(super) fn records(text: &str) -> Records {
    Records {
        unit: Unit::Line,
        items: lines(text)
            .map(|line| Record::new(line.to_owned()))
            .collect(),
    }
}

/// Whether every line that is not blank is a JSON value, and there are
/// at least `at_least` of them: how an NDJSON body is recognised when its
/// content type does not say.
pub(super) fn all_json(text: &str, at_least: usize) -> bool {
    let mut count = 0;
    for line in lines(text) {
        if serde_json::from_str::<serde::de::IgnoredAny>(line).is_err() {
            return false;
        }
        count += 1;
    }
    count >= at_least
}

/// The lines that are not blank, without their ends (`\n`, `\r\n`) or
/// surrounding whitespace.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_line_that_is_not_blank_is_a_record() {
        let records = records("{\"a\":1}\r\n\n  [2]  \nnot json\n");
        let json: Vec<_> = records.items.iter().map(|r| r.json.clone()).collect();
        assert_eq!(json, [Some(json!({"a": 1})), Some(json!([2])), None]);
        assert_eq!(records.items[2].text, "not json");
        assert!(records.items.iter().all(|r| r.fields.is_empty()));
    }

    #[test]
    fn all_json_needs_every_line_to_parse() {
        assert!(all_json("{\"a\":1}\n{\"a\":2}\n", 2));
        assert!(all_json("1\n\"two\"\nnull", 2));
        assert!(!all_json("{\"a\":1}\n", 2));
        assert!(all_json("{\"a\":1}\n", 1));
        assert!(!all_json("{\"a\":1}\nnope\n", 1));
        // A document over several lines is not NDJSON.
        assert!(!all_json("{\n\"a\": 1\n}\n", 1));
        assert!(all_json("", 0) && !all_json("\n", 1));
    }
}
