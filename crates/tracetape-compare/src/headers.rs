//! The chosen headers: values compared exactly (all of a repeated
//! header's values, in order), except `content-type` by media type and
//! parameters in any case and order, whole values that are dynamic alike
//! on both sides, and recorded values that redaction hid.

use std::borrow::Cow;

use super::dynamic::{self, Dynamic, Hidden, Verdict};
use super::{Change, CompareOptions, Deviation, DeviationKind, jwt, suggest};
use tracetape::record::{HeaderRecord, ResponseRecord};

/// The deviations of the headers `options` names, in its order.
pub(super) fn compare(
    expected: &[HeaderRecord],
    actual: &[HeaderRecord],
    options: &CompareOptions,
) -> Vec<Deviation> {
    options
        .header_names()
        .iter()
        .filter_map(|name| {
            compare_one(
                name,
                &values(expected, name),
                &values(actual, name),
                options,
            )
        })
        .collect()
}

/// The deviations of a gRPC call's outcome: `grpc-status` and
/// `grpc-message`, read from the trailers, else from the headers (a
/// trailers-only answer), unless `options` compares them as headers
/// already.
pub(super) fn compare_grpc(
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    options: &CompareOptions,
) -> Vec<Deviation> {
    ["grpc-status", "grpc-message"]
        .into_iter()
        .filter(|name| !options.header_names().iter().any(|chosen| chosen == name))
        .filter_map(|name| {
            compare_one(
                name,
                &grpc_outcome(expected, name),
                &grpc_outcome(actual, name),
                options,
            )
        })
        .collect()
}

/// The values of `name` in `response`'s trailers, else its headers.
fn grpc_outcome<'r>(response: &'r ResponseRecord, name: &str) -> Vec<Cow<'r, str>> {
    let trailers = values(&response.trailers, name);
    if trailers.is_empty() {
        values(&response.headers, name)
    } else {
        trailers
    }
}

fn compare_one(
    name: &str,
    expected: &[Cow<'_, str>],
    actual: &[Cow<'_, str>],
    options: &CompareOptions,
) -> Option<Deviation> {
    let (recorded, new) = (expected.join(", "), actual.join(", "));
    let deviation = match (expected.is_empty(), actual.is_empty()) {
        (true, true) => return None,
        (false, true) => Deviation::new(
            DeviationKind::Header,
            Change::Missing,
            format!("missing (expected {recorded})"),
        )
        .with_values(Some(&recorded), None),
        (true, false) => Deviation::new(
            DeviationKind::Header,
            Change::Unexpected,
            format!("unexpected (actual {new})"),
        )
        .with_values(None, Some(&new)),
        (false, false) => {
            // How the first pair that differs differs, when it says.
            let mut detail = None;
            if expected.len() == actual.len() {
                let mismatch = expected
                    .iter()
                    .zip(actual)
                    .map(|(e, a)| value_matches(name, e, a, options))
                    .find(|(same, _)| !same);
                let (_, more) = mismatch?;
                detail = more;
            }
            let deviation = Deviation::new(
                DeviationKind::Header,
                Change::Changed,
                format!("expected {recorded}, actual {new}"),
            )
            .with_values(Some(&recorded), Some(&new));
            match detail {
                Some(detail) => deviation.with_detail(detail),
                None => deviation,
            }
        }
    };
    Some(
        deviation
            .with_header(name)
            .with_suggestion(suggest::header(name)),
    )
}

/// Whether one recorded value matches one new value; when two JWTs
/// differ, also how.
fn value_matches(
    name: &str,
    expected: &str,
    actual: &str,
    options: &CompareOptions,
) -> (bool, Option<String>) {
    if expected == actual
        || (name == "content-type" && media_type(expected) == media_type(actual))
        || (options.redacted && Hidden::of(expected).is_some_and(|hidden| hidden.covers(actual)))
    {
        return (true, None);
    }
    if options.jwts
        && let Some(differences) = jwt::differences(expected, actual, options)
    {
        if differences.is_empty() {
            return (true, None);
        }
        return (
            false,
            jwt::deviation(DeviationKind::Header, &differences).detail,
        );
    }
    let kinds = (Dynamic::of_str(expected), Dynamic::of_str(actual));
    match dynamic::judge(kinds, (expected, actual), options) {
        Verdict::Forgiven => (true, None),
        Verdict::Deviates => (false, None),
        Verdict::Clock(why) => (false, Some(why)),
    }
}

/// The values of the header `name` (lower-case), in order.
fn values<'h>(headers: &'h [HeaderRecord], name: &str) -> Vec<Cow<'h, str>> {
    headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case(name))
        .map(|header| String::from_utf8_lossy(&header.value))
        .collect()
}

/// A media type as compared: type and subtype lower-cased, parameters
/// with lower-cased names and values (quotes removed), sorted.
fn media_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut parameters: Vec<(String, String)> = parts
        .filter_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim().to_ascii_lowercase(), value.to_ascii_lowercase()))
        })
        .collect();
    parameters.sort();
    (essence, parameters)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::header;

    fn compare_with(
        expected: &[HeaderRecord],
        actual: &[HeaderRecord],
        options: &CompareOptions,
    ) -> Vec<String> {
        compare(expected, actual, options)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The header each deviation names.
    fn named(deviations: &[Deviation]) -> Vec<&str> {
        deviations
            .iter()
            .filter_map(|d| d.header.as_deref())
            .collect()
    }

    fn content_type(value: &str) -> Vec<HeaderRecord> {
        vec![header("content-type", value)]
    }

    #[test]
    fn content_type_compares_media_type_and_parameters_in_any_case() {
        let options = CompareOptions::default();
        let json = content_type("application/json; charset=utf-8");
        for same in [
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/json ; charset=\"utf-8\"",
        ] {
            assert!(
                compare_with(&json, &content_type(same), &options).is_empty(),
                "{same}"
            );
        }
        assert_eq!(
            compare_with(&json, &content_type("text/html; charset=utf-8"), &options),
            [
                "header content-type: expected application/json; charset=utf-8, actual text/html; charset=utf-8"
            ]
        );
        assert_eq!(
            compare_with(&json, &content_type("application/json"), &options).len(),
            1
        );
        // Parameters in any order.
        assert!(
            compare_with(
                &content_type("multipart/form-data; boundary=x; charset=utf-8"),
                &content_type("multipart/form-data; charset=utf-8; boundary=x"),
                &options
            )
            .is_empty()
        );
    }

    #[test]
    fn other_headers_compare_exactly_only_when_chosen() {
        let expected = [
            header("content-type", "text/plain"),
            header("etag", "\"v1\""),
        ];
        let actual = [
            header("Content-Type", "text/plain"),
            header("ETag", "\"V1\""),
        ];
        assert!(compare_with(&expected, &actual, &CompareOptions::default()).is_empty());
        let options = CompareOptions::default().with_header("ETag");
        let deviations = compare(&expected, &actual, &options);
        assert_eq!(deviations.len(), 1);
        assert_eq!(deviations[0].header.as_deref(), Some("etag"));
        assert_eq!(deviations[0].expected.as_deref(), Some("\"v1\""));
        assert!(deviations[0].suggestion.contains("`etag`"));
    }

    #[test]
    fn missing_unexpected_and_repeated_headers() {
        let options = CompareOptions::default()
            .with_header("etag")
            .with_header("vary");
        let expected = [
            header("etag", "a"),
            header("vary", "accept"),
            header("vary", "origin"),
        ];
        let actual = [
            header("content-type", "text/plain"),
            header("vary", "accept"),
        ];
        assert_eq!(
            compare_with(&expected, &actual, &options),
            [
                "header content-type: unexpected (actual text/plain)",
                "header etag: missing (expected a)",
                "header vary: expected accept, origin, actual accept"
            ]
        );
    }

    #[test]
    fn dynamic_and_redacted_header_values() {
        let options = CompareOptions::default()
            .with_header("x-request-id")
            .with_header("authorization")
            .with_header("x-token");
        let token = |sub: &str, iat: u64| {
            jwt::tests::token(&jwt::tests::header(), &jwt::tests::claims(sub, iat))
        };
        let expected = [
            header("x-request-id", "6f1c2e9a-3b4d-4c5e-8f70-112233445566"),
            header("authorization", "REDACTED:0123456789abcdef"),
            header("x-token", token("alice", 1_735_787_045)),
        ];
        let forgiven = [
            header("x-request-id", "01890a5d-ac96-774b-bcce-b302099a8057"),
            header("authorization", "Bearer abc"),
            header("x-token", token("alice", 1_741_000_000)),
        ];
        assert!(compare_with(&expected, &forgiven, &options).is_empty());
        let actual = [
            header("x-request-id", "req-7"),
            header("authorization", "Bearer abc"),
            header("x-token", token("bob", 1_741_000_000)),
        ];
        let deviations = compare(&expected, &actual, &options);
        assert_eq!(named(&deviations), ["x-request-id", "x-token"]);
        assert_eq!(
            deviations[1].detail.as_deref(),
            Some(r#"payload $.sub: expected "alice", actual "bob""#)
        );
        let mut strict = options.clone();
        strict.redacted = false;
        strict.uuids = false;
        let deviations = compare(&expected, &forgiven, &strict);
        assert_eq!(named(&deviations), ["x-request-id", "authorization"]);
    }
}
