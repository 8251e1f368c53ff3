//! Where the recordings and the trace store are: the `--recordings` and
//! `--store` arguments that `list` and `show` share.

use std::path::PathBuf;

use clap::Args;
use tracetape::record::RecordingStore;
use tracetape::store::LocalStore;

/// Where the trace store is.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The trace store directory.
    #[arg(
        id = "store",
        long = "store",
        value_name = "DIR",
        default_value_os_t = LocalStore::default_dir()
    )]
    pub(crate) dir: PathBuf,
}

impl StoreArgs {
    pub(crate) fn open(&self) -> LocalStore {
        LocalStore::new(&self.dir)
    }
}

/// Where the recordings are.
#[derive(Debug, Args)]
pub(crate) struct RecordingsArgs {
    /// The recordings directory (where a service run with
    /// TRACETAPE_MODE=record writes them).
    #[arg(
        id = "recordings",
        long = "recordings",
        value_name = "DIR",
        default_value_os_t = RecordingStore::default_dir()
    )]
    pub(crate) dir: PathBuf,
}

impl RecordingsArgs {
    pub(crate) fn open(&self) -> RecordingStore {
        RecordingStore::new(&self.dir)
    }
}
