//! Values that change from run to run by their nature (ids, clocks,
//! tokens), and recorded values that redaction hid.
//!
//! The rules look at whole values: a JSON string or number, or a whole
//! header value. A UUID inside a longer string, or a timestamp inside a
//! text body, is not recognised.

use std::ops::RangeInclusive;

use serde_json::Number;

use super::{CompareOptions, jwt};

/// Epoch seconds in the years 2001 to 2100.
const EPOCH_SECONDS: RangeInclusive<f64> = 978_307_200.0..=4_102_444_800.0;
/// Epoch milliseconds in the same years.
const EPOCH_MILLIS: RangeInclusive<f64> = 978_307_200_000.0..=4_102_444_800_000.0;

/// What kind of run-to-run value a value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dynamic {
    Uuid,
    Timestamp,
    Date,
    EpochSeconds,
    EpochMillis,
    Jwt,
}

impl Dynamic {
    /// The kind of a string, whichever rules are on.
    pub(crate) fn of_str(text: &str) -> Option<Self> {
        if is_uuid(text) {
            Some(Self::Uuid)
        } else if is_timestamp(text) {
            Some(Self::Timestamp)
        } else if is_date(text) {
            Some(Self::Date)
        } else if let Some(number) = numeric(text) {
            epoch(number)
        } else {
            jwt::parse(text).map(|_| Self::Jwt)
        }
    }

    /// The kind of a number: epoch seconds or milliseconds, if either.
    pub(crate) fn of_number(number: &Number) -> Option<Self> {
        number.as_f64().and_then(epoch)
    }

    /// Whether the options forgive this kind.
    pub(super) fn enabled(self, options: &CompareOptions) -> bool {
        match self {
            Self::Uuid => options.uuids,
            Self::Timestamp => options.timestamps,
            Self::Date => options.dates,
            Self::EpochSeconds | Self::EpochMillis => options.epochs,
            Self::Jwt => options.jwts,
        }
    }

    /// The option that turns the rule on.
    pub(super) fn option(self) -> &'static str {
        match self {
            Self::Uuid => "uuids",
            Self::Timestamp => "timestamps",
            Self::Date => "dates",
            Self::EpochSeconds | Self::EpochMillis => "epochs",
            Self::Jwt => "jwts",
        }
    }

    /// What it is, after "is" or "was".
    pub(super) fn described(self) -> &'static str {
        match self {
            Self::Uuid => "a UUID",
            Self::Timestamp => "a timestamp",
            Self::Date => "a date",
            Self::EpochSeconds => "epoch seconds",
            Self::EpochMillis => "epoch milliseconds",
            Self::Jwt => "a JWT",
        }
    }
}

/// Whether two differing values are forgiven: dynamic on both sides, of
/// the same kind (epoch seconds and milliseconds are two kinds, so a
/// change of unit is a deviation), with its rule on.
pub(super) fn forgiven(
    expected: Option<Dynamic>,
    actual: Option<Dynamic>,
    options: &CompareOptions,
) -> bool {
    matches!((expected, actual), (Some(e), Some(a)) if e == a && e.enabled(options))
}

/// A recorded value that redaction hid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hidden<'a> {
    /// `REDACTED...` (the keyed hash `REDACTED:<16 hex digits>`, or a
    /// plain `REDACTED`) or a whole mask (`****`): any value matches.
    Any,
    /// A mask that shows the last characters (`************1111`): a value
    /// of `chars` characters ending in `kept` matches.
    Tail { chars: usize, kept: &'a str },
}

impl<'a> Hidden<'a> {
    /// How `recorded` was hidden, if it was.
    pub(super) fn of(recorded: &'a str) -> Option<Self> {
        if recorded.starts_with("REDACTED") {
            return Some(Self::Any);
        }
        let kept = recorded.trim_start_matches('*');
        if kept.len() == recorded.len() || kept.contains('*') {
            None
        } else if kept.is_empty() {
            Some(Self::Any)
        } else {
            Some(Self::Tail {
                chars: recorded.chars().count(),
                kept,
            })
        }
    }

    /// Whether `actual` (a string's text, or other JSON as written) may be
    /// what was hidden.
    pub(super) fn covers(self, actual: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tail { chars, kept } => actual.ends_with(kept) && actual.chars().count() == chars,
        }
    }
}

/// `8-4-4-4-12` hexadecimal digits, any case, any version.
fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DD`, a real day.
fn is_date(text: &str) -> bool {
    text.len() == 10 && starts_with_date(text.as_bytes())
}

/// A date, `T` (or `t`, or a space), `hh:mm`, optionally `:ss` and a
/// fraction, then optionally `Z` or an offset (`+01:00`, `+0100`, `+01`).
fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 16 || !starts_with_date(bytes) || !matches!(bytes[10], b'T' | b't' | b' ') {
        return false;
    }
    if !is_clock(bytes, 11, 23) {
        return false;
    }
    let mut at = 16;
    if bytes.get(at) == Some(&b':') {
        if digits(bytes, at + 1, 2).is_none_or(|second| second > 60) {
            return false;
        }
        at += 3;
        if matches!(bytes.get(at), Some(b'.' | b',')) {
            let fraction = bytes[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if fraction == 0 {
                return false;
            }
            at += 1 + fraction;
        }
    }
    is_offset(&bytes[at..])
}

/// Nothing, `Z`, or `±hh`, `±hhmm`, `±hh:mm`.
fn is_offset(bytes: &[u8]) -> bool {
    match bytes {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', hours @ ..] => match hours.len() {
            2 => digits(hours, 0, 2).is_some_and(|hour| hour <= 23),
            4 => {
                digits(hours, 0, 2).is_some_and(|hour| hour <= 23)
                    && digits(hours, 2, 2).is_some_and(|minute| minute <= 59)
            }
            5 => is_clock(hours, 0, 23),
            _ => false,
        },
        _ => false,
    }
}

/// `hh:mm` at `at`, the hour at most `max_hour`.
fn is_clock(bytes: &[u8], at: usize, max_hour: u32) -> bool {
    bytes.get(at + 2) == Some(&b':')
        && digits(bytes, at, 2).is_some_and(|hour| hour <= max_hour)
        && digits(bytes, at + 3, 2).is_some_and(|minute| minute <= 59)
}

/// Whether `bytes` start with `YYYY-MM-DD`, a day that exists.
fn starts_with_date(bytes: &[u8]) -> bool {
    let (Some(year), Some(month), Some(day)) = (
        digits(bytes, 0, 4),
        digits(bytes, 5, 2),
        digits(bytes, 8, 2),
    ) else {
        return false;
    };
    bytes[4] == b'-' && bytes[7] == b'-' && day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// The number written by exactly `count` ASCII digits at `at`.
fn digits(bytes: &[u8], at: usize, count: usize) -> Option<u32> {
    bytes
        .get(at..at + count)?
        .iter()
        .try_fold(0_u32, |number, byte| {
            byte.is_ascii_digit()
                .then(|| number * 10 + u32::from(byte - b'0'))
        })
}

/// A string of digits, with at most one `.` between digits.
fn numeric(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    (all_digits(whole) && all_digits(fraction))
        .then(|| text.parse().ok())
        .flatten()
}

fn epoch(number: f64) -> Option<Dynamic> {
    if EPOCH_SECONDS.contains(&number) {
        Some(Dynamic::EpochSeconds)
    } else if EPOCH_MILLIS.contains(&number) {
        Some(Dynamic::EpochMillis)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn kind(text: &str) -> Option<Dynamic> {
        Dynamic::of_str(text)
    }

    #[test]
    fn uuids_of_any_version_and_case() {
        for uuid in [
            "6f1c2e9a-3b4d-4c5e-8f70-112233445566",
            "6F1C2E9A-3B4D-4C5E-8F70-112233445566",
            "00000000-0000-0000-0000-000000000000",
            "01890a5d-ac96-774b-bcce-b302099a8057",
        ] {
            assert_eq!(kind(uuid), Some(Dynamic::Uuid), "{uuid}");
        }
        for not in [
            "6f1c2e9a3b4d4c5e8f70112233445566",
            "6f1c2e9a-3b4d-4c5e-8f70-11223344556",
            "6f1c2e9a-3b4d-4c5e-8f70-1122334455667",
            "6g1c2e9a-3b4d-4c5e-8f70-112233445566",
            "6f1c2e9a_3b4d-4c5e-8f70-112233445566",
            "{6f1c2e9a-3b4d-4c5e-8f70-112233445566}",
            "order-1",
        ] {
            assert_ne!(kind(not), Some(Dynamic::Uuid), "{not}");
        }
    }

    #[test]
    fn timestamps_with_or_without_seconds_fraction_and_offset() {
        for stamp in [
            "2025-01-02T03:04:05Z",
            "2025-01-02T03:04:05.123456789Z",
            "2025-01-02T03:04:05,5+01:00",
            "2025-01-02t03:04:05z",
            "2025-01-02 03:04:05",
            "2025-01-02T03:04:05-0800",
            "2025-01-02T03:04:05+05",
            "2025-01-02T03:04",
            "2024-02-29T23:59:60Z",
        ] {
            assert_eq!(kind(stamp), Some(Dynamic::Timestamp), "{stamp}");
        }
        for not in [
            "2025-01-02",
            "2025-01-02T",
            "2025-01-02T3:04:05Z",
            "2025-01-02T24:00:00Z",
            "2025-01-02T03:60:00Z",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05+1",
            "2025-01-02T03:04:05 UTC",
            "2025-13-02T03:04:05Z",
            "2023-02-29T03:04:05Z",
            "Thu, 02 Jan 2025 03:04:05 GMT",
        ] {
            assert_ne!(kind(not), Some(Dynamic::Timestamp), "{not}");
        }
    }

    #[test]
    fn dates_are_real_days() {
        for date in ["2025-01-02", "2024-02-29", "2000-02-29", "1999-12-31"] {
            assert_eq!(kind(date), Some(Dynamic::Date), "{date}");
        }
        for not in [
            "2025-1-02",
            "2025-00-10",
            "2025-04-31",
            "1900-02-29",
            "2025/01/02",
            "20250102",
            "2025-01-02x",
        ] {
            assert_ne!(kind(not), Some(Dynamic::Date), "{not}");
        }
    }

    #[test]
    fn epochs_in_range_as_numbers_or_numeric_strings() {
        let number = |json: &str| Dynamic::of_number(&serde_json::from_str(json).unwrap());
        assert_eq!(number("1735787045"), Some(Dynamic::EpochSeconds));
        assert_eq!(number("1735787045.25"), Some(Dynamic::EpochSeconds));
        assert_eq!(number("978307200"), Some(Dynamic::EpochSeconds));
        assert_eq!(number("4102444800"), Some(Dynamic::EpochSeconds));
        assert_eq!(number("1735787045123"), Some(Dynamic::EpochMillis));
        for not in [
            "978307199",
            "4102444801",
            "42",
            "-1735787045",
            "12.5",
            "1e20",
        ] {
            assert_eq!(number(not), None, "{not}");
        }
        assert_eq!(kind("1735787045"), Some(Dynamic::EpochSeconds));
        assert_eq!(kind("1735787045.5"), Some(Dynamic::EpochSeconds));
        assert_eq!(kind("1735787045123"), Some(Dynamic::EpochMillis));
        for not in [
            "42",
            "1735787045.",
            ".5",
            "+1735787045",
            "1735787045 ",
            "1e9",
            "",
        ] {
            assert_eq!(kind(not), None, "{not:?}");
        }
    }

    #[test]
    fn forgiven_needs_one_kind_on_both_sides_with_its_rule_on() {
        let on = CompareOptions::default();
        let uuid = Some(Dynamic::Uuid);
        assert!(forgiven(uuid, uuid, &on));
        assert!(!forgiven(uuid, None, &on));
        assert!(!forgiven(None, uuid, &on));
        assert!(!forgiven(None, None, &on));
        assert!(!forgiven(
            Some(Dynamic::EpochSeconds),
            Some(Dynamic::EpochMillis),
            &on
        ));
        assert!(!forgiven(
            Some(Dynamic::Date),
            Some(Dynamic::Timestamp),
            &on
        ));
        let off = CompareOptions {
            uuids: false,
            ..CompareOptions::default()
        };
        assert!(!forgiven(uuid, uuid, &off));
        assert!(forgiven(Some(Dynamic::Date), Some(Dynamic::Date), &off));
    }

    #[test]
    fn redacted_and_masked_values_are_hidden() {
        assert_eq!(Hidden::of("REDACTED:0123456789abcdef"), Some(Hidden::Any));
        assert_eq!(Hidden::of("REDACTED"), Some(Hidden::Any));
        assert_eq!(Hidden::of("****"), Some(Hidden::Any));
        assert_eq!(
            Hidden::of("************1111"),
            Some(Hidden::Tail {
                chars: 16,
                kept: "1111"
            })
        );
        for not in ["", "redacted", "x****", "**bold**", "a*b", "NOT REDACTED"] {
            assert_eq!(Hidden::of(not), None, "{not:?}");
        }
        assert!(Hidden::Any.covers("anything"));
        let tail = Hidden::of("************1111").unwrap();
        assert!(tail.covers("4111111111111111"));
        assert!(!tail.covers("4111111111112222"));
        assert!(!tail.covers("41111111111111111"));
        // Characters, not bytes, as the mask counts them.
        assert!(Hidden::of("***w").unwrap().covers("żółw"));
    }
}
