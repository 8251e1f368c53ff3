//! Dynamic values inside lines of text: each line cut into tokens at
//! whitespace and at punctuation none of those values holds, so that a
//! UUID, timestamp, date, epoch or JWT that changed between two lines
//! otherwise alike is forgiven by the same rules as a JSON value.
//!
//! Tokens are runs of ASCII letters, digits, `-`, `_`, `.`, `:` and `+`;
//! `.` and `:` at either end of a run are punctuation (`at 12:00.`,
//! `id: 6f1c...`), and a run that is not a value as a whole is tried
//! again on each side of its first `:` (`request:6f1c...`). A date
//! followed by one space and a time is one timestamp
//! (`2025-01-02 03:04:05`).

use super::dynamic::{self, Dynamic, Verdict};
use super::{CompareOptions, jwt};

/// Marks a dynamic value in a line's shape; a literal one is doubled.
const MARK: char = '\u{0}';

/// A line of text with the dynamic values in it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line<'t> {
    text: &'t str,
    /// The line with each dynamic value replaced by [`MARK`] and `*`.
    shape: String,
    /// The dynamic values, in order.
    values: Vec<(Dynamic, &'t str)>,
}

impl<'t> Line<'t> {
    /// Finds the dynamic values in `text`.
    pub(super) fn scan(text: &'t str) -> Self {
        let mut line = Self {
            text,
            shape: String::with_capacity(text.len()),
            values: Vec::new(),
        };
        let mut at = 0;
        while at < text.len() {
            let rest = &text[at..];
            let run = rest.len() - rest.trim_start_matches(is_token_char).len();
            if run == 0 {
                let Some(c) = rest.chars().next() else { break };
                line.literal(&rest[..c.len_utf8()]);
                at += c.len_utf8();
                continue;
            }
            let mut end = at + run;
            // `2025-01-02 03:04:05`: a date, a space and a time.
            if let Some(after) = text[end..].strip_prefix(' ')
                && is_date(&text[at..end])
            {
                let time = after.len() - after.trim_start_matches(is_token_char).len();
                let joined = &text[at..end + 1 + time];
                if Dynamic::of_str(joined.trim_end_matches(['.', ':'])) == Some(Dynamic::Timestamp)
                {
                    end += 1 + time;
                }
            }
            line.run(&text[at..end]);
            at = end;
        }
        line
    }

    /// A run of token characters: its punctuation at either end kept as
    /// written, the rest a value or tried in pieces.
    fn run(&mut self, run: &'t str) {
        let trimmed = run.trim_start_matches(['.', ':']);
        let lead = &run[..run.len() - trimmed.len()];
        let token = trimmed.trim_end_matches(['.', ':']);
        let trail = &trimmed[token.len()..];
        self.literal(lead);
        self.piece(token);
        self.literal(trail);
    }

    fn piece(&mut self, token: &'t str) {
        if token.is_empty() {
            return;
        }
        if let Some(kind) = Dynamic::of_str(token) {
            self.shape.push(MARK);
            self.shape.push('*');
            self.values.push((kind, token));
        } else if let Some((head, tail)) = token.split_once(':') {
            self.piece(head);
            self.shape.push(':');
            self.piece(tail);
        } else {
            self.literal(token);
        }
    }

    fn literal(&mut self, text: &str) {
        for c in text.chars() {
            self.shape.push(c);
            if c == MARK {
                self.shape.push(MARK);
            }
        }
    }
}

/// Whether `c` may be part of a dynamic value.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '+')
}

fn is_date(text: &str) -> bool {
    Dynamic::of_str(text) == Some(Dynamic::Date)
}

/// Whether two lines are alike: equal, or equal but for dynamic values at
/// the same places that the rules forgive. When they are not, the verdict
/// on the first value that is not forgiven, if that is why.
pub(super) fn compare(expected: &Line<'_>, actual: &Line<'_>, options: &CompareOptions) -> Verdict {
    if expected.text == actual.text {
        return Verdict::Forgiven;
    }
    if expected.values.is_empty()
        || expected.values.len() != actual.values.len()
        || expected.shape != actual.shape
    {
        return Verdict::Deviates;
    }
    for (&(e_kind, e_text), &(a_kind, a_text)) in expected.values.iter().zip(&actual.values) {
        if e_text == a_text {
            continue;
        }
        let verdict = if e_kind == Dynamic::Jwt && a_kind == Dynamic::Jwt {
            let same = options.jwts
                && jwt::differences(e_text, a_text, options)
                    .is_some_and(|differences| differences.is_empty());
            if same {
                Verdict::Forgiven
            } else {
                Verdict::Deviates
            }
        } else {
            dynamic::judge((Some(e_kind), Some(a_kind)), (e_text, a_text), options)
        };
        if !verdict.forgiven() {
            return verdict;
        }
    }
    Verdict::Forgiven
}

/// Two texts line by line, as [`compare`] does lines: the same number of
/// lines, each pair alike.
pub(super) fn compare_texts(expected: &str, actual: &str, options: &CompareOptions) -> Verdict {
    if expected == actual {
        return Verdict::Forgiven;
    }
    if expected.split('\n').count() != actual.split('\n').count() {
        return Verdict::Deviates;
    }
    expected
        .split('\n')
        .zip(actual.split('\n'))
        .map(|(e, a)| compare(&Line::scan(e), &Line::scan(a), options))
        .find(|verdict| !verdict.forgiven())
        .unwrap_or(Verdict::Forgiven)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn values(text: &str) -> Vec<(Dynamic, &str)> {
        Line::scan(text).values
    }

    fn loose() -> CompareOptions {
        CompareOptions::default().with_time_window(None)
    }

    #[test]
    fn tokens_are_cut_at_whitespace_and_punctuation() {
        assert_eq!(
            values("order 6f1c2e9a-3b4d-4c5e-8f70-112233445566 at 2025-01-02T03:04:05Z."),
            [
                (Dynamic::Uuid, "6f1c2e9a-3b4d-4c5e-8f70-112233445566"),
                (Dynamic::Timestamp, "2025-01-02T03:04:05Z")
            ]
        );
        assert_eq!(
            values(r#"{"id":"6f1c2e9a-3b4d-4c5e-8f70-112233445566"} /orders/1735787045?x=1"#),
            [
                (Dynamic::Uuid, "6f1c2e9a-3b4d-4c5e-8f70-112233445566"),
                (Dynamic::EpochSeconds, "1735787045")
            ]
        );
        // `name:value` and `name=value`, a date and a time with a space.
        assert_eq!(
            values(
                "request:6f1c2e9a-3b4d-4c5e-8f70-112233445566 due=2025-01-02 at 2025-01-02 03:04:05"
            ),
            [
                (Dynamic::Uuid, "6f1c2e9a-3b4d-4c5e-8f70-112233445566"),
                (Dynamic::Date, "2025-01-02"),
                (Dynamic::Timestamp, "2025-01-02 03:04:05")
            ]
        );
        // Inside a longer token, nothing.
        assert!(values("x6f1c2e9a-3b4d-4c5e-8f70-112233445566 v2025-01-02").is_empty());
    }

    #[test]
    fn lines_differing_only_in_dynamic_values_are_alike() {
        let options = loose();
        let alike = |e: &str, a: &str| compare(&Line::scan(e), &Line::scan(a), &options);
        assert_eq!(
            alike(
                "created 6f1c2e9a-3b4d-4c5e-8f70-112233445566 at 2025-01-02T03:04:05Z",
                "created 01890a5d-ac96-774b-bcce-b302099a8057 at 2025-03-04T05:06:07.8+01:00",
            ),
            Verdict::Forgiven
        );
        // Anything else that changed on the line is a deviation.
        assert_eq!(
            alike(
                "created 6f1c2e9a-3b4d-4c5e-8f70-112233445566 total 12",
                "created 01890a5d-ac96-774b-bcce-b302099a8057 total 13",
            ),
            Verdict::Deviates
        );
        // A value of another kind, or no value, at the place.
        assert_eq!(
            alike("id 6f1c2e9a-3b4d-4c5e-8f70-112233445566", "id order-1"),
            Verdict::Deviates
        );
        assert_eq!(
            alike("at 2025-01-02T03:04:05Z", "at 1735787045"),
            Verdict::Deviates
        );
        // A literal NUL is not a value's mark.
        assert_eq!(
            alike(
                "\u{0}* 6f1c2e9a-3b4d-4c5e-8f70-112233445566",
                "6f1c2e9a-3b4d-4c5e-8f70-112233445566 \u{0}*"
            ),
            Verdict::Deviates
        );
    }

    #[test]
    fn the_time_window_applies_to_tokens() {
        let options = CompareOptions::default().with_time_window(Some(Duration::from_secs(60)));
        let alike = |e: &str, a: &str| compare(&Line::scan(e), &Line::scan(a), &options);
        assert_eq!(
            alike("at 2026-12-03T05:00:00Z", "at 2026-12-03T05:00:30Z"),
            Verdict::Forgiven
        );
        assert_eq!(
            alike("at 2026-12-03T05:00:00Z", "at 2026-12-06T05:00:00Z"),
            Verdict::Clock(
                "timestamp 2026-12-06T05:00:00Z is 3 days after the recorded \
                 2026-12-03T05:00:00Z (window 60s)"
                    .into()
            )
        );
        assert!(matches!(
            alike("due 2026-12-03", "due 2026-12-04"),
            Verdict::Clock(why) if why.starts_with("date 2026-12-04 is 1 day after")
        ));
        assert_eq!(
            compare(
                &Line::scan("due 2026-12-03"),
                &Line::scan("due 2026-12-04"),
                &loose()
            ),
            Verdict::Forgiven
        );
    }

    #[test]
    fn texts_compare_line_by_line() {
        let options = loose();
        assert_eq!(
            compare_texts(
                "a 6f1c2e9a-3b4d-4c5e-8f70-112233445566\nb",
                "a 01890a5d-ac96-774b-bcce-b302099a8057\nb",
                &options
            ),
            Verdict::Forgiven
        );
        assert_eq!(compare_texts("a\nb", "a\nc", &options), Verdict::Deviates);
        assert_eq!(compare_texts("a\nb", "a\nb\n", &options), Verdict::Deviates);
    }
}
