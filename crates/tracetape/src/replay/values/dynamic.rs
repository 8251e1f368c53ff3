//! Values that change from run to run by their nature: ids, clocks and
//! tokens.
//!
//! The rules look at whole values: a JSON string or number, a header
//! value, a piece of text. A UUID inside a longer string is not one.

use std::ops::RangeInclusive;

use serde_json::Number;

use super::Jwt;

/// Epoch seconds in the years 2001 to 2100.
const EPOCH_SECONDS: RangeInclusive<f64> = 978_307_200.0..=4_102_444_800.0;
/// Epoch milliseconds in the same years.
const EPOCH_MILLIS: RangeInclusive<f64> = 978_307_200_000.0..=4_102_444_800_000.0;

/// The kind of a run-to-run value: a value of one of these kinds on both
/// sides may stand for the other, at the [dynamic
/// level](crate::replay::matching::Level::Dynamic) of matching and in
/// `tracetape replay`'s comparison of responses.
///
/// The kinds are part of the matching rules (`docs/matching.md`): a new
/// kind changes which calls match, so it comes with a new minor version.
///
/// ```
/// use tracetape::replay::values::Dynamic;
///
/// assert_eq!(Dynamic::of_str("6f1c2e9a-3b4d-4c5e-8f70-112233445566"), Some(Dynamic::Uuid));
/// assert_eq!(Dynamic::of_str("2025-01-02T03:04:05Z"), Some(Dynamic::Timestamp));
/// assert_eq!(Dynamic::of_str("2025-01-02"), Some(Dynamic::Date));
/// assert_eq!(Dynamic::of_str("1735787045"), Some(Dynamic::EpochSeconds));
/// assert_eq!(Dynamic::of_str("order-1"), None);
/// assert_eq!(Dynamic::Date.seconds("1970-01-02"), Some(86_400.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dynamic {
    /// `8-4-4-4-12` hex digits, any version, any case.
    Uuid,
    /// An RFC 3339 / ISO 8601 date-time: `2025-01-02T03:04:05Z`, with or
    /// without seconds, fraction, offset or `Z` (`T`, `t` or a space
    /// between date and time).
    Timestamp,
    /// `2025-01-02`, a day that exists.
    Date,
    /// Epoch seconds from 978307200 to 4102444800 (the years 2001 to
    /// 2100), as a number or a numeric string.
    EpochSeconds,
    /// Epoch milliseconds in the same years.
    EpochMillis,
    /// A JWT ([`Jwt::parse`]).
    Jwt,
}

impl Dynamic {
    /// The kind of a string, if it is one of them.
    #[must_use]
    pub fn of_str(text: &str) -> Option<Self> {
        if is_uuid(text) {
            Some(Self::Uuid)
        } else if is_timestamp(text) {
            Some(Self::Timestamp)
        } else if is_date(text) {
            Some(Self::Date)
        } else if let Some(number) = numeric(text) {
            epoch(number)
        } else {
            Jwt::parse(text).map(|_| Self::Jwt)
        }
    }

    /// The kind of a JSON number: epoch seconds or milliseconds, if either.
    #[must_use]
    pub fn of_number(number: &Number) -> Option<Self> {
        number.as_f64().and_then(epoch)
    }

    /// The instant `text`, a value of this kind (a string's text, or a
    /// number as written), stands for, in seconds since
    /// 1970-01-01T00:00:00Z: a timestamp without an offset read as UTC, a
    /// date at its midnight (UTC), epoch milliseconds divided by 1000.
    /// `None` for the kinds that are not clock values (UUIDs, JWTs) and
    /// for text that is not of this kind.
    #[must_use]
    pub fn seconds(self, text: &str) -> Option<f64> {
        match self {
            Self::Timestamp => timestamp_seconds(text),
            Self::Date if is_date(text) => date_seconds(text),
            Self::EpochSeconds => numeric_or_number(text),
            Self::EpochMillis => numeric_or_number(text).map(|ms| ms / 1000.0),
            Self::Date | Self::Uuid | Self::Jwt => None,
        }
    }
}

/// Seconds since 1970-01-01T00:00:00Z of a timestamp [`is_timestamp`]
/// accepts; without an offset, read as UTC (both sides alike).
fn timestamp_seconds(text: &str) -> Option<f64> {
    if !is_timestamp(text) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut seconds = date_seconds(text.get(..10)?)?
        + f64::from(digits(bytes, 11, 2)?) * 3600.0
        + f64::from(digits(bytes, 14, 2)?) * 60.0;
    let mut at = 16;
    if bytes.get(at) == Some(&b':') {
        seconds += f64::from(digits(bytes, at + 1, 2)?);
        at += 3;
        if matches!(bytes.get(at), Some(b'.' | b',')) {
            let fraction: String = text[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            seconds += format!("0.{fraction}").parse::<f64>().ok()?;
            at += 1 + fraction.len();
        }
    }
    let offset = match bytes.get(at..)? {
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let hours = digits(rest, 0, 2)?;
            let minutes = match rest.len() {
                4 => digits(rest, 2, 2)?,
                5 => digits(rest, 3, 2)?,
                _ => 0,
            };
            let offset = f64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -offset } else { offset }
        }
        _ => 0.0,
    };
    Some(seconds - offset)
}

/// Seconds since 1970-01-01 of midnight (UTC) of a date `YYYY-MM-DD`.
fn date_seconds(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if !starts_with_date(bytes) {
        return None;
    }
    let (year, month, day) = (
        i64::from(digits(bytes, 0, 4)?),
        i64::from(digits(bytes, 5, 2)?),
        i64::from(digits(bytes, 8, 2)?),
    );
    // Days from the civil date, counting years from March so that the
    // leap day is the last of its year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    #[allow(clippy::cast_precision_loss)]
    Some(days as f64 * 86_400.0)
}

/// An epoch as a numeric string or a JSON number as written.
fn numeric_or_number(text: &str) -> Option<f64> {
    numeric(text).or_else(|| text.parse().ok())
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
    fn clock_values_read_as_seconds_since_1970() {
        // The leap day and the turn of a year count as days.
        assert_eq!(Dynamic::Date.seconds("1970-01-01"), Some(0.0));
        assert_eq!(
            Dynamic::Date.seconds("2024-03-01").unwrap()
                - Dynamic::Date.seconds("2024-02-28").unwrap(),
            2.0 * 86_400.0
        );
        assert_eq!(
            Dynamic::Timestamp.seconds("2025-01-01T00:00:00+01:00"),
            Some(1_735_686_000.0)
        );
        assert_eq!(
            Dynamic::EpochMillis.seconds("1796274042123"),
            Some(1_796_274_042.123)
        );
        assert_eq!(
            Dynamic::Uuid.seconds("6f1c2e9a-3b4d-4c5e-8f70-112233445566"),
            None
        );
    }
}
