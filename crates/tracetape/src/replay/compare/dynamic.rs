//! Values that change from run to run by their nature (ids, clocks,
//! tokens), and recorded values that redaction hid.
//!
//! The rules look at whole values: a JSON string or number, a whole
//! header value, or one token of a line of text (`tokens.rs`). A UUID
//! inside a longer JSON string is not recognised.

use std::ops::RangeInclusive;
use std::time::Duration;

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

/// Whether two values that differ are forgiven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Dynamic alike: not a deviation.
    Forgiven,
    /// A deviation.
    Deviates,
    /// A deviation because of the time window: a timestamp or epoch too
    /// far from the recorded one, or another date. The text says how far
    /// (`timestamp 2025-01-05T03:04:05Z is 3 days after the recorded
    /// 2025-01-02T03:04:05Z (window 60s)`).
    Clock(String),
}

impl Verdict {
    pub(super) fn forgiven(&self) -> bool {
        *self == Self::Forgiven
    }
}

/// Whether two differing values, of dynamic `kinds`, written as `texts`
/// (a string's text, a number as written), are forgiven: dynamic on both
/// sides, of the same kind (epoch seconds and milliseconds are two kinds,
/// so a change of unit is a deviation), with its rule on, and, with a
/// [time window](CompareOptions::time_window), a timestamp or epoch within
/// it of the recorded one, a date equal to it.
pub(super) fn judge(
    kinds: (Option<Dynamic>, Option<Dynamic>),
    texts: (&str, &str),
    options: &CompareOptions,
) -> Verdict {
    let (Some(kind), Some(other)) = kinds else {
        return Verdict::Deviates;
    };
    if kind != other || !kind.enabled(options) {
        return Verdict::Deviates;
    }
    let Some(window) = options.time_window else {
        return Verdict::Forgiven;
    };
    let (recorded, new) = texts;
    if recorded == new {
        return Verdict::Forgiven;
    }
    let seconds = |text: &str| match kind {
        Dynamic::Timestamp => timestamp_seconds(text),
        Dynamic::Date => date_seconds(text),
        Dynamic::EpochSeconds => numeric_or_number(text),
        Dynamic::EpochMillis => numeric_or_number(text).map(|ms| ms / 1000.0),
        Dynamic::Uuid | Dynamic::Jwt => None,
    };
    let (Some(from), Some(to)) = (seconds(recorded), seconds(new)) else {
        return if matches!(kind, Dynamic::Uuid | Dynamic::Jwt) {
            Verdict::Forgiven
        } else {
            Verdict::Deviates
        };
    };
    let apart = to - from;
    let within = apart.abs() <= window.as_secs_f64();
    match kind {
        Dynamic::Date => Verdict::Clock(format!(
            "date {new} is {} the recorded {recorded} (with a time window, dates must be equal)",
            days(apart)
        )),
        _ if within => Verdict::Forgiven,
        _ => Verdict::Clock(format!(
            "{} {new} is {} the recorded {recorded} (window {})",
            kind.named(),
            span(apart),
            window_text(window)
        )),
    }
}

impl Dynamic {
    /// What it is, before its value.
    fn named(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp",
            Self::Date => "date",
            Self::EpochSeconds => "epoch time (seconds)",
            Self::EpochMillis => "epoch time (milliseconds)",
            Self::Uuid => "UUID",
            Self::Jwt => "JWT",
        }
    }
}

/// `3 days after`, `90 seconds before`: how far a new instant is from the
/// recorded one, in the largest unit that keeps a number above one.
fn span(seconds: f64) -> String {
    let direction = if seconds < 0.0 { "before" } else { "after" };
    let seconds = seconds.abs();
    let (amount, unit) = if seconds < 1.0 {
        (seconds * 1000.0, "millisecond")
    } else if seconds < 120.0 {
        (seconds, "second")
    } else if seconds < 2.0 * 3600.0 {
        (seconds / 60.0, "minute")
    } else if seconds < 2.0 * 86_400.0 {
        (seconds / 3600.0, "hour")
    } else {
        (seconds / 86_400.0, "day")
    };
    let rounded = (amount * 10.0).round() / 10.0;
    let plural = if (rounded - 1.0).abs() < f64::EPSILON {
        ""
    } else {
        "s"
    };
    format!("{rounded} {unit}{plural} {direction}")
}

/// `1 day after`, `30 days before`: how far a new date is from the
/// recorded one.
fn days(seconds: f64) -> String {
    let direction = if seconds < 0.0 { "before" } else { "after" };
    let days = (seconds.abs() / 86_400.0).round();
    let plural = if (days - 1.0).abs() < f64::EPSILON {
        ""
    } else {
        "s"
    };
    format!("{days} day{plural} {direction}")
}

/// A window as the configuration writes it: `60s`, `1.5s`, `250ms`.
pub(super) fn window_text(window: Duration) -> String {
    if window.subsec_nanos() == 0 {
        format!("{}s", window.as_secs())
    } else if window < Duration::from_secs(1) {
        format!("{}ms", window.as_millis())
    } else {
        format!("{}s", window.as_secs_f64())
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

    /// Whether two texts of their own kinds are forgiven.
    fn judged(e: &str, a: &str, options: &CompareOptions) -> Verdict {
        judge((kind(e), kind(a)), (e, a), options)
    }

    #[test]
    fn forgiven_needs_one_kind_on_both_sides_with_its_rule_on() {
        let on = CompareOptions::default().with_time_window(None);
        let uuid = "6f1c2e9a-3b4d-4c5e-8f70-112233445566";
        let other = "01890a5d-ac96-774b-bcce-b302099a8057";
        assert_eq!(judged(uuid, other, &on), Verdict::Forgiven);
        assert_eq!(judged(uuid, "order-1", &on), Verdict::Deviates);
        assert_eq!(judged("order-1", uuid, &on), Verdict::Deviates);
        assert_eq!(judged("order-1", "order-2", &on), Verdict::Deviates);
        assert_eq!(
            judged("1735787045", "1741000000000", &on),
            Verdict::Deviates
        );
        assert_eq!(
            judged("2025-01-02", "2025-01-02T03:04:05Z", &on),
            Verdict::Deviates
        );
        let off = CompareOptions {
            uuids: false,
            ..on.clone()
        };
        assert_eq!(judged(uuid, other, &off), Verdict::Deviates);
        assert_eq!(judged("2025-01-02", "2026-01-02", &off), Verdict::Forgiven);
    }

    #[test]
    fn a_time_window_forgives_only_instants_near_the_recorded_one() {
        let window = CompareOptions::default().with_time_window(Some(Duration::from_secs(60)));
        for (recorded, new) in [
            ("2026-12-03T05:00:00Z", "2026-12-03T05:00:59.5Z"),
            ("2026-12-03T05:00:00Z", "2026-12-03T06:00:30+01:00"),
            ("2026-12-03T05:00:00Z", "2026-12-03T04:59:00Z"),
            ("2026-12-03 05:00:00", "2026-12-03T05:00:10"),
            ("1796274000", "1796274042"),
            ("1796274000000", "1796274042123"),
        ] {
            assert_eq!(judged(recorded, new, &window), Verdict::Forgiven, "{new}");
        }
        assert_eq!(
            judged("2026-12-03T05:00:00Z", "2026-12-06T05:00:00Z", &window),
            Verdict::Clock(
                "timestamp 2026-12-06T05:00:00Z is 3 days after the recorded \
                 2026-12-03T05:00:00Z (window 60s)"
                    .into()
            )
        );
        assert_eq!(
            judged("2026-12-03T05:00:00Z", "2026-12-03T04:58:30-00:00", &window),
            Verdict::Clock(
                "timestamp 2026-12-03T04:58:30-00:00 is 90 seconds before the recorded \
                 2026-12-03T05:00:00Z (window 60s)"
                    .into()
            )
        );
        assert_eq!(
            judged("1796274000", "1796277600", &window),
            Verdict::Clock(
                "epoch time (seconds) 1796277600 is 60 minutes after the recorded 1796274000 \
                 (window 60s)"
                    .into()
            )
        );
        // Dates must be equal.
        assert_eq!(
            judged("2026-12-03", "2027-01-02", &window),
            Verdict::Clock(
                "date 2027-01-02 is 30 days after the recorded 2026-12-03 (with a time window, \
                 dates must be equal)"
                    .into()
            )
        );
        // Not the kinds the clock makes: as without a window.
        assert_eq!(
            judged(
                "6f1c2e9a-3b4d-4c5e-8f70-112233445566",
                "01890a5d-ac96-774b-bcce-b302099a8057",
                &window
            ),
            Verdict::Forgiven
        );
        // The leap day and the turn of a year count as days.
        assert_eq!(date_seconds("1970-01-01"), Some(0.0));
        assert_eq!(
            date_seconds("2024-03-01").unwrap() - date_seconds("2024-02-28").unwrap(),
            2.0 * 86_400.0
        );
        assert_eq!(
            timestamp_seconds("2025-01-01T00:00:00+01:00"),
            Some(1_735_686_000.0)
        );
        assert_eq!(window_text(Duration::from_millis(250)), "250ms");
        assert_eq!(window_text(Duration::from_millis(1500)), "1.5s");
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
