//! Values cut to a length a report can show.

/// The most characters of a value a report shows; longer ones are cut
/// and end with `…`.
pub const MAX_VALUE_CHARS: usize = 200;

/// `text` cut after [`MAX_VALUE_CHARS`] characters, `…` marking the cut.
///
/// ```
/// use tracetape::replay::values::{MAX_VALUE_CHARS, clip};
///
/// assert_eq!(clip("short"), "short");
/// let long = "x".repeat(MAX_VALUE_CHARS + 1);
/// assert_eq!(clip(&long).chars().count(), MAX_VALUE_CHARS + 1);
/// assert!(clip(&long).ends_with('…'));
/// ```
#[must_use]
pub fn clip(text: &str) -> String {
    clip_after(text, MAX_VALUE_CHARS)
}

/// `text` cut after `max` characters, `…` marking the cut: [`clip`] for
/// what a report bounds otherwise (a JSON path, say).
///
/// ```
/// use tracetape::replay::values::clip_after;
///
/// assert_eq!(clip_after("$.abcdef", 4), "$.ab…");
/// assert_eq!(clip_after("$.a", 4), "$.a");
/// ```
#[must_use]
pub fn clip_after(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(MAX_VALUE_CHARS + 5);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("short"), "short");
        let exact = "x".repeat(MAX_VALUE_CHARS);
        assert_eq!(clip(&exact), exact);
    }
}
