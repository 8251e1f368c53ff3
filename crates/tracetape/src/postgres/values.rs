//! Values on the wire as JSON in recordings, and back.
//!
//! A value travels in the format its column or parameter says: text (`0`)
//! is its text, a JSON string; binary (`1`) is decoded by its type where
//! the type is a plain one (booleans, integers, floats, strings, UUIDs,
//! dates and timestamps, JSON), so that a recording reads as what the
//! database held and redaction rules and dynamic values see it. Any other
//! binary value is its bytes in base64. [`encode`] gives back exactly the
//! bytes [`decode`] read: replay answers the driver in the format it asked
//! for.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Number, Value};

/// Type OIDs of the types read as more than bytes.
#[allow(dead_code)] // BYTEA: named for the tests; it stays bytes.
mod oid {
    pub(super) const BOOL: u32 = 16;
    pub(super) const BYTEA: u32 = 17;
    pub(super) const CHAR: u32 = 18;
    pub(super) const NAME: u32 = 19;
    pub(super) const INT8: u32 = 20;
    pub(super) const INT2: u32 = 21;
    pub(super) const INT4: u32 = 23;
    pub(super) const TEXT: u32 = 25;
    pub(super) const OID: u32 = 26;
    pub(super) const JSON: u32 = 114;
    pub(super) const FLOAT4: u32 = 700;
    pub(super) const FLOAT8: u32 = 701;
    pub(super) const UNKNOWN: u32 = 705;
    pub(super) const BPCHAR: u32 = 1042;
    pub(super) const VARCHAR: u32 = 1043;
    pub(super) const DATE: u32 = 1082;
    pub(super) const TIMESTAMP: u32 = 1114;
    pub(super) const TIMESTAMPTZ: u32 = 1184;
    pub(super) const UUID: u32 = 2950;
    pub(super) const JSONB: u32 = 3802;
}

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A value read: `None` is SQL NULL.
pub(crate) fn decode(type_oid: u32, format: i16, bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    if format == 0 {
        return match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => Value::String(STANDARD.encode(bytes)),
        };
    }
    binary(type_oid, bytes).unwrap_or_else(|| Value::String(STANDARD.encode(bytes)))
}

/// A binary value of a plain type; `None` for any other type, or bytes
/// that are not what the type says.
fn binary(type_oid: u32, bytes: &[u8]) -> Option<Value> {
    let value = match type_oid {
        oid::BOOL => match bytes {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            _ => return None,
        },
        oid::INT2 => Value::from(i16::from_be_bytes(bytes.try_into().ok()?)),
        oid::INT4 => Value::from(i32::from_be_bytes(bytes.try_into().ok()?)),
        oid::INT8 => Value::from(i64::from_be_bytes(bytes.try_into().ok()?)),
        oid::OID => Value::from(u32::from_be_bytes(bytes.try_into().ok()?)),
        oid::FLOAT4 => float(f64::from(f32::from_be_bytes(bytes.try_into().ok()?)))?,
        oid::FLOAT8 => float(f64::from_be_bytes(bytes.try_into().ok()?))?,
        _ if is_text(type_oid) => Value::String(std::str::from_utf8(bytes).ok()?.to_owned()),
        oid::JSONB => match bytes.split_first() {
            Some((1, text)) => Value::String(std::str::from_utf8(text).ok()?.to_owned()),
            _ => return None,
        },
        oid::UUID => Value::String(uuid(bytes.try_into().ok()?)),
        oid::DATE => {
            let days = i64::from(i32::from_be_bytes(bytes.try_into().ok()?));
            Value::String(date(days + EPOCH_DAYS)?)
        }
        oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(bytes.try_into().ok()?);
            Value::String(timestamp(micros)?)
        }
        _ => return None,
    };
    Some(value)
}

/// Types whose binary form is their UTF-8 text.
fn is_text(type_oid: u32) -> bool {
    matches!(
        type_oid,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::CHAR | oid::UNKNOWN | oid::JSON
    )
}

/// A finite float as a JSON number; NaN and the infinities stay bytes.
fn float(value: f64) -> Option<Value> {
    Number::from_f64(value).map(Value::Number)
}

/// The bytes of a value `decode` read; `None` when `value` cannot be one
/// of `type_oid` in `format` (a recording edited by hand).
// Replay mode, which answers the driver from recordings, is its user; for
// now its tests hold it to `decode`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn encode(type_oid: u32, format: i16, value: &Value) -> Option<Option<Vec<u8>>> {
    let text = match value {
        Value::Null => return Some(None),
        Value::String(text) => Some(text.as_str()),
        _ => None,
    };
    if format == 0 {
        return text.map(|text| Some(text.as_bytes().to_vec()));
    }
    let known = plain(type_oid, value);
    match known {
        Some(bytes) => Some(Some(bytes)),
        // Any other type (or a plain type's bytes that did not read as
        // it): its bytes in base64.
        None => STANDARD.decode(text?).ok().map(Some),
    }
}

/// The binary bytes of a plain type's value.
#[cfg_attr(not(test), allow(dead_code))]
fn plain(type_oid: u32, value: &Value) -> Option<Vec<u8>> {
    match (type_oid, value) {
        (oid::BOOL, Value::Bool(b)) => Some(vec![u8::from(*b)]),
        (oid::INT2, Value::Number(n)) => {
            Some(i16::try_from(n.as_i64()?).ok()?.to_be_bytes().to_vec())
        }
        (oid::INT4, Value::Number(n)) => {
            Some(i32::try_from(n.as_i64()?).ok()?.to_be_bytes().to_vec())
        }
        (oid::INT8, Value::Number(n)) => Some(n.as_i64()?.to_be_bytes().to_vec()),
        (oid::OID, Value::Number(n)) => {
            Some(u32::try_from(n.as_u64()?).ok()?.to_be_bytes().to_vec())
        }
        (oid::FLOAT4, Value::Number(n)) => Some((n.as_f64()? as f32).to_be_bytes().to_vec()),
        (oid::FLOAT8, Value::Number(n)) => Some(n.as_f64()?.to_be_bytes().to_vec()),
        (_, Value::String(text)) if is_text(type_oid) => Some(text.as_bytes().to_vec()),
        (oid::JSONB, Value::String(text)) => Some([&[1u8][..], text.as_bytes()].concat()),
        (oid::UUID, Value::String(text)) => parse_uuid(text).map(|bytes| bytes.to_vec()),
        (oid::DATE, Value::String(text)) => {
            let days = i32::try_from(parse_date(text)? - EPOCH_DAYS).ok()?;
            Some(days.to_be_bytes().to_vec())
        }
        (oid::TIMESTAMP | oid::TIMESTAMPTZ, Value::String(text)) => {
            Some(parse_timestamp(text)?.to_be_bytes().to_vec())
        }
        _ => None,
    }
}

fn uuid(bytes: [u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg_attr(not(test), allow(dead_code))]
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (years 1 to 9999; the
/// others, `infinity` among them, stay bytes).
fn date(days: i64) -> Option<String> {
    let (year, month, day) = civil(days);
    (1..=9999)
        .contains(&year)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg_attr(not(test), allow(dead_code))]
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    (date(days)? == text).then_some(days)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` of microseconds from 2000-01-01 (a
/// timestamptz is UTC on the wire).
fn timestamp(micros: i64) -> Option<String> {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let (seconds, fraction) = (of_day / 1_000_000, of_day % 1_000_000);
    Some(format!(
        "{}T{:02}:{:02}:{:02}.{fraction:06}",
        date(days + EPOCH_DAYS)?,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ))
}

#[cfg_attr(not(test), allow(dead_code))]
fn parse_timestamp(text: &str) -> Option<i64> {
    let (day, time) = text.split_once('T')?;
    let days = parse_date(day)? - EPOCH_DAYS;
    let (clock, fraction) = time.split_once('.')?;
    let mut clock = clock.splitn(3, ':').map(|part| part.parse::<i64>().ok());
    let (hours, minutes, seconds) = (clock.next()??, clock.next()??, clock.next()??);
    let fraction: i64 = fraction.parse().ok()?;
    let micros =
        days * MICROS_PER_DAY + ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fraction;
    (timestamp(micros)? == text).then_some(micros)
}

/// Year, month and day of a day counted from 1970-01-01 (the proleptic
/// Gregorian calendar).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day counted from 1970-01-01 of a year, month and day.
#[cfg_attr(not(test), allow(dead_code))]
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn round_trip(type_oid: u32, bytes: &[u8]) -> Value {
        let value = decode(type_oid, 1, Some(bytes));
        let again = encode(type_oid, 1, &value)
            .unwrap_or_else(|| panic!("{type_oid}: {value} not encodable"));
        assert_eq!(again.as_deref(), Some(bytes), "{type_oid}: {value}");
        value
    }

    #[test]
    fn plain_binary_values_read_as_what_they_are_and_write_back_exactly() {
        assert_eq!(round_trip(oid::BOOL, &[1]), Value::Bool(true));
        assert_eq!(
            round_trip(oid::INT2, &(-7i16).to_be_bytes()),
            Value::from(-7)
        );
        assert_eq!(round_trip(oid::INT4, &42i32.to_be_bytes()), Value::from(42));
        assert_eq!(
            round_trip(oid::INT8, &i64::MIN.to_be_bytes()),
            Value::from(i64::MIN)
        );
        assert_eq!(
            round_trip(oid::FLOAT4, &0.1f32.to_be_bytes()).as_f64(),
            Some(f64::from(0.1f32))
        );
        assert_eq!(
            round_trip(oid::FLOAT8, &2.5f64.to_be_bytes()),
            Value::from(2.5)
        );
        assert_eq!(
            round_trip(oid::TEXT, "tea ☕".as_bytes()),
            Value::from("tea ☕")
        );
        assert_eq!(
            round_trip(oid::JSONB, b"\x01{\"a\": 1}"),
            Value::from("{\"a\": 1}")
        );
        let id = [
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        assert_eq!(
            round_trip(oid::UUID, &id),
            Value::from("12345678-9abc-def0-0102-030405060708")
        );
        assert_eq!(
            round_trip(oid::DATE, &0i32.to_be_bytes()),
            Value::from("2000-01-01")
        );
        assert_eq!(
            round_trip(oid::DATE, &(-1i32).to_be_bytes()),
            Value::from("1999-12-31")
        );
        let micros: i64 = 24 * 3_600_000_000 * 9_131 + 3_723_000_042;
        assert_eq!(
            round_trip(oid::TIMESTAMPTZ, &micros.to_be_bytes()),
            Value::from("2024-12-31T01:02:03.000042")
        );
        assert_eq!(
            round_trip(oid::TIMESTAMP, &(-1i64).to_be_bytes()),
            Value::from("1999-12-31T23:59:59.999999")
        );
    }

    #[test]
    fn other_values_are_their_bytes() {
        // numeric, an array, a NaN, infinity as a date: base64.
        assert_eq!(
            round_trip(1700, &[0, 1, 0, 0, 0, 0, 0, 0, 0, 7]),
            Value::from("AAEAAAAAAAAABw==")
        );
        assert_eq!(
            round_trip(oid::FLOAT8, &f64::NAN.to_be_bytes()),
            Value::from("f/gAAAAAAAA=")
        );
        assert_eq!(
            round_trip(oid::DATE, &i32::MAX.to_be_bytes()),
            Value::from("f////w==")
        );
        assert_eq!(round_trip(oid::BYTEA, b"\x00\xff"), Value::from("AP8="));
        // The wrong length for its type.
        assert_eq!(round_trip(oid::INT4, &[1, 2]), Value::from("AQI="));
    }

    #[test]
    fn text_values_and_nulls_are_as_sent() {
        assert_eq!(decode(oid::INT4, 0, Some(b"42")), Value::from("42"));
        assert_eq!(
            encode(oid::INT4, 0, &Value::from("42")),
            Some(Some(b"42".to_vec()))
        );
        assert_eq!(decode(oid::INT4, 1, None), Value::Null);
        assert_eq!(encode(oid::INT4, 1, &Value::Null), Some(None));
        // A hand-edited recording whose value cannot be the type.
        assert_eq!(encode(oid::INT4, 1, &Value::Bool(true)), None);
        assert_eq!(encode(oid::INT2, 1, &Value::from(70_000)), None);
    }

    #[test]
    fn the_calendar_goes_both_ways() {
        for days in [-800_000, -1, 0, 59, 60, 365, 10_957, 2_932_896] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_timestamp("2000-01-01T00:00:00.5"), None);
    }
}
