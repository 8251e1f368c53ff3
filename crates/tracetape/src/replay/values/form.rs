//! `application/x-www-form-urlencoded` bodies, field by field.

use crate::http_attrs::decoded_pairs;

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
