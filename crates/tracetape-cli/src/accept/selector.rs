//! Which recordings an accept is about: a recording id, a trace id prefix,
//! a route, a recording file, or all of them.

use std::path::Path;

use anyhow::bail;
use tracetape::replay::ReplayId;

/// One way of naming recordings on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// Every recording replayed.
    All,
    /// `{trace_id}-{span_id}`, as the JSON report's `id` gives it.
    Id(ReplayId),
    /// The first hex digits of a trace id, as `--only` and the TRACE
    /// column of `tracetape list` give it; lower-case.
    TracePrefix(String),
    /// `POST /orders/{id}` (`method` upper-case), or `/orders/{id}` with
    /// any method: the route as the report prints it.
    Route {
        method: Option<String>,
        route: String,
    },
    /// A recording file, as the report's `recording:` line prints it: the
    /// whole path, or its file name alone.
    File(String),
}

/// The facts a selector is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub(crate) id: ReplayId,
    pub(crate) file: &'a Path,
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
}

impl Selector {
    /// Reads one selector: `all`, a recording id, a recording file
    /// (`*.json`), a route (`[METHOD] /path`), or a trace id prefix.
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        if text == "all" {
            return Ok(Self::All);
        }
        if let Ok(id) = text.parse::<ReplayId>() {
            return Ok(Self::Id(id));
        }
        if text.ends_with(".json") {
            return Ok(Self::File(text.to_owned()));
        }
        if text.starts_with('/') {
            return Ok(Self::Route {
                method: None,
                route: text.to_owned(),
            });
        }
        if let Some((method, route)) = text.split_once(char::is_whitespace) {
            let route = route.trim();
            if !method.is_empty()
                && method.bytes().all(|b| b.is_ascii_alphabetic())
                && route.starts_with('/')
            {
                return Ok(Self::Route {
                    method: Some(method.to_ascii_uppercase()),
                    route: route.to_owned(),
                });
            }
        }
        if !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Self::TracePrefix(text.to_ascii_lowercase()));
        }
        bail!(
            "{text:?} names no recordings: expected a recording id \
             (4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7), the first digits of a trace id, \
             a route ('POST /orders/{{id}}' or '/orders/{{id}}'), a recording file (*.json), or all"
        )
    }

    /// Whether the selector names `candidate`.
    pub(crate) fn matches(&self, candidate: Candidate<'_>) -> bool {
        match self {
            Self::All => true,
            Self::Id(id) => *id == candidate.id,
            Self::TracePrefix(prefix) => candidate.id.trace_id.to_string().starts_with(prefix),
            Self::Route { method, route } => {
                candidate.route == route
                    && method
                        .as_deref()
                        .is_none_or(|method| method.eq_ignore_ascii_case(candidate.method))
            }
            Self::File(file) => {
                if file.contains('/') {
                    let given = Path::new(file);
                    candidate.file == given
                        || std::path::absolute(given).is_ok_and(|given| given == candidate.file)
                } else {
                    candidate.file.file_name().and_then(|n| n.to_str()) == Some(file)
                }
            }
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Id(id) => write!(f, "{id}"),
            Self::TracePrefix(prefix) => f.write_str(prefix),
            Self::Route {
                method: Some(method),
                route,
            } => write!(f, "{method} {route}"),
            Self::Route {
                method: None,
                route,
            } => f.write_str(route),
            Self::File(file) => f.write_str(file),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7";

    fn candidate(file: &Path) -> Candidate<'_> {
        Candidate {
            id: ID.parse().unwrap(),
            file,
            method: "POST",
            route: "/orders/{id}",
        }
    }

    #[test]
    fn each_kind_of_selector_reads_and_matches() {
        let file = Path::new("/rec/0001-4bf9.json");
        let yes = [
            "all",
            ID,
            "4BF92F",
            "POST /orders/{id}",
            "post  /orders/{id}",
            "/orders/{id}",
            "0001-4bf9.json",
            "/rec/0001-4bf9.json",
        ];
        for text in yes {
            let selector = Selector::parse(text).unwrap();
            assert!(selector.matches(candidate(file)), "{text}: {selector:?}");
        }
        let no = [
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8",
            "4bf93",
            "GET /orders/{id}",
            "/orders",
            "other.json",
            "/elsewhere/0001-4bf9.json",
        ];
        for text in no {
            let selector = Selector::parse(text).unwrap();
            assert!(!selector.matches(candidate(file)), "{text}: {selector:?}");
        }
        assert_eq!(
            Selector::parse("post /orders/{id}").unwrap().to_string(),
            "POST /orders/{id}"
        );
    }

    #[test]
    fn anything_else_is_an_error_saying_what_is_expected() {
        for text in ["", "orders", "xyz", "POST orders"] {
            let err = Selector::parse(text).unwrap_err().to_string();
            assert!(err.contains("expected a recording id"), "{text}: {err}");
        }
    }
}
