//! One error type per store operation.

use std::io;
use std::path::PathBuf;

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
