//! One error type per store operation.

use std::io;
use std::path::PathBuf;

/// Why the traces of a store could not be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
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

/// Why [`LocalStore::trace`](super::LocalStore::trace) found no single trace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FindTraceError {
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

/// Why a batch of spans could not be written; reported to the SDK as an
/// `OTelSdkError`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("failed to create directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to move {from} into place as {to}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Why old files could not be removed to keep the store under its size cap.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EvictError {
    #[error("failed to list {path} to enforce its size cap")]
    List {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to remove {path} to enforce the store's size cap")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
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

    #[test]
    fn chain_joins_sources() {
        let err = WriteError::Write {
            path: "x/y.json".into(),
            source: io::Error::other("disk full"),
        };
        assert_eq!(
            crate::diag::chain(&err),
            "failed to write x/y.json: disk full"
        );
    }
}
