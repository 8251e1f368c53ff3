//! tracetape's own diagnostics: warnings that are printed once per name.
//!
//! Instrumentation must never fail a request, so problems are reported on
//! standard error instead, each stable name at most once per process, in the
//! style of OpenTelemetry's internal log events.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn seen() -> &'static Mutex<HashSet<String>> {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Prints `message` under the stable `name`, unless that name was already
/// reported. Returns whether it was printed.
pub(crate) fn warn_once(name: &str, message: impl std::fmt::Display) -> bool {
    let first = match seen().lock() {
        Ok(mut set) => set.insert(name.to_owned()),
        Err(poisoned) => poisoned.into_inner().insert(name.to_owned()),
    };
    if first {
        eprintln!("tracetape: warning: {name}: {message}");
    }
    first
}

/// Renders an error and its `source()` chain on one line, for places that
/// only take a string (`OTelSdkError`, diagnostics).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        text.push_str(": ");
        text.push_str(&source.to_string());
        next = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_reported_once() {
        assert!(warn_once("diag.test.once", "first"));
        assert!(!warn_once("diag.test.once", "second"));
        assert!(warn_once("diag.test.other", "first"));
    }
}
