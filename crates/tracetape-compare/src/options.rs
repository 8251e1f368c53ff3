//! What a comparison looks at and what it forgives.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use tracetape::record::JsonPath;

use super::GrpcDescriptors;

/// The default [`CompareOptions::time_window`]: a minute.
pub const DEFAULT_TIME_WINDOW: Duration = Duration::from_secs(60);

/// What [`compare`](super::compare) compares besides status and body, and
/// which differences it forgives.
///
/// Every rule is on by default; [`Default`] compares the `content-type`
/// header only, ignores no path, compares numbers as written (an integer
/// is not a float) and forgives timestamps within a minute of the recorded
/// ones ([`DEFAULT_TIME_WINDOW`]). The type deserializes from a table
/// such as `[replay.compare]` in `tracetape.toml` (unknown keys are
/// errors, missing keys keep their defaults, and an invalid JSON path is
/// an error naming it):
///
/// ```toml
/// [replay.compare]
/// headers = ["content-type", "etag"]
/// ignore = ["$.order.created_at", "$.items[*].id", "$..etag"]
/// epochs = false
/// numbers_by_value = true   # 2 equals 2.0
/// time_window = "5m"        # or seconds (300), or "off"
/// ```
///
/// In code:
///
/// ```
/// use tracetape_compare::CompareOptions;
///
/// let mut options = CompareOptions::default()
///     .with_header("ETag")
///     .with_ignore("$.order.created_at".parse()?);
/// options.epochs = false;
/// assert_eq!(options.headers, ["content-type", "ETag"]);
///
/// // Any two timestamps forgiven, as when the service's clock is not the
/// // recorded one.
/// let options = options.with_time_window(None);
/// assert_eq!(options.time_window, None);
/// # Ok::<(), tracetape::record::JsonPathError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CompareOptions {
    /// The response headers compared, by name (any case). Default:
    /// `content-type` only.
    pub headers: Vec<String>,
    /// JSON paths whose values are never deviations, also when present on
    /// one side only (`$.order.created_at`, `$.items[*].id`, `$..etag`);
    /// everything below them is ignored too. Negative indices count from
    /// the end of the recorded array, or of the new one for elements only
    /// it has.
    #[serde(deserialize_with = "json_paths")]
    pub ignore: Vec<JsonPath>,
    /// UUIDs (any version, any case, `8-4-4-4-12` hex digits) on both
    /// sides are not deviations.
    pub uuids: bool,
    /// RFC 3339 / ISO 8601 timestamps on both sides (`2025-01-02T03:04:05Z`,
    /// with or without fractional seconds, offset or `Z`) are not
    /// deviations: within [`time_window`](Self::time_window) of the
    /// recorded one when it is set, else whatever they say.
    pub timestamps: bool,
    /// Dates on both sides (`2025-01-02`) are not deviations, when
    /// [`time_window`](Self::time_window) is `None`. With a window, a
    /// date must be the recorded one: the service's clock read the
    /// recorded time, so a date computed from it (`today + 30 days`) comes
    /// out as recorded unless the computation changed.
    pub dates: bool,
    /// Epoch seconds (978307200 to 4102444800, the years 2001 to 2100) on
    /// both sides, or epoch milliseconds (the same range ×1000) on both
    /// sides, as numbers or numeric strings, are not deviations: within
    /// [`time_window`](Self::time_window) of the recorded one when it is
    /// set.
    pub epochs: bool,
    /// JWTs on both sides are compared by their header and claims, with
    /// these same rules and the claims `iat`, `exp`, `nbf`, `jti` and
    /// `auth_time` forgiven, rather than as strings; their signatures are
    /// not compared.
    pub jwts: bool,
    /// A recorded value that redaction hid (`REDACTED...`, or a mask of
    /// `*`) matches any new value (a partial mask such as
    /// `************1111`: any value of that length ending as shown).
    pub redacted: bool,
    /// Numbers compared by value: `2` equals `2.0` and `1e2` equals `100`.
    /// Off by default: an integer that became a float (`2` → `2.0`), or a
    /// float that became an integer, is a deviation, since a client that
    /// parses the field as an integer would fail on the new response.
    pub numbers_by_value: bool,
    /// How far a timestamp or epoch may be from the recorded one and still
    /// be forgiven, when replay sets the service's clock to the recorded
    /// time (then dates must be equal too). `None`: any two timestamps,
    /// dates or epochs of the same kind are forgiven, for a service whose
    /// clock replay does not control. Default: a minute
    /// ([`DEFAULT_TIME_WINDOW`]). In TOML, `time_window = "60s"` (a
    /// number with a unit: `500ms`, `90s`, `2m`), a number of seconds
    /// (`time_window = 60`), or `time_window = "off"` (or `false`) for
    /// `None`.
    #[serde(deserialize_with = "time_window")]
    pub time_window: Option<Duration>,
    /// A gRPC service's descriptor set (a `FileDescriptorSet` file): its
    /// responses' messages are compared by field name, typed as declared
    /// (`$[0].total_cents`), instead of by field number. In TOML, the
    /// file's path (`grpc_descriptors = "shop.bin"`), read when the
    /// options are.
    #[serde(deserialize_with = "grpc_descriptors")]
    pub grpc_descriptors: Option<GrpcDescriptors>,
    /// Ask the gRPC service for its descriptors over gRPC server
    /// reflection once it is ready, when no
    /// [`grpc_descriptors`](Self::grpc_descriptors) are given (what asks
    /// is `tracetape replay`; the comparison only reads the result).
    pub grpc_reflection: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            headers: vec!["content-type".to_owned()],
            ignore: Vec::new(),
            uuids: true,
            timestamps: true,
            dates: true,
            epochs: true,
            jwts: true,
            redacted: true,
            numbers_by_value: false,
            time_window: Some(DEFAULT_TIME_WINDOW),
            grpc_descriptors: None,
            grpc_reflection: false,
        }
    }
}

impl CompareOptions {
    /// Compares the header `name` too.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>) -> Self {
        self.headers.push(name.into());
        self
    }

    /// Ignores the values at `path`.
    #[must_use]
    pub fn with_ignore(mut self, path: JsonPath) -> Self {
        self.ignore.push(path);
        self
    }

    /// Forgives timestamps and epochs only within `window` of the recorded
    /// ones (and dates only when equal); `None` forgives any.
    #[must_use]
    pub fn with_time_window(mut self, window: Option<Duration>) -> Self {
        self.time_window = window;
        self
    }

    /// The compared header names, lower-cased, each once, in the order
    /// given.
    pub(super) fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::with_capacity(self.headers.len());
        for name in &self.headers {
            let name = name.trim().to_ascii_lowercase();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// `grpc_descriptors`: a path, read at once.
fn grpc_descriptors<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<GrpcDescriptors>, D::Error> {
    let path = std::path::PathBuf::deserialize(deserializer)?;
    GrpcDescriptors::from_file(&path)
        .map(Some)
        .map_err(de::Error::custom)
}

fn json_paths<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<JsonPath>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|path| path.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// `time_window`: seconds (`60`, `1.5`), a number with a unit (`"500ms"`,
/// `"90s"`, `"2m"`), or `"off"` / `false` for no window.
fn time_window<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    deserializer.deserialize_any(TimeWindow)
}

struct TimeWindow;

const TIME_WINDOW_EXPECTED: &str =
    "seconds (60), a number with a unit (\"500ms\", \"90s\", \"2m\"), or \"off\"";

impl Visitor<'_> for TimeWindow {
    type Value = Option<Duration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a time window: {TIME_WINDOW_EXPECTED}")
    }

    fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
        if on {
            Err(E::custom(format!(
                "time_window = true: give the window, {TIME_WINDOW_EXPECTED}"
            )))
        } else {
            Ok(None)
        }
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Self::Value, E> {
        Ok(Some(Duration::from_secs(secs)))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Self::Value, E> {
        u64::try_from(secs)
            .map(|secs| Some(Duration::from_secs(secs)))
            .map_err(|_| {
                E::custom(format!(
                    "time_window = {secs}: the window cannot be negative"
                ))
            })
    }

    fn visit_f64<E: de::Error>(self, secs: f64) -> Result<Self::Value, E> {
        Duration::try_from_secs_f64(secs)
            .map(Some)
            .map_err(|err| E::custom(format!("time_window = {secs}: {err}")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        parse_window(text).map_err(|why| {
            E::custom(format!(
                "time_window = {text:?}: {why}; expected {TIME_WINDOW_EXPECTED}"
            ))
        })
    }
}

/// `"off"`, `"30"`, `"1.5s"`, `"500ms"`, `"2m"`.
fn parse_window(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| {
        if number.is_empty() {
            "no number".to_owned()
        } else {
            format!("{number:?} is not a number")
        }
    })?;
    let secs = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit {other:?}")),
    };
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn defaults_compare_content_type_with_every_rule_on() {
        let options = CompareOptions::default();
        assert_eq!(options.headers, ["content-type"]);
        assert!(options.ignore.is_empty());
        assert!(
            options.uuids
                && options.timestamps
                && options.dates
                && options.epochs
                && options.jwts
                && options.redacted
        );
        assert!(!options.numbers_by_value);
        assert_eq!(options.time_window, Some(Duration::from_secs(60)));
        // An empty table is the defaults.
        assert_eq!(toml::from_str::<CompareOptions>("").unwrap(), options);
    }

    #[test]
    fn a_toml_table_sets_what_it_names() {
        let options: CompareOptions = toml::from_str(
            r#"
            headers = ["Content-Type", "etag"]
            ignore = ["$.order.created_at", "$.items[*].id", "$..etag"]
            uuids = false
            jwts = false
            "#,
        )
        .unwrap();
        assert_eq!(options.headers, ["Content-Type", "etag"]);
        let ignore: Vec<String> = options.ignore.iter().map(ToString::to_string).collect();
        assert_eq!(ignore, ["$.order.created_at", "$.items[*].id", "$..etag"]);
        assert!(!options.uuids && !options.jwts);
        assert!(options.timestamps && options.dates && options.epochs && options.redacted);
    }

    #[test]
    fn numbers_by_value_and_the_time_window_are_keys() {
        let window = |toml: &str| {
            toml::from_str::<CompareOptions>(&format!("time_window = {toml}"))
                .map(|options| options.time_window)
                .map_err(|err| err.to_string())
        };
        assert_eq!(window(r#""90s""#), Ok(Some(Duration::from_secs(90))));
        assert_eq!(window(r#""500ms""#), Ok(Some(Duration::from_millis(500))));
        assert_eq!(window(r#""2m""#), Ok(Some(Duration::from_secs(120))));
        assert_eq!(window(r#""1h""#), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(window("30"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(window("1.5"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(window("0"), Ok(Some(Duration::ZERO)));
        assert_eq!(window(r#""off""#), Ok(None));
        assert_eq!(window("false"), Ok(None));
        assert_eq!(
            window(r#""soon""#).unwrap_err().lines().last(),
            Some(
                r#"time_window = "soon": no number; expected seconds (60), a number with a unit ("500ms", "90s", "2m"), or "off""#
            )
        );
        for bad in ["true", "-5", r#""soon""#, r#""5 days""#, "[1]"] {
            let err = window(bad).unwrap_err();
            assert!(
                err.contains("time_window") || err.contains("time window"),
                "{bad}: {err}"
            );
        }
        let options: CompareOptions = toml::from_str("numbers_by_value = true").unwrap();
        assert!(options.numbers_by_value);
    }

    #[test]
    fn unknown_keys_and_bad_paths_are_errors() {
        let err = toml::from_str::<CompareOptions>("uuid = false").unwrap_err();
        assert!(err.to_string().contains("unknown field `uuid`"), "{err}");
        let err = toml::from_str::<CompareOptions>(r#"ignore = ["order.id"]"#).unwrap_err();
        assert!(
            err.to_string().contains(r#"invalid JSON path "order.id""#),
            "{err}"
        );
    }

    #[test]
    fn header_names_are_lower_cased_once_each() {
        let options = CompareOptions {
            headers: vec![
                "Content-Type".into(),
                "ETag".into(),
                "content-type".into(),
                " ".into(),
            ],
            ..CompareOptions::default()
        };
        assert_eq!(options.header_names(), ["content-type", "etag"]);
    }
}
