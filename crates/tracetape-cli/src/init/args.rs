//! The arguments of `tracetape init`.

use std::path::PathBuf;

use clap::Args;
use tracetape::record::CONFIG_FILE;

/// Arguments of `tracetape init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The file to write.
    #[arg(long, value_name = "FILE", default_value = CONFIG_FILE)]
    pub(crate) config: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}
