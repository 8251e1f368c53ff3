//! Small text helpers shared by `list` and `show`.

use std::borrow::Cow;
use std::error::Error;
use std::time::Duration;

/// A Unix timestamp in nanoseconds as UTC RFC 3339, to the second:
/// `2024-05-01T10:00:00Z`.
pub(crate) fn rfc3339(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// A duration in milliseconds with one decimal: `12.3 ms`.
pub(crate) fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Text from a span, safe to print on a terminal: control characters
/// (newlines, escape sequences) are shown escaped, and anything longer than
/// `max` characters is cut short with `…`.
pub(crate) fn clean(text: &str, max: usize) -> Cow<'_, str> {
    let needs_escape = text.chars().any(char::is_control);
    if !needs_escape && text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    if escaped.chars().count() > max {
        let mut cut: String = escaped.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        return Cow::Owned(cut);
    }
    Cow::Owned(escaped)
}

/// How many columns `text` takes, assuming one per character.
pub(crate) fn width(text: &str) -> usize {
    text.chars().count()
}

/// `text` followed by spaces up to `to` columns.
pub(crate) fn pad_right(text: &str, to: usize) -> String {
    format!("{text}{}", " ".repeat(to.saturating_sub(width(text))))
}

/// Spaces up to `to` columns, then `text`.
pub(crate) fn pad_left(text: &str, to: usize) -> String {
    format!("{}{text}", " ".repeat(to.saturating_sub(width(text))))
}

/// An error and its causes on one line: `error: cause: cause`.
pub(crate) fn chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_999_999_999), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399_000_000_000), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn millis_has_one_decimal() {
        assert_eq!(millis(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(millis(Duration::ZERO), "0.0 ms");
    }

    #[test]
    fn clean_escapes_and_truncates() {
        assert_eq!(clean("plain", 10), "plain");
        assert_eq!(clean("a\nb\u{1b}[31m", 20), "a\\nb\\u{1b}[31m");
        assert_eq!(clean("abcdefghij", 5), "abcd…");
        assert_eq!(width("é…"), 2);
    }

    #[test]
    fn padding_counts_characters() {
        assert_eq!(pad_right("é", 3), "é  ");
        assert_eq!(pad_left("7", 5), "    7");
        assert_eq!(pad_left("too long", 2), "too long");
    }

    #[test]
    fn chain_joins_the_causes() {
        let err = anyhow::Error::new(std::io::Error::other("disk on fire"))
            .context("failed to read x.json");
        assert_eq!(chain(err.as_ref()), "failed to read x.json: disk on fire");
    }
}
