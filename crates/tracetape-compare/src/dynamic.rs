//! Whether values that change from run to run by their nature (ids,
//! clocks, tokens: [`Dynamic`], read by the library's rules) are
//! forgiven, and recorded values that redaction hid.
//!
//! The rules look at whole values: a JSON string or number, a whole
//! header value, or one token of a line of text (`tokens.rs`). A UUID
//! inside a longer JSON string is not recognised.

use std::time::Duration;

pub(super) use tracetape::replay::values::Dynamic;

use super::CompareOptions;

/// What the comparison says about a kind of run-to-run value.
pub(super) trait Rules {
    /// Whether the options forgive this kind.
    fn enabled(self, options: &CompareOptions) -> bool;
    /// The option that turns the rule on.
    fn option(self) -> &'static str;
    /// What it is, after "is" or "was".
    fn described(self) -> &'static str;
    /// What it is, before its value.
    fn named(self) -> &'static str;
}

impl Rules for Dynamic {
    fn enabled(self, options: &CompareOptions) -> bool {
        match self {
            Self::Uuid => options.uuids,
            Self::Timestamp => options.timestamps,
            Self::Date => options.dates,
            Self::EpochSeconds | Self::EpochMillis => options.epochs,
            Self::Jwt => options.jwts,
        }
    }

    fn option(self) -> &'static str {
        match self {
            Self::Uuid => "uuids",
            Self::Timestamp => "timestamps",
            Self::Date => "dates",
            Self::EpochSeconds | Self::EpochMillis => "epochs",
            Self::Jwt => "jwts",
        }
    }

    fn described(self) -> &'static str {
        match self {
            Self::Uuid => "a UUID",
            Self::Timestamp => "a timestamp",
            Self::Date => "a date",
            Self::EpochSeconds => "epoch seconds",
            Self::EpochMillis => "epoch milliseconds",
            Self::Jwt => "a JWT",
        }
    }

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
    let (Some(from), Some(to)) = (kind.seconds(recorded), kind.seconds(new)) else {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn kind(text: &str) -> Option<Dynamic> {
        Dynamic::of_str(text)
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
