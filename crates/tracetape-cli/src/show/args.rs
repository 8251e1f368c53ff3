//! The arguments of `tracetape show`.

use clap::Args;

use crate::output::OutputFormat;
use crate::stores::{RecordingsArgs, StoreArgs};

/// Arguments of `tracetape show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The trace id, or enough of its first digits to be unique. Looked up
    /// among the recordings first, then in the trace store.
    #[arg(value_name = "TRACE_ID_OR_PREFIX")]
    pub(crate) id: String,
    /// Look the id up in the trace store only, not among the recordings.
    #[arg(long, conflicts_with = "recordings")]
    pub(crate) traces: bool,
    #[command(flatten)]
    pub(crate) recordings: RecordingsArgs,
    // Searched when no recording has the id.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Cut each printed line of a recording (headers, bodies) at N columns,
    /// with `…` (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 120)]
    pub(crate) width: usize,
    /// Print the recording whole: every line of every body (by default at
    /// most 40 each), nothing cut at --width.
    #[arg(long)]
    pub(crate) full: bool,
    /// The output's format: trees, or one JSON document with everything
    /// whole (docs/list-show-json.md; --width and --full do not apply).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: OutputFormat,
}
