//! What a comparison looks at and what it forgives.

use serde::{Deserialize, Deserializer};

use crate::record::JsonPath;

/// What [`compare`](super::compare) compares besides status and body, and
/// which differences it forgives.
///
/// Every rule is on by default; [`Default`] compares the `content-type`
/// header only and ignores no path. The type deserializes from a table
/// such as `[replay.compare]` in `tracetape.toml` (unknown keys are
/// errors, missing keys keep their defaults, and an invalid JSON path is
/// an error naming it):
///
/// ```toml
/// [replay.compare]
/// headers = ["content-type", "etag"]
/// ignore = ["$.order.created_at", "$.items[*].id", "$..etag"]
/// epochs = false
/// ```
///
/// In code:
///
/// ```
/// use tracetape::replay::compare::CompareOptions;
///
/// let mut options = CompareOptions::default()
///     .with_header("ETag")
///     .with_ignore("$.order.created_at".parse()?);
/// options.epochs = false;
/// assert_eq!(options.headers, ["content-type", "ETag"]);
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
    /// deviations.
    pub timestamps: bool,
    /// Dates on both sides (`2025-01-02`) are not deviations.
    pub dates: bool,
    /// Epoch seconds (978307200 to 4102444800, the years 2001 to 2100) on
    /// both sides, or epoch milliseconds (the same range ×1000) on both
    /// sides, as numbers or numeric strings, are not deviations.
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

fn json_paths<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<JsonPath>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|path| path.parse().map_err(serde::de::Error::custom))
        .collect()
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
