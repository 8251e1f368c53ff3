//! `application/x-www-form-urlencoded` bodies, field by field.

use serde_json::{Map, Value};

use tracetape::replay::values::form_fields;

/// The fields of a form as a JSON object: a field given once as a string
/// (`$.name`), a field given more than once as an array of its values in
/// order (`$.tag[0]`, `$.tag[1]`). Names and values are decoded (`+` is a
/// space, `%XX` a byte; invalid UTF-8 replaced); a field without `=` has
/// the empty value, and empty pieces (`a=1&&b=2`) are skipped.
pub(super) fn fields(text: &str) -> Value {
    let mut fields: Map<String, Value> = Map::new();
    for (name, value) in form_fields(text.trim()) {
        let value = Value::String(value);
        match fields.get_mut(&name) {
            None => {
                fields.insert(name, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let taken = std::mem::take(first);
                *first = Value::Array(vec![taken, value]);
            }
        }
    }
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_decoded_and_repeated_ones_are_arrays() {
        assert_eq!(
            fields("name=J%C3%B3+Doe&tag=a&tag=b&flag&&tag=c&odd=100%&e%3Dq=x%2By"),
            json!({
                "name": "Jó Doe",
                "tag": ["a", "b", "c"],
                "flag": "",
                "odd": "100%",
                "e=q": "x+y"
            })
        );
        assert_eq!(fields(""), json!({}));
        assert_eq!(fields("bad=%ff%fe"), json!({"bad": "\u{fffd}\u{fffd}"}));
    }
}
