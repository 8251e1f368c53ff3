//! Durations and sizes as people type them on the command line and in
//! `tracetape.toml`.

use std::time::Duration;

/// `30` (seconds), `1.5`, `250us`, `500ms`, `90s`, `2m`, `12h`, `7d`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = number_and_unit(text)?;
    let secs = match unit {
        "" | "s" => number,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86_400.0,
        other => return Err(format!("unknown unit {other:?}")),
    };
    Duration::try_from_secs_f64(secs).map_err(|err| err.to_string())
}

/// `1048576` (bytes), `512KB`, `100MB`, `2GB`, `1GiB` (KB, MB, GB powers
/// of 1000; KiB, MiB, GiB of 1024).
pub(crate) fn bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = number_and_unit(text)?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown unit {unit:?}")),
    };
    let value = number * scale;
    if !(0.0..=u64::MAX as f64).contains(&value) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(value as u64)
}

fn number_and_unit(text: &str) -> Result<(f64, &str), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{number:?} is not a number"))?;
    Ok((number, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(duration("3 weeks").is_err());
        assert!(duration("ms").is_err());
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(bytes("1024"), Ok(1024));
        assert_eq!(bytes("100MB"), Ok(100_000_000));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert!(bytes("1 parsec").is_err());
        assert!(bytes("-1").is_err());
    }
}
