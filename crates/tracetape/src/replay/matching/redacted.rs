//! Which recorded values redaction wrote, and so stand for any live value
//! at the [`Redacted`](super::Level::Redacted) level.

/// Whether `value`, as recorded, looks like something redaction wrote in
/// place of the original:
///
/// - `REDACTED`, `REDACTED:` and a hash, `REDACTED:REDACTED` (the keyed
///   hash of a rule or a default header, the signed query values and URL
///   credentials of the defaults): anything starting with `REDACTED`;
/// - a mask: one or more `*`, then at most the visible end, which holds no
///   `*` (`****`, `************1111`).
///
/// A value written by a `replace` rule is not recognised unless it has
/// one of these shapes (the documented `********` does). A literal value of
/// the same shape (`fields=*`) is taken as redacted too; that only lets it
/// match at the looser level.
pub(super) fn looks_redacted(value: &str) -> bool {
    if value.starts_with("REDACTED") {
        return true;
    }
    let visible = value.trim_start_matches('*');
    visible.len() < value.len() && !visible.contains('*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_shapes_are_recognised_and_other_values_are_not() {
        for redacted in [
            "REDACTED",
            "REDACTED:0123456789abcdef",
            "REDACTED:REDACTED",
            "*",
            "********",
            "************1111",
        ] {
            assert!(looks_redacted(redacted), "{redacted}");
        }
        for plain in ["", "redacted", "tea", "a*b", "1111****", "**1*1", "x*"] {
            assert!(!looks_redacted(plain), "{plain}");
        }
    }
}
