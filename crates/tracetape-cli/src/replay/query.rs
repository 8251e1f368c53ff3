//! Query values sent with every replayed request instead of the recorded
//! ones: a credential that redaction replaced in the recordings
//! (`?api_key=REDACTED`) and a service checks, given back for the replay.
//! From `--query 'KEY=VALUE'` and the `[replay.query]` table, whose values
//! may name environment variables as `[replay.headers]`' do.
//!
//! Only keys the recorded query has are given a value; none is added. The
//! other pairs are sent exactly as recorded.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};

/// The query values to send: the table's, then the flags' (a flag
/// replaces the table's value for the same key). `env` reads an
/// environment variable.
pub(crate) fn resolve(
    table: Option<&BTreeMap<String, String>>,
    flags: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut given: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| {
        given.retain(|(other, _)| !other.eq_ignore_ascii_case(key));
        given.push((key.to_owned(), value));
    };
    for (key, value) in table.into_iter().flatten() {
        let named = format!("replay.query.{key}");
        let value = super::headers::expand(value, &env).map_err(|why| anyhow!("{named}: {why}"))?;
        checked(key).map_err(|why| anyhow!("{named}: {why}"))?;
        set(key, value);
    }
    for flag in flags {
        let Some((key, value)) = flag.split_once('=') else {
            bail!("--query: expected KEY=VALUE (`api_key=…`)");
        };
        checked(key).map_err(|why| anyhow!("--query {key:?}: {why}"))?;
        set(key, value.to_owned());
    }
    Ok(given)
}

/// Whether `key` can name a query key: not empty, and none of the
/// characters that end one.
fn checked(key: &str) -> Result<(), String> {
    if key.is_empty() || key.contains(['&', '=', '#']) {
        return Err("a query key is not empty and holds no `&`, `=` or `#`".to_owned());
    }
    Ok(())
}

/// `query` with the value of each pair whose key (decoded, in any case, as
/// redaction compares keys) is given replaced by the given value; `None`
/// when no pair's key is given, so the recorded query is sent untouched.
pub(crate) fn replace(query: &str, given: &[(String, String)]) -> Option<String> {
    if given.is_empty() {
        return None;
    }
    let mut replaced = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let raw_key = pair.split_once('=').map_or(pair, |(key, _)| key);
            let key = form_urlencoded::parse(raw_key.as_bytes())
                .next()
                .map(|(key, _)| key);
            let value = key.and_then(|key| {
                given
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&key))
                    .map(|(_, value)| value)
            });
            match value {
                Some(value) => {
                    replaced = true;
                    let encoded: String =
                        form_urlencoded::byte_serialize(value.as_bytes()).collect();
                    format!("{raw_key}={encoded}")
                }
                None => pair.to_owned(),
            }
        })
        .collect();
    replaced.then(|| pairs.join("&"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn only_given_keys_get_a_value_and_the_rest_stays_as_recorded() {
        let given = given(&[("api_key", "k 1&2"), ("token", "t")]);
        assert_eq!(
            replace("q=a%20b&API_KEY=REDACTED&x&api%5Fkey=REDACTED", &given).as_deref(),
            Some("q=a%20b&API_KEY=k+1%262&x&api%5Fkey=k+1%262")
        );
        // Nothing given is in the query: it is sent untouched, and no key
        // is added.
        assert_eq!(replace("q=a%20b&page=2", &given), None);
        assert_eq!(replace("q=1", &[]), None);
    }

    #[test]
    fn the_table_then_the_flags_with_environment_values() {
        let table = BTreeMap::from([
            ("api_key".to_owned(), "${REPLAY_KEY}".to_owned()),
            ("sig".to_owned(), "from-file".to_owned()),
        ]);
        let env = |name: &str| (name == "REPLAY_KEY").then(|| "s3cret".to_owned());
        let resolved = resolve(Some(&table), &["SIG=from-flag".to_owned()], env).unwrap();
        assert_eq!(
            resolved,
            given(&[("api_key", "s3cret"), ("SIG", "from-flag")])
        );
    }

    #[test]
    fn bad_keys_and_unset_variables_are_errors_that_never_show_a_value() {
        let err = resolve(None, &["no-equals-sign-s3cret".to_owned()], |_| None).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = resolve(None, &["=s3cret".to_owned()], |_| None).unwrap_err();
        assert!(err.to_string().starts_with("--query \"\": "), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let table = BTreeMap::from([("api_key".to_owned(), "${UNSET}".to_owned())]);
        let err = resolve(Some(&table), &[], |_| None).unwrap_err();
        assert!(err.to_string().contains("UNSET"), "{err}");
    }
}
