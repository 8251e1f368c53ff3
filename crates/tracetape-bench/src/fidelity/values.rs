//! The dynamic values the fidelity service puts in what it sends and
//! answers: request ids (random UUIDs), signatures of its outbound queries,
//! the current time as epoch milliseconds and RFC 3339, and calendar dates
//! counted from today.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The key the service signs its outbound queries with, and the
/// dependencies check them with.
const SIGNING_KEY: &str = "depot-partner-key-7";

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    since_epoch(SystemTime::now()).as_millis() as u64
}

fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// One step of splitmix64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random version-4 UUID, lower-case with hyphens: the clock's
/// nanoseconds and a counter, mixed (no two alike within a process, and
/// unlike across runs).
pub(crate) fn uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = since_epoch(SystemTime::now()).as_nanos() as u64;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = mix(seed ^ mix(n));
    let low = mix(high ^ n.rotate_left(17));
    let high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

/// FNV-1a over `key` then `data`, from `seed`.
fn fnv(seed: u64, data: &str) -> u64 {
    let mut hash = seed;
    for byte in SIGNING_KEY.bytes().chain(data.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01B3);
    }
    mix(hash)
}

/// The keyed signature of `data` (a path and query without `sig`): 32 hex
/// digits, as a partner API's HMAC would look.
pub(crate) fn signature(data: &str) -> String {
    format!(
        "{:016x}{:016x}",
        fnv(0xCBF2_9CE4_8422_2325, data),
        fnv(0x8422_2325_CBF2_9CE4, data)
    )
}

/// `path?query&ts=<now ms>&sig=<signature of path?query&ts=...>`.
pub(crate) fn signed(path: &str, query: &str) -> String {
    let unsigned = if query.is_empty() {
        format!("{path}?ts={}", now_ms())
    } else {
        format!("{path}?{query}&ts={}", now_ms())
    };
    let sig = signature(&unsigned);
    format!("{unsigned}&sig={sig}")
}

/// Whether `path_and_query` ends with the right `&sig=` for what comes
/// before it.
pub(crate) fn signature_holds(path_and_query: &str) -> bool {
    match path_and_query.rsplit_once("&sig=") {
        Some((unsigned, sig)) => signature(unsigned) == sig,
        None => false,
    }
}

/// The `(key, value)` pairs of a query string (no percent-decoding: the
/// service's values need none).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// The value of `key` in `pairs`.
pub(crate) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The civil date (year, month, day) of a day counted from 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Today plus `days`, as `YYYY-MM-DD`, from the system clock (UTC).
pub(crate) fn date_in(days: i64) -> String {
    let today = (since_epoch(SystemTime::now()).as_secs() / 86_400) as i64;
    let (year, month, day) = civil_from_days(today + days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `time` as RFC 3339 in UTC with milliseconds: `2026-12-06T04:58:01.123Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = since_epoch(time);
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// The current time, [`rfc3339`].
pub(crate) fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_and_timestamps() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let time = UNIX_EPOCH + Duration::from_millis(1_796_532_301_123);
        assert_eq!(rfc3339(time), "2026-12-06T04:45:01.123Z");
    }

    #[test]
    fn signatures_and_uuids() {
        let url = signed("/rates", "kind=city&depot=3");
        assert!(url.starts_with("/rates?kind=city&depot=3&ts="), "{url}");
        assert!(signature_holds(&url));
        assert!(!signature_holds(&url.replace("city", "cargo")));
        let (a, b) = (uuid(), uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
