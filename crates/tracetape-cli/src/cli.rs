//! Command-line arguments, and dispatch to the subcommands.

use std::io::{self, Write as _};
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use tracetape::record::RecordingStore;
use tracetape::store::LocalStore;

use crate::exit::Failure;
use crate::{demo, list, show};

/// Read the recordings and traces that tracetape stored locally.
#[derive(Debug, Parser)]
#[command(name = "tracetape", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the recordings (or, with --traces, the stored traces), newest
    /// first.
    List(ListArgs),
    /// Show one recorded trace: its requests, responses and calls, with
    /// headers and bodies; or, for a trace that was not recorded, its spans
    /// as a tree.
    Show(ShowArgs),
    /// Run the example services (checkout, inventory, pricing), send them
    /// orders and store their traces.
    Demo(DemoArgs),
}

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
}

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
}

/// Arguments of `tracetape demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Runs the chosen subcommand, writing its output to standard output.
pub(crate) fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::List(args) => with_stdout(|out, notes| list::run(&args, out, notes)),
        Command::Show(args) => with_stdout(|out, notes| show::run(&args, out, notes)),
        Command::Demo(args) => {
            let runtime = tokio::runtime::Runtime::new().map_err(|err| {
                Failure::Usage(anyhow::Error::new(err).context("failed to start the async runtime"))
            })?;
            runtime.block_on(demo::run(args)).map_err(Failure::Failed)
        }
    }
}

/// Gives `command` buffered standard output and standard error for notes,
/// and flushes them when it is done.
fn with_stdout(
    command: impl FnOnce(&mut dyn io::Write, &mut dyn io::Write) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut notes = io::stderr().lock();
    let result = command(&mut out, &mut notes);
    let flushed = out.flush();
    result?;
    Ok(flushed?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}
