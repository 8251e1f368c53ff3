//! The top-level command line, and dispatch to the subcommands. Each
//! subcommand's arguments live beside its code (`list/args.rs`,
//! `replay/args.rs`, ...); this module only names them.

use std::io::{self, Write as _};

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::accept::AcceptArgs;
use crate::color::ColorChoice;
use crate::completions::CompletionsArgs;
use crate::demo::DemoArgs;
use crate::exit::Failure;
use crate::init::InitArgs;
use crate::list::ListArgs;
use crate::record::RecordArgs;
use crate::replay::{ReplayArgs, Style};
use crate::show::ShowArgs;
use crate::view::ViewArgs;
use crate::{accept, completions, demo, init, list, record, replay, show, view};

/// Record HTTP traffic with tracetape, read it, and replay it against a new
/// build.
///
/// A service instrumented with tracetape records its requests, responses
/// and outbound calls when run with TRACETAPE_MODE=record (`tracetape
/// record -- COMMAND` does that). `list` and `show` read the recordings
/// (and the traces tracetape stored locally); `replay` sends the recorded
/// requests to the service again, every outbound call answered from the
/// recording, and reports where the responses changed; `accept` takes a
/// change as the new expectation. Settings live in tracetape.toml
/// (`tracetape init` writes one).
#[derive(Debug, Parser)]
#[command(name = "tracetape", version)]
pub(crate) struct Cli {
    /// When to colour the output meant for people.
    ///
    /// `auto` colours a terminal, unless NO_COLOR is set (and not empty);
    /// CLICOLOR_FORCE (not `0`) colours even when not on one.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub(crate) color: ColorChoice,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands. Each one's first line is its one-line `about`; the
/// rest shows in its `--help`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a commented tracetape.toml.
    ///
    /// The file has the `[record]` table the service reads and the
    /// `[replay]` table `tracetape replay` reads, every setting but the
    /// recordings directory commented out at its default, and what to
    /// commit and what to ignore. An existing file is left alone unless
    /// --force.
    Init(InitArgs),
    /// Run the service in record mode and say where the recordings go.
    ///
    /// Runs COMMAND (all that follows tracetape's own flags, or `--`; no
    /// shell) with
    /// TRACETAPE_MODE=record and TRACETAPE_RECORD_DIR set to the
    /// recordings directory, waits for it to exit (Ctrl-C at a terminal
    /// stops it; SIGTERM to `tracetape record` is passed on), says how many
    /// recording files it wrote, and exits with its exit status (128 + the
    /// signal when a signal ended it).
    Record(RecordArgs),
    /// List the recordings, or the stored traces.
    ///
    /// One row per recording file (or, with --traces, per trace in the
    /// trace store), newest first; --format json gives one JSON document
    /// (docs/list-show-json.md).
    List(ListArgs),
    /// Show a recorded trace, or a stored one.
    ///
    /// A recorded trace shows as its requests, responses and calls, with
    /// headers and bodies; a trace that was not recorded, as its spans in
    /// a tree. --format json gives one JSON document with everything whole.
    Show(ShowArgs),
    /// Show traces, recordings and replay reports in a browser.
    ///
    /// Starts a web UI on 127.0.0.1:4320 (opens nothing; the address is
    /// printed) and receives OTLP on 4317 (gRPC) and 4318 (HTTP), so any
    /// service in any language can send it spans. Traces are listed
    /// newest first with search, each one drawn as a waterfall; replay
    /// reports (--report, or .tracetape/replays/*.json) show each
    /// deviation and the calls of each replayed recording beside the
    /// recorded ones. Spans are kept in one file (--db), within --max-size
    /// and --max-age, and include the trace store's (--store).
    View(ViewArgs),
    /// Replay the recordings against the service and report what changed.
    ///
    /// Starts the service in replay mode, sends it every recorded request
    /// of one service (or those --only, --route and --method choose), with
    /// its outbound calls answered from the recording, and reports where
    /// the responses deviate from the recorded ones.
    ///
    /// Exit status: 0 when every recording passed; 1 when any deviated,
    /// had a call no recording answers, or could not be sent (errored); 2
    /// when the replay could not run or its verdict would not be about the
    /// build under test (bad configuration, no recordings or one that
    /// cannot be read, another process answering at the service's address,
    /// a service not in replay mode, the service would not start, or could
    /// not be restarted); 130 when
    /// interrupted (Ctrl-C, SIGTERM), after stopping the service and
    /// reporting what ran.
    Replay(Box<ReplayArgs>),
    /// Accept the new behaviour of the recordings named.
    ///
    /// Replays as `tracetape replay` does (same flags and settings), then
    /// rewrites each selected recording that deviated so that its expected
    /// response is the one the build gave and its unused calls are gone.
    /// The files replaced are kept in `.accepted/` under the recordings
    /// directory until the next accept.
    ///
    /// Exit status: 0 when every selected recording was accepted or
    /// already passed; 1 when one cannot be accepted (a call with no
    /// recorded answer, or no response), which is then left as it was; 2
    /// and 130 as for `replay`.
    Accept(Box<AcceptArgs>),
    /// Record and replay the example services, in this process.
    ///
    /// Checkout, inventory and pricing in record mode, sent a few orders
    /// (their traces and recordings shown); then checkout alone in replay
    /// mode, replayed as it was (every recording passes) and with a
    /// discount added (the deviation reported).
    Demo(DemoArgs),
    /// Write the completion script for a shell.
    ///
    /// For bash: `tracetape completions bash >
    /// ~/.local/share/bash-completion/completions/tracetape`; for zsh, a
    /// file `_tracetape` in a directory of `$fpath`; for fish,
    /// `~/.config/fish/completions/tracetape.fish`.
    Completions(CompletionsArgs),
}

/// Runs the chosen subcommand, writing its output to standard output.
pub(crate) fn run(cli: Cli) -> Result<(), Failure> {
    let style = Style {
        colour: cli.color.for_stdout(),
    };
    match cli.command {
        Command::List(args) => with_stdout(|out, notes| list::run(&args, out, notes)),
        Command::Show(args) => with_stdout(|out, notes| show::run(&args, out, notes)),
        Command::Replay(args) => runtime()?.block_on(replay::run(*args, style)),
        Command::Accept(args) => runtime()?.block_on(accept::run(*args, style)),
        Command::Demo(args) => runtime()?.block_on(demo::run(args, style)),
        Command::Init(args) => with_stdout(|out, _| init::run(&args, out)),
        Command::Record(args) => runtime()?.block_on(record::run(args)),
        Command::View(args) => runtime()?.block_on(view::run(args)),
        Command::Completions(args) => {
            with_stdout(|out, _| completions::run(&args, Cli::command(), out))
        }
    }
}

/// `tracetape replay`'s watchdog, when this process is one: `tracetape
/// __replay-watchdog`, which `replay` starts (`replay/watchdog.rs`). Not a
/// subcommand clap knows, so that help and completions never show it.
pub(crate) fn watchdog() -> Option<Result<(), Failure>> {
    let first = std::env::args_os().nth(1)?;
    (first == replay::watchdog::SUBCOMMAND).then(|| {
        replay::watchdog::run().map_err(|err| {
            Failure::Failed(anyhow::Error::new(err).context("the replay watchdog failed"))
        })
    })
}

/// Parses the command line, clap's own messages (help, errors) coloured
/// as `--color` says.
pub(crate) fn parse() -> Cli {
    let color = ColorChoice::in_args(std::env::args_os());
    let matches = Cli::command().color(color.for_clap()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

/// The async runtime `demo`, `replay` and `accept` run on.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|err| {
        Failure::Usage(anyhow::Error::new(err).context("failed to start the async runtime"))
    })
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

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}
