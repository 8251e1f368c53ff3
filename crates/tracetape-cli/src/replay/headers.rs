//! Headers sent with every replayed request instead of the recorded ones:
//! what redaction replaced in the recordings (`Authorization: REDACTED:…`)
//! and a service checks, given back for the replay. From `--header
//! 'NAME: VALUE'` and the `[replay.headers]` table, whose values may name
//! environment variables (`"Bearer ${REPLAY_TOKEN}"`) so that no secret
//! needs to be written in the file.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};
use reqwest::header::{HeaderName, HeaderValue};

/// The headers to send: the table's, then the flags' (a flag replaces the
/// table's header of the same name), names lower-case, values checked.
/// `env` reads an environment variable.
pub(crate) fn resolve(
    table: Option<&BTreeMap<String, String>>,
    flags: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<(HeaderName, HeaderValue)>> {
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut set = |name: HeaderName, value: HeaderValue| {
        headers.retain(|(other, _)| *other != name);
        headers.push((name, value));
    };
    for (name, value) in table.into_iter().flatten() {
        let named = format!("replay.headers.{name}");
        let value = expand(value, &env).map_err(|why| anyhow!("{named}: {why}"))?;
        let (name, value) = checked(name, &value).map_err(|why| anyhow!("{named}: {why}"))?;
        set(name, value);
    }
    for flag in flags {
        let Some((name, value)) = flag.split_once(':') else {
            bail!("--header {flag:?}: expected NAME: VALUE (`Authorization: Bearer …`)");
        };
        let (name, value) = checked(name.trim(), value.trim())
            .map_err(|why| anyhow!("--header {flag:?}: {why}"))?;
        set(name, value);
    }
    Ok(headers)
}

/// `name` and `value` as a header that can be sent, or why not.
fn checked(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a header name"))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| "the value cannot be sent in a header (control characters?)".to_owned())?;
    Ok((name, value))
}

/// `text` with each `${NAME}` replaced by that environment variable; an
/// unset one, or a `${` left open, is an error naming it.
pub(super) fn expand(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("`${{` without its `}}` in {text:?}"));
        };
        let name = &after[..end];
        match env(name) {
            Some(value) => out.push_str(&value),
            None => return Err(format!("the environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "REPLAY_TOKEN").then(|| "s3cret".to_owned())
    }

    fn shown(headers: &[(HeaderName, HeaderValue)]) -> Vec<String> {
        headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn the_table_s_headers_then_the_flags_replacing_the_same_name() {
        let table = BTreeMap::from([
            (
                "Authorization".to_owned(),
                "Bearer ${REPLAY_TOKEN}".to_owned(),
            ),
            ("x-api-key".to_owned(), "k-${REPLAY_TOKEN}-1".to_owned()),
        ]);
        let headers = resolve(Some(&table), &[], env).unwrap();
        assert_eq!(
            shown(&headers),
            ["authorization: Bearer s3cret", "x-api-key: k-s3cret-1"]
        );
        let flags = [
            "X-Api-Key:  other ".to_owned(),
            "cookie: a=1; b=2".to_owned(),
        ];
        let headers = resolve(Some(&table), &flags, env).unwrap();
        assert_eq!(
            shown(&headers),
            [
                "authorization: Bearer s3cret",
                "x-api-key: other",
                "cookie: a=1; b=2"
            ]
        );
        assert!(resolve(None, &[], env).unwrap().is_empty());
    }

    #[test]
    fn what_cannot_be_sent_is_an_error_naming_it() {
        for (flag, why) in [
            ("Authorization", "expected NAME: VALUE"),
            ("bad name: x", "\"bad name\" is not a header name"),
            (": x", "\"\" is not a header name"),
            ("x-a: \u{7}", "cannot be sent in a header"),
        ] {
            let err = resolve(None, &[flag.to_owned()], env)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("--header {flag:?}: ")), "{err}");
            assert!(err.contains(why), "{err}");
        }
        for (value, why) in [
            (
                "Bearer ${MISSING}",
                "the environment variable MISSING is not set",
            ),
            ("Bearer ${REPLAY_TOKEN", "`${` without its `}`"),
        ] {
            let table = BTreeMap::from([("authorization".to_owned(), value.to_owned())]);
            let err = resolve(Some(&table), &[], env).unwrap_err().to_string();
            assert!(err.starts_with("replay.headers.authorization: "), "{err}");
            assert!(err.contains(why), "{err}");
        }
    }
}
