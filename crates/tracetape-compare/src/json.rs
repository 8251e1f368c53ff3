//! JSON documents compared value by value: object members by name (their
//! order ignored), array elements by position, numbers as written (an
//! integer is not a float) or by value, leaves through the dynamic-value
//! and redaction rules, and ignored paths skipped with everything below
//! them. Bodies of records (NDJSON lines, server-sent events) are walked
//! as one array of them, a record that is not JSON compared as text.

use std::collections::HashSet;
use std::ptr;

use serde_json::{Map, Number, Value};

use super::dynamic::{self, Dynamic, Hidden, Verdict};
use super::records::{Meta, Records, Unit};
use super::{Change, CompareOptions, Deviation, DeviationKind, jwt, suggest, tokens};
use tracetape::record::JsonPath;
use tracetape::replay::values::push_member;

/// The deviations between two documents, in document order; `ignore`
/// names values that are never deviations.
pub(super) fn compare_values(
    expected: Value,
    actual: Value,
    options: &CompareOptions,
    ignore: &[JsonPath],
) -> Vec<Deviation> {
    compare_document(expected, actual, None, options, ignore)
}

/// The deviations between two bodies of records, walked as arrays of
/// them (`$[2].total`): a count that changed, then each record both have,
/// its fields (an event's `event:`, `id:`) first; a record that is not
/// JSON on either side is compared as text.
pub(super) fn compare_records(
    expected: Records,
    actual: Records,
    options: &CompareOptions,
    ignore: &[JsonPath],
) -> Vec<Deviation> {
    let unit = expected.unit;
    let (expected, expected_meta) = expected.into_document();
    let (actual, actual_meta) = actual.into_document();
    let stream = Stream {
        unit,
        expected: expected_meta,
        actual: actual_meta,
    };
    compare_document(expected, actual, Some(stream), options, ignore)
}

fn compare_document(
    mut expected: Value,
    mut actual: Value,
    stream: Option<Stream>,
    options: &CompareOptions,
    ignore: &[JsonPath],
) -> Vec<Deviation> {
    let ignored = Ignored {
        expected: ignored(&mut expected, ignore),
        actual: ignored(&mut actual, ignore),
    };
    let mut walk = Walk {
        options,
        ignored,
        stream,
        path: Vec::new(),
        deviations: Vec::new(),
    };
    walk.value(&expected, &actual);
    walk.deviations
}

/// The values `paths` name in `document`, by address. The paths are
/// applied by the same walk that redaction uses, so they mean the same
/// thing here; the document is not changed afterwards, so the addresses
/// stay those of its values.
fn ignored(document: &mut Value, paths: &[JsonPath]) -> HashSet<*const Value> {
    let mut found = HashSet::new();
    for path in paths {
        path.for_each_mut(document, &mut |value| {
            found.insert(ptr::from_ref::<Value>(value));
        });
    }
    found
}

/// The ignored values of each side.
struct Ignored {
    expected: HashSet<*const Value>,
    actual: HashSet<*const Value>,
}

impl Ignored {
    fn expected(&self, value: &Value) -> bool {
        self.expected.contains(&ptr::from_ref(value))
    }

    fn actual(&self, value: &Value) -> bool {
        self.actual.contains(&ptr::from_ref(value))
    }
}

/// One step from a value to a child.
#[derive(Debug, Clone, Copy)]
enum Step<'d> {
    Member(&'d str),
    Index(usize),
}

/// What the records of a body of records hold besides their values.
struct Stream {
    unit: Unit,
    expected: Vec<Meta>,
    actual: Vec<Meta>,
}

struct Walk<'d, 'o> {
    options: &'o CompareOptions,
    ignored: Ignored,
    /// For a body of records, the rest of each record.
    stream: Option<Stream>,
    /// Where the values being compared are.
    path: Vec<Step<'d>>,
    deviations: Vec<Deviation>,
}

impl<'d> Walk<'d, '_> {
    fn value(&mut self, expected: &'d Value, actual: &'d Value) {
        if self.ignored.expected(expected) || self.ignored.actual(actual) {
            return;
        }
        if let Some(index) = self.record_index() {
            self.fields(index);
            if self.text_record(index) {
                return;
            }
        }
        if self.options.redacted
            && let Value::String(recorded) = expected
            && let Some(hidden) = Hidden::of(recorded)
            && hidden.covers(&text(actual))
        {
            return;
        }
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => self.object(e, a),
            (Value::Array(e), Value::Array(a)) => self.array(e, a),
            (Value::String(e), Value::String(a)) => self.strings(e, a, expected, actual),
            (Value::Number(e), Value::Number(a)) => {
                if !self.options.numbers_by_value && e.is_f64() != a.is_f64() {
                    self.number_type_changed(e, a);
                } else if !numbers_equal(e, a) {
                    let kinds = (Dynamic::of_number(e), Dynamic::of_number(a));
                    self.leaf_changed(kinds, expected, actual);
                }
            }
            (Value::Bool(e), Value::Bool(a)) => {
                if e != a {
                    self.leaf_changed((None, None), expected, actual);
                }
            }
            (Value::Null, Value::Null) => {}
            _ => self.type_changed(expected, actual),
        }
    }

    /// Members by name: the recorded ones in their order, then the new
    /// ones in theirs.
    fn object(&mut self, expected: &'d Map<String, Value>, actual: &'d Map<String, Value>) {
        for (name, recorded) in expected {
            self.path.push(Step::Member(name));
            match actual.get(name) {
                Some(new) => self.value(recorded, new),
                None if self.ignored.expected(recorded) => {}
                None => {
                    let shown = compact(recorded);
                    self.push(
                        Deviation::new(
                            DeviationKind::Body,
                            Change::Missing,
                            format!("missing (expected {shown})"),
                        )
                        .with_values(Some(&shown), None)
                        .with_suggestion(suggest::missing(&self.path_text(true))),
                    );
                }
            }
            self.path.pop();
        }
        for (name, new) in actual {
            if expected.contains_key(name) || self.ignored.actual(new) {
                continue;
            }
            self.path.push(Step::Member(name));
            let shown = compact(new);
            self.push(
                Deviation::new(
                    DeviationKind::Body,
                    Change::Unexpected,
                    format!("unexpected (actual {shown})"),
                )
                .with_values(None, Some(&shown))
                .with_suggestion(suggest::unexpected(&self.path_text(true))),
            );
            self.path.pop();
        }
    }

    /// Elements by position: a length that changed, then the elements
    /// both arrays have.
    fn array(&mut self, expected: &'d [Value], actual: &'d [Value]) {
        let common = expected.len().min(actual.len());
        let (extra, recorded_side) = if expected.len() > common {
            (&expected[common..], true)
        } else {
            (&actual[common..], false)
        };
        let ignored = |value: &Value| {
            if recorded_side {
                self.ignored.expected(value)
            } else {
                self.ignored.actual(value)
            }
        };
        if !extra.iter().all(ignored) {
            let (e, a) = (expected.len(), actual.len());
            let which = if recorded_side { "missing" } else { "added" };
            let extra = compact_all(extra);
            let noun = match &self.stream {
                Some(stream) if self.path.is_empty() => stream.unit.noun(),
                _ => "element",
            };
            let message = if noun == "element" {
                format!("array length changed from {e} to {a}")
            } else {
                format!("{noun} count changed from {e} to {a}")
            };
            self.push(
                Deviation::new(DeviationKind::Body, Change::ArrayLength, message)
                    .with_values(Some(&compact_all(expected)), Some(&compact_all(actual)))
                    .with_detail(format!(
                        "{} expected, {a} found; {which}: {extra}",
                        counted(e, noun)
                    ))
                    .with_suggestion(suggest::array_length(e, a, noun)),
            );
        }
        for (index, (recorded, new)) in expected.iter().zip(actual).enumerate() {
            self.path.push(Step::Index(index));
            self.value(recorded, new);
            self.path.pop();
        }
    }

    fn strings(&mut self, e: &str, a: &str, expected: &'d Value, actual: &'d Value) {
        if e == a {
            return;
        }
        if self.options.jwts
            && let Some(differences) = jwt::differences(e, a, self.options)
        {
            if !differences.is_empty() {
                let (recorded, new) = (compact(expected), compact(actual));
                self.push(
                    jwt::deviation(DeviationKind::Body, &differences)
                        .with_values(Some(&recorded), Some(&new)),
                );
            }
            return;
        }
        self.leaf_changed((Dynamic::of_str(e), Dynamic::of_str(a)), expected, actual);
    }

    /// Two leaves of one type that differ, unless both are dynamic alike.
    fn leaf_changed(
        &mut self,
        kinds: (Option<Dynamic>, Option<Dynamic>),
        expected: &Value,
        actual: &Value,
    ) {
        let verdict = dynamic::judge(kinds, (&text(expected), &text(actual)), self.options);
        let (recorded, new) = (compact(expected), compact(actual));
        let path = self.path_text(true);
        let (message, suggestion) = match verdict {
            Verdict::Forgiven => return,
            Verdict::Clock(why) => (why, suggest::clock(Some(&path), self.options)),
            Verdict::Deviates => (
                format!("expected {recorded}, actual {new}"),
                suggest::changed_value(&path, self.leaf_name(), kinds, (expected, actual)),
            ),
        };
        self.push(
            Deviation::new(DeviationKind::Body, Change::Changed, message)
                .with_values(Some(&recorded), Some(&new))
                .with_suggestion(suggestion),
        );
    }

    /// An integer that became a float, or the other way round.
    fn number_type_changed(&mut self, expected: &Number, actual: &Number) {
        let (recorded, new) = (expected.to_string(), actual.to_string());
        let name = |number: &Number| if number.is_f64() { "float" } else { "integer" };
        let (from, to) = (name(expected), name(actual));
        self.push(
            Deviation::new(
                DeviationKind::Body,
                Change::TypeChanged,
                format!("type changed from {from} to {to}: expected {recorded}, actual {new}"),
            )
            .with_values(Some(&recorded), Some(&new))
            .with_suggestion(suggest::number_type(from, to)),
        );
    }

    /// The index of the record being compared, when the walk is at one.
    fn record_index(&self) -> Option<usize> {
        match (&self.stream, self.path.as_slice()) {
            (Some(_), [Step::Index(index)]) => Some(*index),
            _ => None,
        }
    }

    /// The records at `index` on both sides, when there are.
    fn metas(&self, index: usize) -> Option<(&Meta, &Meta)> {
        let stream = self.stream.as_ref()?;
        Some((stream.expected.get(index)?, stream.actual.get(index)?))
    }

    /// The fields beside the record at `index` (an event's `event:`,
    /// `id:`), each compared as text with the dynamic rules.
    fn fields(&mut self, index: usize) {
        let Some((expected, actual)) = self.metas(index) else {
            return;
        };
        let mut found = Vec::new();
        for (name, recorded) in &expected.fields {
            let field = format!("`{name}:`");
            let deviation = match actual.fields.iter().find(|(other, _)| other == name) {
                Some((_, new)) => {
                    let message = match tokens::compare_texts(recorded, new, self.options) {
                        Verdict::Forgiven => continue,
                        Verdict::Clock(why) => format!("{field} {why}"),
                        Verdict::Deviates => format!(
                            "{field} expected {}, actual {}",
                            quoted(recorded),
                            quoted(new)
                        ),
                    };
                    Deviation::new(DeviationKind::Body, Change::Changed, message)
                        .with_values(Some(recorded), Some(new))
                }
                None => Deviation::new(
                    DeviationKind::Body,
                    Change::Missing,
                    format!("{field} missing (expected {})", quoted(recorded)),
                )
                .with_values(Some(recorded), None),
            };
            found.push(deviation.with_suggestion(suggest::field(name)));
        }
        for (name, new) in &actual.fields {
            if expected.fields.iter().all(|(other, _)| other != name) {
                found.push(
                    Deviation::new(
                        DeviationKind::Body,
                        Change::Unexpected,
                        format!("`{name}:` unexpected (actual {})", quoted(new)),
                    )
                    .with_values(None, Some(new))
                    .with_suggestion(suggest::field(name)),
                );
            }
        }
        for deviation in found {
            self.push(deviation);
        }
    }

    /// The record at `index` when it is not JSON on one side or both:
    /// compared as text (dynamic values in it forgiven alike). Whether it
    /// was.
    fn text_record(&mut self, index: usize) -> bool {
        let Some((expected, actual)) = self.metas(index) else {
            return false;
        };
        if expected.json && actual.json {
            return false;
        }
        let (recorded, new) = (expected.text.clone(), actual.text.clone());
        let noun = self.stream.as_ref().map_or("record", |s| s.unit.noun());
        let deviation = if expected.json == actual.json {
            let (message, suggestion) = match tokens::compare_texts(&recorded, &new, self.options) {
                Verdict::Forgiven => return true,
                Verdict::Clock(why) => (
                    why,
                    suggest::clock(Some(&self.path_text(false)), self.options),
                ),
                Verdict::Deviates => (
                    format!("expected {}, actual {}", quoted(&recorded), quoted(&new)),
                    suggest::body(),
                ),
            };
            Deviation::new(DeviationKind::Body, Change::Changed, message)
                .with_suggestion(suggestion)
        } else {
            let change = if expected.json {
                "was JSON and is not"
            } else {
                "is JSON and was not"
            };
            Deviation::new(
                DeviationKind::Body,
                Change::TypeChanged,
                format!(
                    "the {noun} {change}: expected {}, actual {}",
                    one_line(&recorded),
                    one_line(&new)
                ),
            )
            .with_suggestion(suggest::record_format(noun, expected.json))
        };
        self.push(deviation.with_values(Some(&recorded), Some(&new)));
        true
    }

    fn type_changed(&mut self, expected: &Value, actual: &Value) {
        let (recorded, new) = (compact(expected), compact(actual));
        let (from, to) = (type_name(expected), type_name(actual));
        self.push(
            Deviation::new(
                DeviationKind::Body,
                Change::TypeChanged,
                format!("type changed from {from} to {to}: expected {recorded}, actual {new}"),
            )
            .with_values(Some(&recorded), Some(&new))
            .with_suggestion(suggest::type_changed(from, to)),
        );
    }

    /// Adds `deviation` at the current path.
    fn push(&mut self, deviation: Deviation) {
        let path = self.path_text(false);
        self.deviations.push(deviation.with_path(path));
    }

    /// The current path; with `generalised`, every index as `[*]`, as an
    /// ignore rule would name it.
    fn path_text(&self, generalised: bool) -> String {
        let mut text = String::from("$");
        for step in &self.path {
            match step {
                Step::Member(name) => push_member(&mut text, name),
                Step::Index(_) if generalised => text.push_str("[*]"),
                Step::Index(index) => text.push_str(&format!("[{index}]")),
            }
        }
        text
    }

    /// The name of the member being compared, if the last step is one.
    fn leaf_name(&self) -> Option<&'d str> {
        match self.path.last() {
            Some(Step::Member(name)) => Some(name),
            _ => None,
        }
    }
}

/// Equal by value: integers exactly, anything with a fraction or exponent
/// as a float (`1.0` equals `1`).
fn numbers_equal(expected: &Number, actual: &Number) -> bool {
    if let (Some(e), Some(a)) = (expected.as_i64(), actual.as_i64()) {
        return e == a;
    }
    if let (Some(e), Some(a)) = (expected.as_u64(), actual.as_u64()) {
        return e == a;
    }
    matches!((expected.as_f64(), actual.as_f64()), (Some(e), Some(a)) if e == a)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string's text, or anything else as compact JSON: what a redacted or
/// masked value was made from.
fn text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(text) => text.into(),
        other => other.to_string().into(),
    }
}

/// `n elements`, `1 line`.
fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// A record's text as written, or quoted when it spans lines (an event's
/// data), so that a message stays on one line.
fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        quoted(text)
    } else {
        text.to_owned()
    }
}

/// Text as a JSON string, quoted and escaped.
fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// Compact JSON.
fn compact(value: &Value) -> String {
    value.to_string()
}

/// Elements as one compact JSON array.
fn compact_all(values: &[Value]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn compare_with(expected: Value, actual: Value, options: &CompareOptions) -> Vec<Deviation> {
        compare_values(expected, actual, options, &options.ignore)
    }

    fn compare(expected: Value, actual: Value) -> Vec<Deviation> {
        compare_with(expected, actual, &CompareOptions::default())
    }

    /// Each deviation as `path change`.
    fn places(deviations: &[Deviation]) -> Vec<String> {
        deviations
            .iter()
            .map(|d| format!("{} {:?}", d.path.as_deref().unwrap_or("-"), d.change))
            .collect()
    }

    fn ignoring(paths: &[&str]) -> CompareOptions {
        paths
            .iter()
            .fold(CompareOptions::default(), |options, path| {
                options.with_ignore(path.parse().unwrap())
            })
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn key_order_is_ignored_and_numbers_compare_by_value_within_their_type() {
        let deviations = compare(
            parsed(r#"{"a": 1, "b": {"c": [1.5, -2], "d": 1.0}, "e": 100.25}"#),
            parsed(r#"{"b": {"d": 1.00, "c": [15e-1, -2]}, "e": 10025e-2, "a": 1}"#),
        );
        assert!(deviations.is_empty(), "{deviations:?}");
        // Large integers exactly.
        let deviations = compare(json!(u64::MAX), json!(u64::MAX - 1));
        assert_eq!(places(&deviations), ["$ Changed"]);
        assert!(compare(json!(-5), json!(-5)).is_empty());
    }

    /// Guards against `2` becoming `2.0` (or back) passing: a client that
    /// reads the field as an integer would reject the new response.
    #[test]
    fn an_integer_that_became_a_float_is_a_deviation_unless_by_value() {
        let (recorded, new) = (
            parsed(r#"{"qty": 2, "price": 1.0, "big": 100, "neg": -5}"#),
            parsed(r#"{"qty": 2.0, "price": 1, "big": 1e2, "neg": -5.0}"#),
        );
        let deviations = compare(recorded.clone(), new.clone());
        assert_eq!(
            places(&deviations),
            [
                "$.qty TypeChanged",
                "$.price TypeChanged",
                "$.big TypeChanged",
                "$.neg TypeChanged"
            ]
        );
        let qty = &deviations[0];
        assert_eq!(
            qty.to_string(),
            "body $.qty: type changed from integer to float: expected 2, actual 2.0"
        );
        assert_eq!(
            (qty.expected.as_deref(), qty.actual.as_deref()),
            (Some("2"), Some("2.0"))
        );
        assert!(
            qty.suggestion.contains("numbers_by_value = true"),
            "{}",
            qty.suggestion
        );
        assert_eq!(
            deviations[1].message,
            "type changed from float to integer: expected 1.0, actual 1"
        );
        // By value, all four are the same numbers; other values still differ.
        let by_value = CompareOptions {
            numbers_by_value: true,
            ..CompareOptions::default()
        };
        assert!(compare_with(recorded, new, &by_value).is_empty());
        assert_eq!(
            places(&compare_with(json!(2), json!(2.5), &by_value)),
            ["$ Changed"]
        );
    }

    #[test]
    fn a_changed_value_names_its_path_and_both_values() {
        let deviations = compare(
            json!({"order": {"total": 12.5, "note": "gift", "paid": true}}),
            json!({"order": {"total": 13.5, "note": "gift", "paid": false}}),
        );
        assert_eq!(
            places(&deviations),
            ["$.order.total Changed", "$.order.paid Changed"]
        );
        let total = &deviations[0];
        assert_eq!(total.kind, DeviationKind::Body);
        assert_eq!(total.expected.as_deref(), Some("12.5"));
        assert_eq!(total.actual.as_deref(), Some("13.5"));
        assert_eq!(
            total.to_string(),
            "body $.order.total: expected 12.5, actual 13.5"
        );
    }

    #[test]
    fn missing_unexpected_and_type_changes() {
        let deviations = compare(
            json!({"id": "o-1", "note": "gift", "total": 12.5, "items": []}),
            json!({"id": "o-1", "total": "12.5", "items": {}, "coupon": null}),
        );
        assert_eq!(
            places(&deviations),
            [
                "$.note Missing",
                "$.total TypeChanged",
                "$.items TypeChanged",
                "$.coupon Unexpected"
            ]
        );
        assert_eq!(
            deviations[0].to_string(),
            r#"body $.note: missing (expected "gift")"#
        );
        assert_eq!(deviations[0].actual, None);
        assert_eq!(
            deviations[3].to_string(),
            "body $.coupon: unexpected (actual null)"
        );
        assert_eq!(deviations[3].expected, None);
        assert_eq!(
            deviations[1].message,
            r#"type changed from number to string: expected 12.5, actual "12.5""#
        );
        // The whole document of another type.
        assert_eq!(places(&compare(json!([]), json!({}))), ["$ TypeChanged"]);
    }

    #[test]
    fn an_array_length_change_still_compares_the_common_prefix() {
        let deviations = compare(
            json!({"items": [{"sku": "tea", "qty": 1}, {"sku": "mug", "qty": 2}]}),
            json!({"items": [{"sku": "tea", "qty": 3}, {"sku": "mug", "qty": 2}, {"sku": "pot"}]}),
        );
        assert_eq!(
            places(&deviations),
            ["$.items ArrayLength", "$.items[0].qty Changed"]
        );
        let length = &deviations[0];
        assert_eq!(length.message, "array length changed from 2 to 3");
        assert_eq!(
            length.detail.as_deref(),
            Some(r#"2 elements expected, 3 found; added: [{"sku":"pot"}]"#)
        );
        let shorter = compare(json!([1, 2, 3]), json!([1]));
        assert_eq!(places(&shorter), ["$ ArrayLength"]);
        assert!(
            shorter[0]
                .detail
                .as_deref()
                .unwrap()
                .ends_with("missing: [2,3]")
        );
    }

    #[test]
    fn paths_quote_odd_member_names() {
        let deviations = compare(
            json!({"odd key": 1, "it's": 1, "a.b": 1, "": 1, "x-y_z": [0, {"k": 1}]}),
            json!({"odd key": 2, "it's": 2, "a.b": 2, "": 2, "x-y_z": [0, {"k": 2}]}),
        );
        assert_eq!(
            places(&deviations),
            [
                "$['odd key'] Changed",
                r#"$["it's"] Changed"#,
                "$['a.b'] Changed",
                "$[''] Changed",
                "$.x-y_z[1].k Changed"
            ]
        );
        // What is printed parses back as the path it names.
        for deviation in &deviations[..3] {
            deviation
                .path
                .as_deref()
                .unwrap()
                .parse::<JsonPath>()
                .unwrap();
        }
    }

    #[test]
    fn ignored_paths_are_never_deviations() {
        let expected = json!({
            "order": {"id": "o-1", "created_at": "yesterday", "total": 1},
            "items": [{"id": "a", "qty": 1}, {"id": "b", "qty": 2}],
            "meta": {"etag": "x", "deep": [{"etag": "y"}]},
            "gone": {"etag": "z"}
        });
        let actual = json!({
            "order": {"id": "o-1", "total": 1},
            "items": [{"id": "c", "qty": 1}, {"id": "d", "qty": 2}],
            "meta": {"deep": [{"etag": "w"}, {"etag": "new"}], "etag": "v"},
            "fresh": {"etag": "n"}
        });
        let options = ignoring(&["$.order.created_at", "$.items[*].id", "$..etag"]);
        let deviations = compare_with(expected.clone(), actual.clone(), &options);
        // Missing on one side is ignored too (`created_at`, the new
        // `meta.etag`); what holds an ignored value is not ignored with it
        // (the new element of `deep`, `gone`, `fresh`).
        assert_eq!(
            places(&deviations),
            [
                "$.meta.deep ArrayLength",
                "$.gone Missing",
                "$.fresh Unexpected"
            ],
            "{deviations:#?}"
        );
        // Without the rules, each shows.
        let deviations = compare(expected, actual);
        assert_eq!(
            places(&deviations),
            [
                "$.order.created_at Missing",
                "$.items[0].id Changed",
                "$.items[1].id Changed",
                "$.meta.etag Changed",
                "$.meta.deep ArrayLength",
                "$.meta.deep[0].etag Changed",
                "$.gone Missing",
                "$.fresh Unexpected"
            ]
        );
    }

    #[test]
    fn an_ignored_value_hides_everything_below_it() {
        let options = ignoring(&["$.debug", "$.list[-1]"]);
        let deviations = compare_with(
            json!({"debug": {"a": 1, "b": [1]}, "list": [1, 2, 3]}),
            json!({"debug": [], "list": [1, 2, 4]}),
            &options,
        );
        assert!(deviations.is_empty(), "{deviations:?}");
        // A negative index counts from each side's own end: the last
        // elements (3 and 9) are ignored, the 4 in between is not.
        let deviations = compare_with(
            json!({"list": [1, 2, 3]}),
            json!({"list": [7, 2, 3, 4, 9]}),
            &options,
        );
        assert_eq!(
            places(&deviations),
            ["$.list ArrayLength", "$.list[0] Changed"]
        );
        // Only an ignored element more: the length change is ignored too.
        let deviations = compare_with(
            json!({"list": [1, 2, 3]}),
            json!({"list": [1, 2, 3, 9]}),
            &options,
        );
        assert!(deviations.is_empty(), "{deviations:?}");
    }

    #[test]
    fn uuids_on_both_sides_are_not_deviations() {
        let e = json!({"id": "6f1c2e9a-3b4d-4c5e-8f70-112233445566"});
        let a = json!({"id": "01890A5D-AC96-774B-BCCE-B302099A8057"});
        assert!(compare(e.clone(), a.clone()).is_empty());
        // A UUID on one side only is.
        let deviations = compare(e.clone(), json!({"id": "order-1"}));
        assert_eq!(places(&deviations), ["$.id Changed"]);
        assert!(
            deviations[0].suggestion.contains("was a UUID"),
            "{}",
            deviations[0].suggestion
        );
        assert_eq!(
            places(&compare(json!({"id": "order-1"}), a.clone())),
            ["$.id Changed"]
        );
        // The rule can be turned off.
        let options = CompareOptions {
            uuids: false,
            ..CompareOptions::default()
        };
        let deviations = compare_with(e, a, &options);
        assert_eq!(places(&deviations), ["$.id Changed"]);
        assert!(deviations[0].suggestion.contains("`uuids`"));
    }

    fn without_window() -> CompareOptions {
        CompareOptions::default().with_time_window(None)
    }

    #[test]
    fn timestamps_on_both_sides_are_not_deviations() {
        let e = json!({"at": "2025-01-02T03:04:05Z"});
        let later = json!({"at": "2025-03-04T10:11:12.345+01:00"});
        assert!(compare_with(e.clone(), later.clone(), &without_window()).is_empty());
        // Within the default window of a minute, the same.
        assert!(compare(e.clone(), json!({"at": "2025-01-02T04:04:50+01:00"})).is_empty());
        assert_eq!(
            places(&compare(e.clone(), json!({"at": "soon"}))),
            ["$.at Changed"]
        );
        // A timestamp that became a date is a deviation.
        assert_eq!(
            places(&compare(e.clone(), json!({"at": "2025-03-04"}))),
            ["$.at Changed"]
        );
        let options = CompareOptions {
            timestamps: false,
            ..without_window()
        };
        let deviations = compare_with(e, json!({"at": "2025-03-04T10:11:12Z"}), &options);
        assert_eq!(places(&deviations), ["$.at Changed"]);
    }

    /// Guards against a timestamp that moved by days passing while replay
    /// sets the service's clock to the recorded time.
    #[test]
    fn a_timestamp_outside_the_window_says_how_far_it_is() {
        let deviations = compare(
            json!({"order": {"shipped_at": "2026-12-03T05:00:00Z"}}),
            json!({"order": {"shipped_at": "2026-12-06T05:00:00Z"}}),
        );
        assert_eq!(places(&deviations), ["$.order.shipped_at Changed"]);
        let deviation = &deviations[0];
        assert_eq!(
            deviation.to_string(),
            "body $.order.shipped_at: timestamp 2026-12-06T05:00:00Z is 3 days after the \
             recorded 2026-12-03T05:00:00Z (window 60s)"
        );
        assert_eq!(
            deviation.actual.as_deref(),
            Some(r#""2026-12-06T05:00:00Z""#)
        );
        assert!(
            deviation.suggestion.contains("`time_window` (60s)")
                && deviation
                    .suggestion
                    .ends_with("add an ignore rule for $.order.shipped_at"),
            "{}",
            deviation.suggestion
        );
        // A wider window forgives it.
        let wide = CompareOptions::default()
            .with_time_window(Some(std::time::Duration::from_secs(4 * 86_400)));
        assert!(
            compare_with(
                json!("2026-12-03T05:00:00Z"),
                json!("2026-12-06T05:00:00Z"),
                &wide
            )
            .is_empty()
        );
    }

    #[test]
    fn dates_on_both_sides_are_not_deviations_without_a_window() {
        let e = json!(["2025-01-02"]);
        assert!(compare_with(e.clone(), json!(["2024-02-29"]), &without_window()).is_empty());
        assert_eq!(
            places(&compare_with(
                e.clone(),
                json!(["2024-02-30"]),
                &without_window()
            )),
            ["$[0] Changed"]
        );
        let options = CompareOptions {
            dates: false,
            ..without_window()
        };
        assert_eq!(
            places(&compare_with(e, json!(["2024-02-29"]), &options)),
            ["$[0] Changed"]
        );
    }

    /// Guards against `due_date = today + 30 days` becoming `+ 14 days`
    /// passing: with the clock under control, a date must be the recorded
    /// one.
    #[test]
    fn with_a_window_dates_must_be_equal() {
        let recorded = json!({"due_date": "2027-01-02"});
        assert!(compare(recorded.clone(), recorded.clone()).is_empty());
        let deviations = compare(recorded.clone(), json!({"due_date": "2026-12-17"}));
        assert_eq!(places(&deviations), ["$.due_date Changed"]);
        assert_eq!(
            deviations[0].message,
            "date 2026-12-17 is 16 days before the recorded 2027-01-02 (with a time window, \
             dates must be equal)"
        );
        assert!(deviations[0].suggestion.contains("today + 30 days"));
        // Without a window, any date is forgiven.
        assert!(
            compare_with(
                recorded,
                json!({"due_date": "2026-12-17"}),
                &without_window()
            )
            .is_empty()
        );
    }

    #[test]
    fn epochs_on_both_sides_are_not_deviations() {
        let e = json!({"s": 1_735_787_045, "ms": 1_735_787_045_123_u64, "text": "1735787045"});
        let a = json!({"s": 1_741_000_000, "ms": 1_741_000_000_000_u64, "text": "1741000000"});
        assert!(compare_with(e.clone(), a.clone(), &without_window()).is_empty());
        // Within the window, the same; outside it, a deviation that says why.
        let near = json!({"s": 1_735_787_100, "ms": 1_735_787_045_999_u64, "text": "1735787000"});
        assert!(compare(e.clone(), near).is_empty());
        let deviations = compare(e.clone(), a.clone());
        assert_eq!(
            places(&deviations),
            ["$.s Changed", "$.ms Changed", "$.text Changed"]
        );
        assert!(
            deviations[0]
                .message
                .starts_with("epoch time (seconds) 1741000000 is 60.3 days after"),
            "{}",
            deviations[0].message
        );
        // Fractional seconds on both sides: floats alike.
        assert!(compare(json!(1_735_787_045.25), json!(1_735_787_046.5)).is_empty());
        // Seconds that became milliseconds, or a small number, are deviations.
        let deviations = compare(
            e.clone(),
            json!({"s": 1_741_000_000_000_u64, "ms": 42, "text": "soon"}),
        );
        assert_eq!(
            places(&deviations),
            ["$.s Changed", "$.ms Changed", "$.text Changed"]
        );
        // A number that became a numeric string changed type.
        assert_eq!(
            places(&compare(json!(1_735_787_045), json!("1735787045"))),
            ["$ TypeChanged"]
        );
        let options = CompareOptions {
            epochs: false,
            ..without_window()
        };
        assert_eq!(compare_with(e, a, &options).len(), 3);
    }

    #[test]
    fn jwts_compare_by_claims() {
        use super::jwt::tests::{claims, header, token};
        let recorded = json!({"token": token(&header(), &claims("alice", 1_735_787_045))});
        // New iat, exp, nbf, auth_time and jti: the same token as far as replay goes.
        let reissued = json!({"token": token(&header(), &claims("alice", 1_741_000_000))});
        assert!(compare(recorded.clone(), reissued.clone()).is_empty());
        // Another subject is a deviation, at the token's path.
        let other = json!({"token": token(&header(), &claims("bob", 1_741_000_000))});
        let deviations = compare(recorded.clone(), other);
        assert_eq!(places(&deviations), ["$.token Changed"]);
        assert_eq!(deviations[0].message, "the JWTs differ in payload $.sub");
        assert_eq!(
            deviations[0].detail.as_deref(),
            Some(r#"payload $.sub: expected "alice", actual "bob""#)
        );
        // A JWT on one side only.
        let deviations = compare(recorded.clone(), json!({"token": "opaque"}));
        assert!(
            deviations[0].suggestion.contains("was a JWT"),
            "{deviations:?}"
        );
        // With the rule off, tokens are strings.
        let options = CompareOptions {
            jwts: false,
            ..CompareOptions::default()
        };
        assert_eq!(
            places(&compare_with(recorded, reissued, &options)),
            ["$.token Changed"]
        );
    }

    #[test]
    fn redacted_and_masked_recorded_values_match_anything() {
        let recorded = json!({
            "card": "************1111",
            "cvc": "***",
            "secret": "REDACTED:0123456789abcdef",
            "token": "REDACTED",
            "pin": "****",
            "nested": "REDACTED:fedcba9876543210"
        });
        let actual = json!({
            "card": 4_111_111_111_111_111_u64,
            "cvc": "123",
            "secret": "hunter2",
            "token": {"a": 1},
            "pin": 1234,
            "nested": [1, 2]
        });
        assert!(compare(recorded.clone(), actual.clone()).is_empty());
        // A mask that shows the end still checks it, and presence counts.
        let deviations = compare(
            recorded.clone(),
            json!({"card": "4111111111112222", "cvc": "1", "secret": "s", "token": "t", "pin": 1}),
        );
        assert_eq!(places(&deviations), ["$.card Changed", "$.nested Missing"]);
        // Only the recorded side: a new value that looks redacted is compared.
        assert_eq!(
            places(&compare(json!("x"), json!("REDACTED"))),
            ["$ Changed"]
        );
        let options = CompareOptions {
            redacted: false,
            ..CompareOptions::default()
        };
        assert_eq!(compare_with(recorded, actual, &options).len(), 6);
    }

    #[test]
    fn suggestions_point_at_an_ignore_rule_for_volatile_looking_values() {
        let deviations = compare(
            json!({"order": {"created_at": "yesterday"}, "items": [{"request_id": "a1b2c3d4e5"}]}),
            json!({"order": {"created_at": "today"}, "items": [{"request_id": "f6a7b8c9d0"}]}),
        );
        assert_eq!(
            deviations[0].suggestion,
            "add an ignore rule for $.order.created_at"
        );
        assert_eq!(
            deviations[1].suggestion,
            "add an ignore rule for $.items[*].request_id"
        );
        // A value that does not look volatile: record again, or ignore.
        let deviations = compare(json!({"total": 12.5}), json!({"total": 13.5}));
        assert!(
            deviations[0]
                .suggestion
                .starts_with("if the new value is intended"),
            "{}",
            deviations[0].suggestion
        );
        // No ignore rule names the root.
        let deviations = compare(json!("a"), json!("b"));
        assert!(!deviations[0].suggestion.contains("ignore rule"));
    }
}
