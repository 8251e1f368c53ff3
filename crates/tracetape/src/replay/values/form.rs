//! `application/x-www-form-urlencoded` bodies, field by field.

use crate::http_attrs::decode_component;

/// The fields of a form body (`application/x-www-form-urlencoded`), in
/// the order written: names and values decoded (`+` is a space, `%XX` a
/// byte, a `%` not followed by two hex digits kept as written, invalid
/// UTF-8 replaced); a field without `=` has the empty value, and empty
/// pieces (`a=1&&b=2`) are skipped.
///
/// ```
/// use tracetape::replay::values::form_fields;
///
/// let fields: Vec<_> = form_fields("name=J%C3%BCrgen+K&tag=a&&tag").collect();
/// assert_eq!(
///     fields,
///     [
///         ("name".to_owned(), "Jürgen K".to_owned()),
///         ("tag".to_owned(), "a".to_owned()),
///         ("tag".to_owned(), String::new()),
///     ]
/// );
/// ```
pub fn form_fields(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    decoded_pairs(text, true)
}

/// The `key=value` pairs of a query or form body in the order written,
/// each side decoded by [`decode_component`]; a key without `=` has the
/// empty value, and empty pieces are skipped.
pub(crate) fn decoded_pairs(
    text: &str,
    plus_is_space: bool,
) -> impl Iterator<Item = (String, String)> + '_ {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(move |pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                decode_component(key, plus_is_space),
                decode_component(value, plus_is_space),
            )
        })
}
