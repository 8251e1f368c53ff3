//! [`EnvCarrier`]: environment variables as a propagation carrier, the way
//! OpenTelemetry's specification for them has it.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector};

/// A set of environment variables that propagators read from and write to.
///
/// It follows OpenTelemetry's "Environment Variables as Context Propagation
/// Carriers": a propagator's field names become environment variable names
/// by upper-casing ASCII letters, replacing every character other than an
/// ASCII letter, digit or `_` with `_`, and putting `_` in front of a
/// leading digit. So W3C Trace Context and Baggage travel as `TRACEPARENT`,
/// `TRACESTATE` and `BAGGAGE`, and B3 as `B3` or `X_B3_TRACEID` and so on.
/// Names read are normalised the same way before they are compared: when
/// two variables normalise to one name, the one already in normal form
/// wins. Values are opaque strings, passed as they are; a value with a NUL
/// byte, which no environment can hold, is not written.
///
/// [`CommandExt`](super::CommandExt) and [`from_env`](super::from_env) use
/// it; use it directly for other ways of starting a process.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
/// use tracetape::context::EnvCarrier;
/// use tracetape::propagation::TraceContextPropagator;
///
/// let parent = SpanContext::new(
///     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap_or(TraceId::INVALID),
///     SpanId::from_hex("00f067aa0ba902b7").unwrap_or(SpanId::INVALID),
///     TraceFlags::SAMPLED,
///     true,
///     TraceState::default(),
/// );
/// let cx = opentelemetry::Context::new().with_remote_span_context(parent);
/// let mut env = EnvCarrier::new();
/// TraceContextPropagator::new().inject_context(&cx, &mut env);
/// let vars: Vec<_> = env.iter().collect();
/// assert_eq!(
///     vars,
///     [("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
/// );
///
/// // What a child process sees at start-up, read back.
/// let child = TraceContextPropagator::new().extract(&env);
/// assert_eq!(child.span().span_context().span_id(), cx.span().span_context().span_id());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvCarrier {
    vars: BTreeMap<String, String>,
}

impl EnvCarrier {
    /// An empty carrier, to inject into.
    pub fn new() -> Self {
        Self::default()
    }

    /// The environment of this process, to extract from. Variables whose
    /// name or value is not UTF-8 are left out.
    pub fn from_env() -> Self {
        std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect()
    }

    /// The variables, by normalised name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of the variable `name` normalises to, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(&normalize(name)).map(String::as_str)
    }

    /// Whether the carrier holds no variable.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    fn insert(&mut self, name: &str, value: String) {
        let key = normalize(name);
        if key == name {
            self.vars.insert(key, value);
        } else {
            // A variable spelled in normal form wins over another that
            // only normalises to the same name.
            self.vars.entry(key).or_insert(value);
        }
    }
}

impl std::fmt::Debug for EnvCarrier {
    /// Names only: a carrier read from the environment holds every
    /// variable of the process, secrets included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvCarrier")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for EnvCarrier {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut carrier = Self::new();
        carrier.extend(iter);
        carrier
    }
}

impl<K: AsRef<str>, V: Into<String>> Extend<(K, V)> for EnvCarrier {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name.as_ref(), value.into());
        }
    }
}

impl Extractor for EnvCarrier {
    fn get(&self, key: &str) -> Option<&str> {
        EnvCarrier::get(self, key)
    }

    fn keys(&self) -> Vec<&str> {
        self.vars.keys().map(String::as_str).collect()
    }
}

impl Injector for EnvCarrier {
    fn set(&mut self, key: &str, value: String) {
        if value.contains('\0') {
            return;
        }
        self.vars.insert(normalize(key), value);
    }
}

/// The environment variable name of a propagation field: ASCII letters
/// upper-cased, anything but ASCII letters, digits and `_` replaced with
/// `_`, and `_` in front of a leading digit.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_as_the_specification_says() {
        assert_eq!(normalize("traceparent"), "TRACEPARENT");
        assert_eq!(normalize("x-b3-traceid"), "X_B3_TRACEID");
        assert_eq!(normalize("X-B3-Sampled"), "X_B3_SAMPLED");
        assert_eq!(normalize("1st.key"), "_1ST_KEY");
        assert_eq!(normalize("ünï"), "_N_");
        assert_eq!(normalize("already_OK_9"), "ALREADY_OK_9");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn reads_by_normalised_name_and_prefers_the_normal_spelling() {
        let carrier: EnvCarrier = [
            ("traceparent", "lower"),
            ("TRACEPARENT", "upper"),
            ("tracestate", "state"),
            ("x-b3-traceid", "b3"),
        ]
        .into_iter()
        .collect();
        assert_eq!(Extractor::get(&carrier, "traceparent"), Some("upper"));
        assert_eq!(Extractor::get(&carrier, "TraceState"), Some("state"));
        assert_eq!(Extractor::get(&carrier, "x-b3-traceid"), Some("b3"));
        assert_eq!(Extractor::get(&carrier, "baggage"), None);
        assert_eq!(
            carrier.keys(),
            ["TRACEPARENT", "TRACESTATE", "X_B3_TRACEID"]
        );
        // The normal spelling wins whichever comes first.
        let carrier: EnvCarrier = [("TRACEPARENT", "upper"), ("traceparent", "lower")]
            .into_iter()
            .collect();
        assert_eq!(carrier.get("traceparent"), Some("upper"));
    }

    #[test]
    fn writes_normalised_names_and_skips_values_no_environment_can_hold() {
        let mut carrier = EnvCarrier::new();
        carrier.set("traceparent", "tp".to_owned());
        carrier.set("x-b3-flags", "1".to_owned());
        carrier.set("baggage", "k=v\0".to_owned());
        assert_eq!(
            carrier.iter().collect::<Vec<_>>(),
            [("TRACEPARENT", "tp"), ("X_B3_FLAGS", "1")]
        );
    }

    #[test]
    fn debug_shows_names_not_values() {
        let carrier: EnvCarrier = [("API_TOKEN", "secret")].into_iter().collect();
        let shown = format!("{carrier:?}");
        assert!(shown.contains("API_TOKEN"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
