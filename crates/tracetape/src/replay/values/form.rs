//! `application/x-www-form-urlencoded` bodies, field by field.

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

/// A query or form component with its `%XX` escapes decoded (a `%` not
/// followed by two hex digits kept as written) and, in a form body
/// (`plus_is_space`), `+` read as a space; read as UTF-8 with invalid
/// sequences replaced.
fn decode_component(text: &str, plus_is_space: bool) -> String {
    let escaped = text.contains('%') || (plus_is_space && text.contains('+'));
    if !escaped {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                at += 3;
            }
            None => {
                out.push(if plus_is_space && byte == b'+' {
                    b' '
                } else {
                    byte
                });
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
