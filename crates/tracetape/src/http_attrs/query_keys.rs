//! Which query parameters carry credentials, so that their values never
//! reach `url.query`, `url.full` or a recording: a default list, the
//! keys `TRACETAPE_REDACT_QUERY_KEYS` names, the keys the process's
//! redaction rules name for recordings, and those a layer adds in code.
//! Keys are compared ASCII case-insensitively, after percent-decoding.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::query::decode_component;

/// The variable naming more keys for every layer of the process and for
/// recordings (comma-separated).
pub(crate) const REDACT_QUERY_KEYS_VAR: &str = "TRACETAPE_REDACT_QUERY_KEYS";

/// Query keys whose values are always redacted: credentials, tokens and
/// signatures (the semantic conventions name `AWSAccessKeyId`,
/// `Signature`, `sig` and `X-Goog-Signature`; the rest are the usual names
/// of API keys, tokens and passwords). Listed in `docs/security.md`.
pub(crate) const DEFAULT_QUERY_KEYS: [&str; 22] = [
    "access_token",
    "api-key",
    "api_key",
    "apikey",
    "auth_token",
    "AWSAccessKeyId",
    "client_secret",
    "code_verifier",
    "id_token",
    "passwd",
    "password",
    "refresh_token",
    "secret",
    "session_token",
    "sig",
    "signature",
    "token",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Goog-Credential",
    "X-Goog-Signature",
];

/// The keys one layer redacts on top of the defaults and the process's
/// keys (lower case); cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryKeys {
    extra: Arc<[Box<str>]>,
    /// For a recording: the keys its own rules take care of, by name as
    /// written; the keys rules added for the process are not consulted
    /// either, since each rule applies with its own filters and action.
    recording: Option<Arc<[Box<str>]>>,
}

impl QueryKeys {
    /// The defaults and the variable's keys, as a recording's defaults
    /// apply them: the keys `rules` name (as written) are left to those
    /// rules, which hash, mask or replace them as configured.
    #[cfg(feature = "record-replay")]
    pub(crate) fn for_recording<'a>(rules: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            extra: Arc::default(),
            recording: Some(rules.into_iter().map(Box::from).collect()),
        }
    }

    /// These keys and `keys`.
    pub(crate) fn with<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Self {
        let mut extra = self.extra.to_vec();
        extra.extend(normalise(keys));
        Self {
            extra: extra.into(),
            recording: self.recording.clone(),
        }
    }

    /// Whether the value of the query key `key` (as written, perhaps
    /// percent-encoded) must be hidden.
    pub(crate) fn is_sensitive(&self, key: &str) -> bool {
        if let Some(ruled) = &self.recording
            && ruled.iter().any(|name| **name == *key)
        {
            return false;
        }
        let decoded;
        let key = if key.contains(['%', '+']) {
            decoded = decode_component(key, true);
            decoded.as_str()
        } else {
            key
        };
        DEFAULT_QUERY_KEYS
            .iter()
            .copied()
            .chain(self.extra.iter().map(|k| &**k))
            .any(|known| known.eq_ignore_ascii_case(key))
            || process_keys().contains(key, self.recording.is_none())
    }
}

/// Adds `keys` to those every layer of the process redacts in spans and
/// every recorder in recordings, for the rest of the process: the keys of
/// the query rules configured for recordings, so that what is hidden from
/// recordings is hidden from spans too.
#[cfg(feature = "record-replay")]
pub(crate) fn add_process_keys<'a>(keys: impl IntoIterator<Item = &'a str>) {
    let keys = normalise(keys);
    if keys.is_empty() {
        return;
    }
    let registry = process_keys();
    let mut added = registry
        .added
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for key in keys {
        if !added.contains(&key) {
            added.push(key);
        }
    }
    registry.added_count.store(added.len(), Ordering::Release);
}

/// The keys of the whole process: the variable's, read once, and those
/// added since.
struct ProcessKeys {
    from_env: Vec<Box<str>>,
    /// How many keys were added: only ever grows.
    added_count: AtomicUsize,
    added: RwLock<Vec<Box<str>>>,
}

impl ProcessKeys {
    fn contains(&self, key: &str, added_too: bool) -> bool {
        let known = |list: &[Box<str>]| list.iter().any(|k| k.eq_ignore_ascii_case(key));
        known(&self.from_env)
            || (added_too
                && self.added_count.load(Ordering::Acquire) > 0
                && known(
                    &self
                        .added
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                ))
    }
}

/// How many keys have been added for the whole process so far: what
/// depends on them is stale when this has changed.
#[cfg(feature = "record-replay")]
pub(crate) fn process_keys_version() -> usize {
    process_keys().added_count.load(Ordering::Acquire)
}

fn process_keys() -> &'static ProcessKeys {
    static KEYS: OnceLock<ProcessKeys> = OnceLock::new();
    KEYS.get_or_init(|| ProcessKeys {
        from_env: parse_list(std::env::var(REDACT_QUERY_KEYS_VAR).ok().as_deref()),
        added_count: AtomicUsize::new(0),
        added: RwLock::new(Vec::new()),
    })
}

/// The keys of a comma-separated list such as the variable's.
pub(crate) fn parse_list(value: Option<&str>) -> Vec<Box<str>> {
    normalise(value.unwrap_or_default().split(','))
}

/// Trimmed, lower-cased, empty ones left out.
fn normalise<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<Box<str>> {
    keys.into_iter()
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(|key| key.to_ascii_lowercase().into_boxed_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_any_case_and_encoded_extras() {
        let keys = QueryKeys::default();
        for key in [
            "api_key",
            "API_KEY",
            "apiKey",
            "access_token",
            "Signature",
            "x-goog-signature",
            "api%5Fkey",
            "pass%77ord",
        ] {
            assert!(keys.is_sensitive(key), "{key}");
        }
        for key in ["id", "page_token", "tokens", "", "q"] {
            assert!(!keys.is_sensitive(key), "{key}");
        }
        let more = keys.with([" Tenant-Secret ", ""]);
        assert!(more.is_sensitive("tenant-secret"));
        assert!(
            !keys.is_sensitive("tenant-secret"),
            "the original is unchanged"
        );
        assert!(keys.with(["x"]).with(["y"]).is_sensitive("X"));
    }

    #[cfg(feature = "record-replay")]
    #[test]
    fn keys_added_for_the_process_and_left_to_recording_rules() {
        let keys = QueryKeys::default();
        // Added for the whole process (a name no other test uses).
        assert!(!keys.is_sensitive("query-keys-test-only"));
        add_process_keys(["Query-Keys-Test-Only"]);
        assert!(keys.is_sensitive("query-keys-test-only"));
        assert!(QueryKeys::default().is_sensitive("QUERY-KEYS-TEST-ONLY"));
        // Recordings leave the rules' keys to the rules.
        let recording = QueryKeys::for_recording(["sig"]);
        assert!(!recording.is_sensitive("sig"));
        assert!(
            recording.is_sensitive("SIG"),
            "not the rule's key as written"
        );
        assert!(recording.is_sensitive("token"));
        assert!(!recording.is_sensitive("query-keys-test-only"));
    }

    #[test]
    fn the_variable_is_a_comma_separated_list() {
        assert_eq!(
            parse_list(Some(" Sess , ,tenant_key")),
            vec![Box::from("sess"), Box::from("tenant_key")]
        );
        assert!(parse_list(None).is_empty());
    }

    #[test]
    fn the_security_page_lists_the_defaults() {
        let page = include_str!("../../../../docs/security.md");
        for key in DEFAULT_QUERY_KEYS {
            assert!(page.contains(&format!("`{key}`")), "{key}");
        }
    }
}
