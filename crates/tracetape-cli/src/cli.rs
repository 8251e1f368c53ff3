//! Command-line arguments, and dispatch to the subcommands.

use std::io::{self, Write as _};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tracetape::store::LocalStore;

use crate::exit::Failure;
use crate::{demo, list, show};

/// Read the traces that tracetape stored locally.
#[derive(Debug, Parser)]
#[command(name = "tracetape", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the stored traces, newest first.
    List(ListArgs),
    /// Show one trace as a tree of spans.
    Show(ShowArgs),
    /// Run the example services (checkout, inventory, pricing), send them
    /// orders and store their traces.
    Demo(DemoArgs),
}

/// Where the trace store is.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The trace store directory.
    #[arg(long = "store", value_name = "DIR", default_value_os_t = LocalStore::default_dir())]
    pub(crate) dir: PathBuf,
}

impl StoreArgs {
    pub(crate) fn open(&self) -> LocalStore {
        LocalStore::new(&self.dir)
    }
}

/// Arguments of `tracetape list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Show at most N traces (0 shows all).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub(crate) limit: usize,
}

/// Arguments of `tracetape show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The trace id, or enough of its first digits to be unique.
    #[arg(value_name = "TRACE_ID_OR_PREFIX")]
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
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
