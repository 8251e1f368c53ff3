//! The arguments of `tracetape demo`.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `tracetape demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The directory the demo writes into, new or empty: the recordings
    /// (recordings/), the traces (traces/, unless --store) and the
    /// tracetape.toml its services and replays read [default: a new
    /// directory under the system's temporary directory, kept afterwards].
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// The trace store the recorded services' spans go to [default:
    /// traces/ in the demo's directory].
    #[arg(id = "store", long = "store", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,
}
