//! Redaction before anything is written: every recording passes through
//! one [`Redactor`] on its way from the recorder to the writer, so no file
//! ever holds what it removes.
//!
//! Two layers of rules apply to each exchange, in this order:
//!
//! 1. The defaults, always: the values of the headers that carry
//!    credentials ([`DEFAULT_HEADERS`]) become their keyed hash, and the
//!    user name and password of outbound URLs and the values of sensitive
//!    query keys (the default list and `TRACETAPE_REDACT_QUERY_KEYS`) in
//!    all URLs become `REDACTED`, as they are in `url.full` and
//!    `url.query`; a key that a configured rule applying to the exchange
//!    names is left to that rule, so that it is hashed (or masked,
//!    replaced) from its real value.
//! 2. The configured [`RedactRule`]s (`[[record.redact]]` in
//!    `tracetape.toml`, `TRACETAPE_RECORD_REDACT_*`), in the order given.

mod action;
mod column;
mod json_body;
mod json_path;
mod key;
mod query;
mod rule;

use std::borrow::Cow;

use bytes::Bytes;

pub use json_path::{JsonPath, JsonPathError};
pub use key::{KEY_FILE, RedactionKey, RedactionKeyError};
pub use rule::{
    Direction, InvalidRuleError, Pattern, PatternError, RedactAction, RedactRule, RedactTarget,
};

use super::{Exchange, ExchangeKind, HeaderRecord, Recording};
use crate::http_attrs::{QueryKeys, redact_url};
use json_body::Found;

/// Headers whose values are always redacted, in lower case: those that
/// carry credentials, the same list whose values spans never capture
/// unless told they are safe.
///
/// ```
/// assert!(tracetape::record::DEFAULT_HEADERS.contains(&"x-csrf-token"));
/// ```
pub const DEFAULT_HEADERS: [&str; 10] = crate::http_attrs::SANITIZED_HEADERS;

impl super::RecordSettings {
    /// Redacts `exchange` in place as a recorder with these settings
    /// redacts each exchange before writing it: the defaults, then
    /// [`redact`](super::RecordSettings::redact), hashing with `key`.
    /// `false` when a rule drops the exchange (a recorder would not write
    /// it; what the rules rewrote by then stays rewritten).
    ///
    /// For tools that put new data into a recording, such as `tracetape
    /// accept` writing a new build's response as the expected one: what
    /// they write must be redacted as recorded data is.
    ///
    /// ```
    /// use tracetape::http;
    /// use tracetape::opentelemetry::trace::SpanId;
    /// use tracetape::record::{
    ///     BodyRecord, Exchange, ExchangeKind, HeaderRecord, RecordSettings, RedactionKey,
    ///     RequestRecord, ResponseRecord,
    /// };
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut exchange = Exchange {
    ///     kind: ExchangeKind::Server,
    ///     span_id: SpanId::from(7),
    ///     parent_span_id: SpanId::INVALID,
    ///     name: "POST /login".into(),
    ///     route: Some("/login".into()),
    ///     start_unix_nanos: 0,
    ///     end_unix_nanos: 0,
    ///     request: RequestRecord {
    ///         method: "POST".into(),
    ///         url: "/login".into(),
    ///         headers: Vec::new(),
    ///         body: BodyRecord::default(),
    ///     },
    ///     response: Some(ResponseRecord {
    ///         status: 200,
    ///         headers: vec![HeaderRecord {
    ///             name: http::header::SET_COOKIE.as_str().into(),
    ///             value: "session=s3cret".into(),
    ///         }],
    ///         body: BodyRecord::default(),
    ///         trailers: Vec::new(),
    ///     }),
    ///     error: None,
    /// };
    /// let key = RedactionKey::ephemeral()?;
    /// assert!(RecordSettings::default().redact_exchange(&mut exchange, &key));
    /// let cookie = &exchange.response.as_ref().unwrap().headers[0].value;
    /// assert!(cookie.starts_with(b"REDACTED:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn redact_exchange(&self, exchange: &mut Exchange, key: &RedactionKey) -> bool {
        Redactor::new(self.redact.clone(), key.clone()).redact_exchange(exchange)
    }
}

/// The defaults and the configured rules, with the key that hashes what
/// they redact.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    rules: Vec<RedactRule>,
    key: RedactionKey,
}

/// What became of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    Drop,
}

impl Redactor {
    /// Also adds the keys of the query rules to those spans hide
    /// ([`add_process_keys`](crate::http_attrs::add_process_keys)): what a
    /// recording hides, `url.query` and `url.full` hide too.
    pub(crate) fn new(rules: Vec<RedactRule>, key: RedactionKey) -> Self {
        share_query_keys(&rules);
        Self { rules, key }
    }

    /// The key redactions hash with.
    #[cfg(feature = "postgres")]
    pub(crate) fn key(&self) -> &RedactionKey {
        &self.key
    }

    /// `recording` with every rule applied; `None` when a rule dropped its
    /// inbound exchange, or every exchange it had.
    pub(crate) fn apply(&self, mut recording: Recording) -> Option<Recording> {
        let mut kept = Vec::with_capacity(recording.exchanges.len());
        for mut exchange in std::mem::take(&mut recording.exchanges) {
            match self.exchange(&mut exchange) {
                Verdict::Keep => kept.push(exchange),
                Verdict::Drop if exchange.kind == ExchangeKind::Server => return None,
                Verdict::Drop => {}
            }
        }
        if kept.is_empty() {
            return None;
        }
        recording.exchanges = kept;
        Some(recording)
    }

    /// Redacts one exchange in place exactly as [`apply`](Self::apply)
    /// redacts each exchange of a recording; `false` when a rule drops it
    /// (what the rules had rewritten by then stays rewritten). Replay runs
    /// live calls through it, so that they compare with what was recorded.
    pub(crate) fn redact_exchange(&self, exchange: &mut Exchange) -> bool {
        self.exchange(exchange) == Verdict::Keep
    }

    fn exchange(&self, exchange: &mut Exchange) -> Verdict {
        // An error message may quote the URL as it was sent (reqwest's do).
        let sent = exchange
            .error
            .is_some()
            .then(|| exchange.request.url.clone());
        let verdict = self.rules_and_defaults(exchange);
        if let Some(sent) = sent
            && exchange.request.url != sent
            && let Some(error) = exchange.error.as_mut()
        {
            *error = error.replace(&sent, &exchange.request.url);
        }
        verdict
    }

    fn rules_and_defaults(&self, exchange: &mut Exchange) -> Verdict {
        // Decided before anything is rewritten, so that one rule's work
        // cannot change which exchanges the next one looks in.
        let applies: Vec<bool> = self
            .rules
            .iter()
            .map(|rule| rule.applies_to(exchange))
            .collect();
        let ruled_keys = self
            .rules
            .iter()
            .zip(&applies)
            .filter_map(|(rule, applies)| match rule.target() {
                RedactTarget::Query(name) if *applies => Some(name.as_str()),
                _ => None,
            });
        self.defaults(exchange, &QueryKeys::for_recording(ruled_keys));
        let rules = self
            .rules
            .iter()
            .zip(applies)
            .filter(|(_, applies)| *applies);
        for (rule, _) in rules {
            let action = rule.what_to_do();
            let found = match rule.target() {
                RedactTarget::Header(name) => self.headers(exchange, name, action),
                RedactTarget::Query(name) => {
                    query::apply(&mut exchange.request.url, name, action, &self.key)
                }
                RedactTarget::Json(path) => self.bodies(exchange, path, action),
                RedactTarget::Column(name) => self.columns(exchange, name, action),
                RedactTarget::Exchange => true,
            };
            if found && *action == RedactAction::Drop {
                return Verdict::Drop;
            }
        }
        Verdict::Keep
    }

    /// The default headers, and the URL's user information and sensitive
    /// query values but those of `keys`' rules.
    fn defaults(&self, exchange: &mut Exchange, keys: &QueryKeys) {
        // One pass over the headers, each looked up in the list.
        for header in all_headers(exchange) {
            if DEFAULT_HEADERS.contains(&header.name.as_str())
                && let Some(text) = RedactAction::Redact.rewrite(&header.value, &self.key)
            {
                header.value = Bytes::from(text);
            }
        }
        // Inbound URLs are a path and query, without user information,
        // and are redacted the same way.
        if let Cow::Owned(url) = redact_url(&exchange.request.url, keys) {
            exchange.request.url = url;
        }
    }

    /// Rewrites every value of the header `name`, request and response
    /// (trailers too); returns whether there was one.
    fn headers(&self, exchange: &mut Exchange, name: &str, action: &RedactAction) -> bool {
        let mut found = false;
        for header in all_headers(exchange) {
            if header.name == name {
                found = true;
                if let Some(text) = action.rewrite(&header.value, &self.key) {
                    header.value = Bytes::from(text);
                }
            }
        }
        found
    }

    /// Applies a JSON path to the request and response bodies; returns
    /// whether it named something (or could not tell, for a body that
    /// should have been JSON).
    fn bodies(
        &self,
        exchange: &mut Exchange,
        path: &crate::record::JsonPath,
        action: &RedactAction,
    ) -> bool {
        let request = &mut exchange.request;
        let mut found = json_body::apply(
            path,
            action,
            &self.key,
            &mut request.headers,
            &mut request.body,
        );
        if let Some(response) = exchange.response.as_mut() {
            let in_response = json_body::apply(
                path,
                action,
                &self.key,
                &mut response.headers,
                &mut response.body,
            );
            if found == Found::Nothing {
                found = in_response;
            }
        }
        if found == Found::Unreadable {
            crate::diag::warn_once(
                "record.redact.unreadable_json",
                format_args!(
                    "record mode: a body that {path} should be applied to is not readable JSON \
                     (cut at the body limit, or compressed); it is left out of the recording"
                ),
            );
        }
        found != Found::Nothing
    }

    /// Applies a column rule to a database operation's bodies: the
    /// column's cells in the results, the parameters bound to it; returns
    /// whether there were any (or could not tell, for a body cut at the
    /// body limit, which is withheld).
    fn columns(&self, exchange: &mut Exchange, name: &str, action: &RedactAction) -> bool {
        if exchange.kind != ExchangeKind::Database {
            return false;
        }
        let rule = (action, &self.key);
        let request = &mut exchange.request;
        let parameters = |document: &mut _, visit: &mut dyn FnMut(&mut _)| {
            column::in_parameters(document, name, visit)
        };
        let (headers, body) = (&mut request.headers, &mut request.body);
        let mut found = json_body::apply_where(parameters, rule, headers, body) != Found::Nothing;
        if let Some(response) = exchange.response.as_mut() {
            let cells = |document: &mut _, visit: &mut dyn FnMut(&mut _)| {
                column::in_results(document, name, visit)
            };
            let (headers, body) = (&mut response.headers, &mut response.body);
            found |= json_body::apply_where(cells, rule, headers, body) != Found::Nothing;
        }
        found
    }
}

/// Adds the keys the query rules among `rules` name to those every layer
/// of the process hides in `url.query` and `url.full`.
pub(crate) fn share_query_keys(rules: &[RedactRule]) {
    crate::http_attrs::add_process_keys(rules.iter().filter_map(|rule| match rule.target() {
        RedactTarget::Query(name) => Some(name.as_str()),
        _ => None,
    }));
}

/// Every header of `exchange`: the request's, the response's and its
/// trailers.
fn all_headers(exchange: &mut Exchange) -> impl Iterator<Item = &mut HeaderRecord> {
    let response = exchange
        .response
        .as_mut()
        .map(|response| [&mut response.headers, &mut response.trailers]);
    std::iter::once(&mut exchange.request.headers)
        .chain(response.into_iter().flatten())
        .flat_map(|headers| headers.iter_mut())
}

#[cfg(test)]
mod tests;
