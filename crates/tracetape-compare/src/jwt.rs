//! JWTs compared by what they say: a token's header and claims decoded and
//! compared as JSON with the same rules as bodies, the claims that change
//! with every token issued forgiven, and the signature left out, since it
//! changes whenever anything it signs does.

use serde_json::Value;
use tracetape::replay::values::Jwt;

use super::{Change, CompareOptions, Deviation, DeviationKind, json};

/// Claims that differ between two tokens issued for the same thing.
pub(super) const DYNAMIC_CLAIMS: [&str; 5] = ["iat", "exp", "nbf", "jti", "auth_time"];

/// `None` unless both strings are JWTs; else how their headers and claims
/// differ, each deviation with the part it is in (`header`, `payload`).
pub(super) fn differences(
    expected: &str,
    actual: &str,
    options: &CompareOptions,
) -> Option<Vec<(&'static str, Deviation)>> {
    let (expected_header, mut expected_claims) = Jwt::parse(expected)?.into_parts();
    let (actual_header, mut actual_claims) = Jwt::parse(actual)?.into_parts();
    if let (Value::Object(e), Value::Object(a)) = (&mut expected_claims, &mut actual_claims) {
        for claim in DYNAMIC_CLAIMS {
            if e.contains_key(claim) && a.contains_key(claim) {
                e.shift_remove(claim);
                a.shift_remove(claim);
            }
        }
    }
    let header = json::compare_values(expected_header, actual_header, options, &[]);
    let payload = json::compare_values(expected_claims, actual_claims, options, &[]);
    Some(
        header
            .into_iter()
            .map(|deviation| ("header", deviation))
            .chain(payload.into_iter().map(|deviation| ("payload", deviation)))
            .collect(),
    )
}

/// One deviation for two tokens that differ in `differences`: which
/// claims in the message, each with its values in the detail.
pub(super) fn deviation(kind: DeviationKind, differences: &[(&str, Deviation)]) -> Deviation {
    let places: Vec<String> = differences
        .iter()
        .map(|(part, deviation)| format!("{part} {}", deviation.path.as_deref().unwrap_or("$")))
        .collect();
    let detail: Vec<String> = differences
        .iter()
        .zip(&places)
        .map(|((_, deviation), place)| format!("{place}: {}", deviation.message))
        .collect();
    Deviation::new(
        kind,
        Change::Changed,
        format!("the JWTs differ in {}", places.join(", ")),
    )
    .with_detail(detail.join("\n"))
    .with_suggestion(
        "check what issues the token: its header or claims changed (the signature is not compared)"
            .to_owned(),
    )
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;

    /// A token with `header` and `payload` and a made-up signature.
    pub(in super::super) fn token(header: &Value, payload: &Value) -> String {
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
        format!("{}.{}.c2lnbmF0dXJl", encode(header), encode(payload))
    }

    pub(in super::super) fn claims(sub: &str, iat: u64) -> Value {
        json!({
            "sub": sub, "iss": "https://auth.example", "aud": "shop", "scope": "orders:read",
            "iat": iat, "exp": iat + 3600, "nbf": iat, "auth_time": iat, "jti": format!("t-{iat}")
        })
    }

    pub(in super::super) fn header() -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
    }

    #[test]
    fn dynamic_claims_are_forgiven_and_the_signature_ignored() {
        let options = CompareOptions::default();
        let recorded = token(&header(), &claims("alice", 1_735_787_045));
        let mut replayed = token(&header(), &claims("alice", 1_741_000_000));
        replayed = format!("{}.b3RoZXI", replayed.rsplit_once('.').unwrap().0);
        let differences = differences(&recorded, &replayed, &options).unwrap();
        assert!(differences.is_empty(), "{differences:?}");
        // Not JWTs on both sides: no answer.
        assert!(super::differences(&recorded, "plain", &options).is_none());
    }

    #[test]
    fn other_claims_and_header_fields_must_match() {
        let options = CompareOptions::default();
        let recorded = token(&header(), &claims("alice", 1_735_787_045));
        let mut other_header = header();
        other_header["alg"] = json!("HS256");
        let mut other_claims = claims("bob", 1_741_000_000);
        other_claims["scope"] = json!("orders:write");
        other_claims.as_object_mut().unwrap().shift_remove("exp");
        let replayed = token(&other_header, &other_claims);
        let differences = differences(&recorded, &replayed, &options).unwrap();
        let places: Vec<String> = differences
            .iter()
            .map(|(part, d)| format!("{part} {}", d.path.as_deref().unwrap()))
            .collect();
        // `exp` is forgiven only when both tokens have one.
        assert_eq!(
            places,
            [
                "header $.alg",
                "payload $.sub",
                "payload $.scope",
                "payload $.exp"
            ]
        );
        let deviation = deviation(DeviationKind::Body, &differences);
        assert_eq!(
            deviation.message,
            "the JWTs differ in header $.alg, payload $.sub, payload $.scope, payload $.exp"
        );
        assert_eq!(
            deviation.detail.as_deref().unwrap().lines().nth(1),
            Some(r#"payload $.sub: expected "alice", actual "bob""#)
        );
    }
}
