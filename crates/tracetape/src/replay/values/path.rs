//! Members of a JSON path, in the syntax of ignore and redaction rules.

/// Appends the member `name` to the JSON path `text`: `.name`, or
/// `['name']` when the name is not plain letters, digits, `_` and `-`
/// (`["name"]` when it holds a `'`). This is how a path to a body value
/// is written wherever replay names one, and how a rule
/// ([`JsonPath`](crate::record::JsonPath)) reads it back.
///
/// ```
/// use tracetape::replay::values::push_member;
///
/// let mut path = "$".to_owned();
/// push_member(&mut path, "order");
/// push_member(&mut path, "odd key");
/// push_member(&mut path, "it's");
/// assert_eq!(path, r#"$.order['odd key']["it's"]"#);
/// ```
pub fn push_member(text: &mut String, name: &str) {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        text.push('.');
        text.push_str(name);
    } else if name.contains('\'') {
        text.push_str(&format!("[\"{name}\"]"));
    } else {
        text.push_str(&format!("['{name}']"));
    }
}
