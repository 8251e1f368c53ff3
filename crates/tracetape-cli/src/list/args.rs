//! The arguments of `tracetape list`.

use clap::{ArgGroup, Args};

use crate::output::OutputFormat;
use crate::stores::{RecordingsArgs, StoreArgs};

/// Arguments of `tracetape list`.
#[derive(Debug, Args)]
// `--store` only means something for the trace store.
#[command(group(ArgGroup::new("span_store").args(["store"]).requires("traces")))]
pub(crate) struct ListArgs {
    /// List the traces in the trace store instead of the recordings.
    #[arg(long, conflicts_with = "recordings")]
    pub(crate) traces: bool,
    #[command(flatten)]
    pub(crate) recordings: RecordingsArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Show at most N recordings or traces (0 shows all).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub(crate) limit: usize,
    /// The output's format: a table, or one JSON document
    /// (docs/list-show-json.md).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}
