//! URL exclusions: a comma-separated list of regular expressions, from code or
//! from `TRACETAPE_{SIDE}_EXCLUDED_URLS` falling back to
//! `TRACETAPE_EXCLUDED_URLS`. A request whose URL matches any of them is not
//! instrumented at all.

use regex::RegexSet;

use crate::diag;

/// A compiled set of exclusion patterns; empty matches nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct UrlExclusions {
    set: Option<RegexSet>,
}

impl UrlExclusions {
    /// Reads `side_var`, falling back to `TRACETAPE_EXCLUDED_URLS`, with
    /// `lookup`.
    pub(crate) fn from_lookup(side_var: &str, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let value = lookup(side_var)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| lookup("TRACETAPE_EXCLUDED_URLS"));
        match value {
            Some(list) => Self::from_patterns(list.split(','), side_var),
            None => Self::default(),
        }
    }

    /// Compiles `patterns`; a pattern that does not compile is reported once
    /// (under `source`) and left out, the others still apply.
    pub(crate) fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        source: &str,
    ) -> Self {
        let mut valid = Vec::new();
        for pattern in patterns
            .into_iter()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match regex::Regex::new(pattern) {
                Ok(_) => valid.push(pattern.to_owned()),
                Err(err) => {
                    diag::warn_once(
                        &format!("exclude.invalid_pattern.{source}.{pattern}"),
                        format_args!("ignoring exclusion pattern {pattern:?} from {source}: {err}"),
                    );
                }
            }
        }
        if valid.is_empty() {
            return Self::default();
        }
        // Every pattern compiled on its own, so the set compiles too; should
        // the size limit still refuse it, exclude nothing rather than fail.
        Self {
            set: RegexSet::new(&valid).ok(),
        }
    }

    /// Whether `url` matches any pattern.
    pub(crate) fn matches(&self, url: &str) -> bool {
        self.set.as_ref().is_some_and(|set| set.is_match(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_and_invalid_ones_are_skipped() {
        let ex = UrlExclusions::from_patterns(["^/health$", "(", " /static/.* "], "test");
        assert!(ex.matches("/health"));
        assert!(ex.matches("/static/app.js"));
        assert!(!ex.matches("/healthz"));
        assert!(!UrlExclusions::default().matches("/health"));
        assert!(!UrlExclusions::from_patterns(["", "("], "test").matches(""));
    }

    #[test]
    fn the_side_variable_wins_over_the_generic_one() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        const SIDE: &str = "TRACETAPE_SERVER_EXCLUDED_URLS";
        let side = SIDE;
        let both = UrlExclusions::from_lookup(
            side,
            env(&[(SIDE, "^/ready$"), ("TRACETAPE_EXCLUDED_URLS", "^/health$")]),
        );
        assert!(both.matches("/ready"));
        assert!(!both.matches("/health"));
        let generic = UrlExclusions::from_lookup(
            side,
            env(&[
                (SIDE, "  "),
                ("TRACETAPE_EXCLUDED_URLS", "^/health$,^/metrics"),
            ]),
        );
        assert!(generic.matches("/health"));
        assert!(generic.matches("/metrics/prom"));
        assert!(!UrlExclusions::from_lookup(side, env(&[])).matches("/health"));
    }
}
