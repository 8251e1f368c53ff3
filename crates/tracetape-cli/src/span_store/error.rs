//! Why the span store could not be read, or a trace found in it.

use std::io;
use std::path::PathBuf;

/// Why the traces of a store could not be listed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The store directory exists but could not be listed.
    #[error("failed to read trace store {path}")]
    Store {
        /// The store directory.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: io::Error,
    },
}

/// Why [`trace`](super::trace) found no single trace.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FindTraceError {
    /// The id is not 1 to 32 hexadecimal digits.
    #[error("{id:?} is not a trace id: expected 1 to 32 hexadecimal digits")]
    InvalidId {
        /// The id as given.
        id: String,
    },
    /// No trace id starts with the given id.
    #[error("no trace with id {id} in {path}")]
    NotFound {
        /// The id (or prefix) as given, lowercased.
        id: String,
        /// The store directory that was searched.
        path: PathBuf,
    },
    /// More than one trace id starts with the given prefix.
    #[error("trace id prefix {id} is ambiguous: it matches {}", describe_matches(.matches))]
    Ambiguous {
        /// The prefix as given, lowercased.
        id: String,
        /// Every matching trace id, sorted.
        matches: Vec<String>,
    },
    /// The store could not be read.
    #[error("failed to look up trace {id}")]
    Read {
        /// The id (or prefix) as given.
        id: String,
        /// Why reading failed.
        #[source]
        source: ReadError,
    },
}

/// Names at most a few matches, so the message stays one readable line.
fn describe_matches(matches: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = matches
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if matches.len() > SHOWN {
        text.push_str(&format!(" and {} more", matches.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_message_names_a_few_matches() {
        let err = FindTraceError::Ambiguous {
            id: "ab".into(),
            matches: (0..7).map(|i| format!("ab{i}")).collect(),
        };
        assert_eq!(
            err.to_string(),
            "trace id prefix ab is ambiguous: it matches ab0, ab1, ab2, ab3, ab4 and 2 more"
        );
    }
}
