//! Redaction rules: what to look for (a header, a query key, a JSON path
//! in a body, a database column, or the whole exchange), which exchanges to look in
//! (direction, method, host, route), and what to do with what is found.

use std::fmt;
use std::str::FromStr;

use regex::Regex;

use super::JsonPath;
use crate::record::{Exchange, ExchangeKind};

/// One redaction rule, as `[[record.redact]]` in `tracetape.toml`
/// configures it or built in code.
///
/// A rule names one thing to look for and does one thing with each value
/// found: replaces it with a keyed hash (the default,
/// [`RedactAction::Redact`]), masks it, replaces it with a fixed text, or
/// drops the exchange it was found in. Filters narrow the exchanges it
/// looks in; a rule without filters looks in every exchange, inbound and
/// outbound, in both the request and the response.
///
/// ```
/// use tracetape::record::{Direction, RedactRule};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rules = vec![
///     RedactRule::header("x-session-token"),
///     RedactRule::query("api_key").outbound(),
///     RedactRule::json("$.card.number".parse()?).mask(4).methods(["POST"]),
///     RedactRule::json("$..password".parse()?).replace("********"),
///     RedactRule::column("email").mask(6),
///     RedactRule::exchanges().routes(["/internal/*".parse()?]).drop_exchange(),
/// ];
/// assert_eq!(rules[1].direction(), Some(Direction::Outbound));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactRule {
    target: RedactTarget,
    action: RedactAction,
    direction: Option<Direction>,
    methods: Vec<String>,
    hosts: Vec<Pattern>,
    routes: Vec<Pattern>,
}

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedactTarget {
    /// Every value of a header (name compared case-insensitively), in the
    /// request and the response.
    Header(String),
    /// Every value of a query parameter, by its name as written in the URL.
    Query(String),
    /// Every value a JSON path names in a JSON request or response body.
    Json(JsonPath),
    /// Every value of a database column (name compared
    /// case-insensitively), in database operations' exchanges: the
    /// column's cells in the results, and the parameters the SQL binds to
    /// a column of that name (`email = $1`, an `INSERT`'s column list).
    Column(String),
    /// The exchange itself, whatever it holds: only dropping makes sense.
    Exchange,
}

/// What a rule does with a value it finds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RedactAction {
    /// `REDACTED:` and a keyed hash of the value ([`RedactionKey`](super::RedactionKey)):
    /// equal secrets stay equal, so replay can still tell them apart.
    #[default]
    Redact,
    /// Every character but the last `keep` becomes `*` (all of them when
    /// the value is no longer than `keep`).
    Mask {
        /// Characters left visible at the end.
        keep: usize,
    },
    /// The value becomes this text.
    Replace(String),
    /// The whole exchange is left out of the recording; an inbound one
    /// takes its whole recording with it, since there is nothing to replay
    /// without it.
    Drop,
}

/// Which side of the wire an exchange was seen from, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Requests the service received.
    Inbound,
    /// Calls the service made.
    Outbound,
}

impl RedactRule {
    fn new(target: RedactTarget) -> Self {
        Self {
            target,
            action: RedactAction::Redact,
            direction: None,
            methods: Vec::new(),
            hosts: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// A rule for every value of the header `name`.
    pub fn header(name: impl Into<String>) -> Self {
        Self::new(RedactTarget::Header(name.into().to_ascii_lowercase()))
    }

    /// A rule for every value of the query parameter `key`.
    pub fn query(key: impl Into<String>) -> Self {
        Self::new(RedactTarget::Query(key.into()))
    }

    /// A rule for every value `path` names in JSON bodies.
    pub fn json(path: JsonPath) -> Self {
        Self::new(RedactTarget::Json(path))
    }

    /// A rule for every value of the database column `name`: its cells
    /// in query results and the parameters bound to it.
    pub fn column(name: impl Into<String>) -> Self {
        Self::new(RedactTarget::Column(name.into()))
    }

    /// A rule for whole exchanges, to be dropped
    /// ([`drop_exchange`](Self::drop_exchange)) when its filters match.
    pub fn exchanges() -> Self {
        Self::new(RedactTarget::Exchange).drop_exchange()
    }

    /// Masks what is found, leaving the last `keep` characters visible.
    #[must_use]
    pub fn mask(self, keep: usize) -> Self {
        self.action(RedactAction::Mask { keep })
    }

    /// Replaces what is found with `text`.
    #[must_use]
    pub fn replace(self, text: impl Into<String>) -> Self {
        self.action(RedactAction::Replace(text.into()))
    }

    /// Drops any exchange in which something is found.
    #[must_use]
    pub fn drop_exchange(self) -> Self {
        self.action(RedactAction::Drop)
    }

    /// Sets what is done with what is found. On an
    /// [`exchanges`](Self::exchanges) rule every action drops.
    #[must_use]
    pub fn action(mut self, action: RedactAction) -> Self {
        self.action = if self.target == RedactTarget::Exchange {
            RedactAction::Drop
        } else {
            action
        };
        self
    }

    /// Only inbound requests (and the responses to them).
    #[must_use]
    pub fn inbound(mut self) -> Self {
        self.direction = Some(Direction::Inbound);
        self
    }

    /// Only outbound calls.
    #[must_use]
    pub fn outbound(mut self) -> Self {
        self.direction = Some(Direction::Outbound);
        self
    }

    /// Only requests with one of these methods (compared
    /// case-insensitively).
    #[must_use]
    pub fn methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Only exchanges with a host matching one of `hosts`: the URL's host
    /// for outbound calls, the `Host` header (without its port) for inbound
    /// requests.
    #[must_use]
    pub fn hosts(mut self, hosts: impl IntoIterator<Item = Pattern>) -> Self {
        self.hosts = hosts.into_iter().collect();
        self
    }

    /// Only exchanges whose route template (`/orders/{id}`) or path
    /// (`/orders/42`) matches one of `routes`.
    #[must_use]
    pub fn routes(mut self, routes: impl IntoIterator<Item = Pattern>) -> Self {
        self.routes = routes.into_iter().collect();
        self
    }

    /// What the rule looks for.
    pub fn target(&self) -> &RedactTarget {
        &self.target
    }

    /// What it does with what it finds.
    pub fn what_to_do(&self) -> &RedactAction {
        &self.action
    }

    /// The direction it is limited to, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.direction
    }

    /// An error when the rule can never find anything: a header name that
    /// no header can have (empty, or with characters headers do not
    /// allow), an empty query key or one with `&`, `=` or `#` in it, a
    /// method that is not an HTTP token, or a route pattern that does not
    /// start with `/` or `*` (paths and route templates always do). Such
    /// a rule would silently redact nothing, so recording does not start
    /// with it.
    ///
    /// ```
    /// use tracetape::record::RedactRule;
    ///
    /// assert!(RedactRule::header("x-session-token").check().is_ok());
    /// assert!(RedactRule::header("x session token").check().is_err());
    /// assert!(RedactRule::query("").check().is_err());
    /// assert!(RedactRule::exchanges().routes(["health".parse()?]).check().is_err());
    /// # Ok::<(), tracetape::record::PatternError>(())
    /// ```
    pub fn check(&self) -> Result<(), InvalidRuleError> {
        let invalid = |reason: String| Err(InvalidRuleError { reason });
        match &self.target {
            RedactTarget::Header(name)
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() =>
            {
                return invalid(format!(
                    "header {name:?} is not a header name, so the rule could never match"
                ));
            }
            RedactTarget::Column(name) if name.trim().is_empty() => {
                return invalid(
                    "column \"\" names no column, so the rule could never match".to_owned(),
                );
            }
            RedactTarget::Query(key) if key.is_empty() || key.contains(['&', '=', '#']) => {
                return invalid(format!(
                    "query {key:?} is not a query key (empty, or with `&`, `=` or `#`), so \
                     the rule could never match"
                ));
            }
            _ => {}
        }
        if let Some(method) = self
            .methods
            .iter()
            .find(|method| http::Method::from_bytes(method.as_bytes()).is_err())
        {
            return invalid(format!(
                "method {method:?} is not an HTTP method, so the rule could never match"
            ));
        }
        if let Some(route) = self
            .routes
            .iter()
            .find(|route| !route.text.starts_with(['/', '*']))
        {
            return invalid(format!(
                "route {:?} does not start with `/` or `*`, so it could never match a path",
                route.text
            ));
        }
        Ok(())
    }

    /// Whether the rule's filters let it look in `exchange`.
    pub(crate) fn applies_to(&self, exchange: &Exchange) -> bool {
        let direction = match exchange.kind {
            ExchangeKind::Server => Direction::Inbound,
            ExchangeKind::Client | ExchangeKind::Database => Direction::Outbound,
        };
        let request = &exchange.request;
        self.direction.is_none_or(|wanted| wanted == direction)
            && (self.methods.is_empty()
                || self
                    .methods
                    .iter()
                    .any(|method| method.eq_ignore_ascii_case(&request.method)))
            && (self.hosts.is_empty() || {
                let host = host(exchange);
                self.hosts
                    .iter()
                    .any(|pattern| host.as_deref().is_some_and(|host| pattern.matches(host)))
            })
            && (self.routes.is_empty() || {
                let path = path(&request.url);
                self.routes.iter().any(|pattern| {
                    pattern.matches(path)
                        || exchange
                            .route
                            .as_deref()
                            .is_some_and(|route| pattern.matches(route))
                })
            })
    }
}

/// The host an exchange went to: the URL's for outbound calls, the `Host`
/// header's (or an absolute target's) for inbound ones; lower case, no
/// port.
fn host(exchange: &Exchange) -> Option<String> {
    let from_url = http::Uri::try_from(exchange.request.url.as_str())
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned));
    let from_header = || {
        exchange
            .request
            .headers
            .iter()
            .find(|header| header.name == "host")
            .and_then(|header| std::str::from_utf8(&header.value).ok())
            .and_then(|value| value.parse::<http::uri::Authority>().ok())
            .map(|authority| authority.host().to_owned())
    };
    let host = match exchange.kind {
        ExchangeKind::Client | ExchangeKind::Database => from_url,
        ExchangeKind::Server => from_url.or_else(from_header),
    };
    host.map(|host| host.to_ascii_lowercase())
}

/// The path of a URL or origin-form target, without query or fragment.
fn path(url: &str) -> &str {
    let before_query = url.split(['?', '#']).next().unwrap_or(url);
    match before_query.find("://") {
        Some(scheme_end) => {
            let after = &before_query[scheme_end + 3..];
            after.find('/').map_or("/", |slash| &after[slash..])
        }
        None => before_query,
    }
}

/// Why a [`RedactRule`] can never match anything ([`RedactRule::check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidRuleError {
    reason: String,
}

/// A pattern for hosts and routes: literal text in which `*` stands for
/// any run of characters (`/` included), compared ASCII case-insensitively.
///
/// ```
/// use tracetape::record::Pattern;
///
/// let pattern: Pattern = "/orders/*".parse()?;
/// assert!(pattern.matches("/orders/42/items"));
/// assert!(!pattern.matches("/order"));
/// assert!("/orders/{id}".parse::<Pattern>()?.matches("/orders/{id}"));
/// assert!("*.Example.TEST".parse::<Pattern>()?.matches("pay.example.test"));
/// # Ok::<(), tracetape::record::PatternError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: Regex,
}

/// Why a pattern could not be used (only a pattern too long to compile).
#[derive(Debug, thiserror::Error)]
#[error("invalid pattern {text:?}")]
pub struct PatternError {
    text: String,
    #[source]
    source: regex::Error,
}

impl Pattern {
    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(&text.to_ascii_lowercase())
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.to_ascii_lowercase();
        let literals: Vec<String> = lower.split('*').map(regex::escape).collect();
        let source = format!("(?s)^{}$", literals.join(".*"));
        let regex = Regex::new(&source).map_err(|source| PatternError {
            text: text.to_owned(),
            source,
        })?;
        Ok(Self {
            text: text.to_owned(),
            regex,
        })
    }
}
