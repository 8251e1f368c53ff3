//! A JSON Schema check for the subset of keywords
//! docs/replay-report.schema.json uses (`type`, `enum`, `required`,
//! `properties`, `additionalProperties`, `items`, `$ref` into `$defs`,
//! `minimum`); any other keyword fails the check, so the schema cannot
//! grow past what is checked.

use serde_json::Value;

/// Keywords that only describe.
const ANNOTATIONS: [&str; 4] = ["$schema", "$id", "title", "description"];

/// Fails the test when `report` breaks docs/replay-report.schema.json.
pub fn check_report(report: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("../../../../docs/replay-report.schema.json")).unwrap();
    assert_eq!(violations(&schema, report), Vec::<String>::new());
}

/// Every place where `value` breaks `schema`, as `$.path: what`.
pub fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(schema, schema, value, "$", &mut found);
    found
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else {
        found.push(format!("{at}: the schema here is not an object"));
        return;
    };
    for (keyword, rule) in keywords {
        match keyword.as_str() {
            "$ref" => {
                let target = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| root["$defs"].get(name));
                match target {
                    Some(target) => check(root, target, value, at, found),
                    None => found.push(format!("{at}: unresolved $ref {rule}")),
                }
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !types.iter().any(|t| is_type(value, t)) {
                    found.push(format!("{at}: {value} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|values| values.contains(value)) {
                    found.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "minimum" => {
                if let (Some(n), Some(min)) = (value.as_f64(), rule.as_f64())
                    && n < min
                {
                    found.push(format!("{at}: {n} is below {min}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(name) {
                            found.push(format!("{at}: missing {name}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (name, property) in rule.as_object().into_iter().flatten() {
                        if let Some(member) = object.get(name) {
                            check(root, property, member, &format!("{at}.{name}"), found);
                        }
                    }
                }
            }
            "additionalProperties" => {
                let declared = keywords.get("properties").and_then(Value::as_object);
                if let Some(object) = value.as_object() {
                    for (name, member) in object {
                        if declared.is_some_and(|d| d.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => found.push(format!("{at}: unexpected {name}")),
                            Value::Bool(true) => {}
                            other => check(root, other, member, &format!("{at}.{name}"), found),
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(root, rule, item, &format!("{at}[{i}]"), found);
                }
            }
            "$defs" => {}
            other if ANNOTATIONS.contains(&other) => {}
            other => found.push(format!("{at}: the check does not know the keyword {other}")),
        }
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_u64() || value.is_i64(),
        _ => false,
    }
}

#[test]
fn the_check_finds_what_breaks_a_schema() {
    let schema = serde_json::json!({
        "type": "object", "additionalProperties": false, "required": ["a", "b"],
        "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"type": ["string", "null"], "enum": ["x", null]}},
        "$defs": {"n": {"type": "integer", "minimum": 0}}
    });
    assert!(violations(&schema, &serde_json::json!({"a": 1, "b": null})).is_empty());
    assert_eq!(
        violations(&schema, &serde_json::json!({"a": -1.5, "c": 1})),
        [
            "$: unexpected c",
            "$: missing b",
            "$.a: -1.5 is not of type \"integer\"",
            "$.a: -1.5 is below 0",
        ]
    );
}
