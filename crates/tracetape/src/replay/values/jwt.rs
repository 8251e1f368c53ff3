//! JWTs read for what they say: the header and claims, decoded.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A JSON Web Token's decoded header and claims. The signature is not
/// kept: it changes whenever anything it signs does, so replay never
/// compares it.
///
/// ```
/// use tracetape::replay::values::Jwt;
///
/// // {"alg":"HS256"} . {"sub":"alice"} . signature
/// let jwt = Jwt::parse("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln").unwrap();
/// assert_eq!(jwt.header()["alg"], "HS256");
/// assert_eq!(jwt.payload()["sub"], "alice");
/// assert!(Jwt::parse("a.b.c").is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    header: Value,
    payload: Value,
}

impl Jwt {
    /// `token` as a JWT (JWS compact form): three base64url segments
    /// without padding, the first a JSON object with a string `alg`, the
    /// second a JSON object; the signature may be empty (an unsigned
    /// token). `None` for anything else.
    #[must_use]
    pub fn parse(token: &str) -> Option<Self> {
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return None;
        };
        if !signature
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let header = object(header)?;
        if !header.get("alg").is_some_and(Value::is_string) {
            return None;
        }
        Some(Self {
            header,
            payload: object(payload)?,
        })
    }

    /// The header (`alg`, `typ`, `kid`...), a JSON object.
    #[must_use]
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// The claims (`sub`, `iat`, `exp`...), a JSON object.
    #[must_use]
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The header and the claims, taken apart.
    #[must_use]
    pub fn into_parts(self) -> (Value, Value) {
        (self.header, self.payload)
    }
}

fn object(segment: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    /// A token with `header` and `payload` and a made-up signature.
    fn token(header: &Value, payload: &Value) -> String {
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
        format!("{}.{}.c2lnbmF0dXJl", encode(header), encode(payload))
    }

    fn claims(sub: &str) -> Value {
        json!({"sub": sub, "iat": 1_735_787_045})
    }

    fn header() -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
    }

    #[test]
    fn tokens_are_three_base64url_segments_of_json_objects() {
        let good = token(&header(), &claims("alice"));
        let parsed = Jwt::parse(&good).unwrap();
        assert_eq!(parsed.header()["kid"], "k1");
        assert_eq!(parsed.payload()["sub"], "alice");
        // An unsigned token has an empty signature.
        let unsigned = format!("{}.", good.rsplit_once('.').unwrap().0);
        assert!(Jwt::parse(&unsigned).is_some());
        for not in [
            "a.b.c".to_owned(),
            good.replacen('.', "..", 1),
            format!("{good}.x"),
            good.rsplit_once('.').unwrap().0.to_owned(),
            format!("{good}="),
            format!("{good}+"),
            token(&json!({"typ": "JWT"}), &claims("a")),
            token(&header(), &json!("not an object")),
            format!("{}=.{}", good.split('.').next().unwrap(), "e30.sig"),
        ] {
            assert!(Jwt::parse(&not).is_none(), "{not}");
        }
    }
}
