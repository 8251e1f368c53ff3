//! Command-line arguments, and dispatch to the subcommands.

use std::io::{self, Write as _};
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use tracetape::record::RecordingStore;
use tracetape::store::LocalStore;

use crate::accept::AcceptArgs;
use crate::exit::Failure;
use crate::replay::Format;
use crate::{accept, demo, list, replay, show};

/// Read the recordings and traces that tracetape stored locally, and replay
/// the recordings against a new build of the service.
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
    /// Start the service in replay mode, send it every recorded request of
    /// one service, with its outbound calls answered from the recording,
    /// and report where the responses deviate from the recorded ones.
    ///
    /// Exit status: 0 when every recording passed; 1 when any deviated,
    /// had a call no recording answers, or could not be sent (errored); 2
    /// when the replay could not run (bad configuration, no recordings,
    /// the service would not start, or could not be restarted); 130 when
    /// interrupted (Ctrl-C, SIGTERM), after stopping the service and
    /// reporting what ran.
    Replay(Box<ReplayArgs>),
    /// Accept the new build's behaviour for the recordings named: replay
    /// as `tracetape replay` does (same flags and settings), then rewrite
    /// each selected recording that deviated so that its expected response
    /// is the one the build gave and its unused calls are gone. The files
    /// replaced are kept in `.accepted/` under the recordings directory
    /// until the next accept.
    ///
    /// Exit status: 0 when every selected recording was accepted or
    /// already passed; 1 when one cannot be accepted (a call with no
    /// recorded answer, or no response), which is then left as it was; 2
    /// and 130 as for `replay`.
    Accept(Box<AcceptArgs>),
    /// Record and replay the example services in this process: checkout,
    /// inventory and pricing in record mode, sent a few orders (their
    /// traces and recordings shown); then checkout alone in replay mode,
    /// replayed as it was (every recording passes) and with a discount
    /// added (the deviation reported).
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

/// Arguments of `tracetape replay`. Every setting but the report's can also
/// be a key of the `[replay]` table of the configuration file
/// (docs/configuration.md); a flag overrides its key.
#[derive(Debug, Default, Args)]
pub(crate) struct ReplayArgs {
    /// The configuration file whose `[replay]` table holds the settings
    /// (the service started also reads it) [default: ./tracetape.toml, if
    /// there is one].
    #[arg(long, value_name = "FILE", env = "TRACETAPE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The shell command that starts the service, run with `sh -c` in a
    /// process group of its own, with TRACETAPE_MODE=replay and
    /// TRACETAPE_RECORD_DIR set [key: command].
    #[arg(long, value_name = "COMMAND")]
    pub(crate) command: Option<String>,
    /// Start and stop nothing: replay against the service already running
    /// in replay mode at --url or --port (ignores `command`); without the
    /// preload library, unpatched dependencies are not detected and the
    /// service's clock is not set to the recorded time.
    #[arg(long, conflicts_with = "command")]
    pub(crate) no_start: bool,
    /// The service's base URL; the recorded paths are appended to it
    /// [key: url].
    #[arg(long, value_name = "URL", conflicts_with = "port")]
    pub(crate) url: Option<String>,
    /// With an https:// --url: accept the service's certificate without
    /// verifying it (self-signed, or signed by a CA this machine does not
    /// trust), as curl's -k does [key: insecure].
    #[arg(long, short = 'k')]
    pub(crate) insecure: bool,
    /// The loopback port the service listens on: the same as
    /// --url http://127.0.0.1:PORT [key: port].
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Option<u16>,
    /// The path polled with GET until it answers with a 2xx status before
    /// anything is replayed; without it, any HTTP answer at `/` will do
    /// [key: ready].
    #[arg(long, value_name = "PATH")]
    pub(crate) ready: Option<String>,
    /// How long the service may take to become ready: seconds, or a
    /// number with a unit (500ms, 90s, 2m) [key: startup_timeout;
    /// default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub(crate) startup_timeout: Option<String>,
    /// How long one replayed request may take, its whole response
    /// included [key: request_timeout; default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub(crate) request_timeout: Option<String>,
    /// How many requests are in flight at once. In recorded order,
    /// requests that overlapped when recorded are sent together, this
    /// many at most, and take turns in the service as recorded (a larger
    /// group is cut) [key: concurrency; default: 16].
    #[arg(long, value_name = "N")]
    pub(crate) concurrency: Option<usize>,
    /// Which requests may run at the same time: `recorded` sends those
    /// that did not overlap when recorded one after the other, in recorded
    /// order, and those that did together, each step of theirs (start,
    /// answer to a call) taken in the service in recorded order (for
    /// services with state); `free` any of them, as many as --concurrency
    /// allows, with no turns [key: order; default: recorded].
    #[arg(long, value_enum, value_name = "ORDER")]
    pub(crate) order: Option<crate::replay::Order>,
    /// The recordings directory [key: recordings; default:
    /// TRACETAPE_RECORD_DIR, else `dir` under [record], else
    /// .tracetape/recordings].
    #[arg(long, value_name = "DIR")]
    pub(crate) recordings: Option<PathBuf>,
    /// The service (its service.name) whose recorded requests are replayed
    /// [key: service; default: the only service the recordings have
    /// requests of].
    #[arg(long, value_name = "NAME")]
    pub(crate) service: Option<String>,
    /// Replay only the recordings whose trace id starts with PREFIX;
    /// repeat it, or separate prefixes with commas [key: only].
    #[arg(long, value_name = "PREFIX", value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// Never count what differs at this JSON path of a response body
    /// (`$.order.created_at`, `$.items[*].id`, `$..etag`); repeatable,
    /// added to `ignore` under [replay.compare].
    #[arg(long, value_name = "JSON_PATH")]
    pub(crate) ignore: Vec<String>,
    /// Set a key of [replay.compare], the value in TOML syntax:
    /// `--compare epochs=false`, `--compare 'headers=["content-type", "etag"]'`;
    /// repeatable.
    #[arg(long = "compare", value_name = "KEY=VALUE")]
    pub(crate) compare: Vec<String>,
    /// The `LD_PRELOAD` library the started service runs with, which
    /// reports (and refuses) connections that bypass tracetape's clients
    /// and sets each replayed request's wall clock to its recorded time
    /// [key: preload; default: libtracetape_preload.so beside the
    /// `tracetape` executable, or in `deps/` there].
    #[arg(long, value_name = "FILE")]
    pub(crate) preload: Option<PathBuf>,
    /// Let connections that bypass tracetape's clients through (they are
    /// still reported) instead of refusing them [key: allow_unpatched].
    #[arg(long)]
    pub(crate) allow_unpatched: bool,
    /// Let the started service reach ADDR around tracetape's clients
    /// without reporting or refusing it, such as a local test database:
    /// IP:PORT or [IPV6]:PORT allows connections to that address and
    /// port; HOST allows looking the host name up, and HOST:PORT also
    /// connections to the addresses it resolves to when the replay starts.
    /// Repeatable; added to the `allow_connect` key's entries [key:
    /// allow_connect].
    #[arg(long, value_name = "ADDR")]
    pub(crate) allow_connect: Vec<String>,
    /// Send this header with every replayed request instead of the
    /// recorded one, such as a credential that redaction replaced in the
    /// recordings ('Authorization: Bearer …'). Repeatable; replaces the
    /// `replay.headers` entry of the same name [key: headers, a table whose
    /// values may hold ${ENV_VAR}].
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Exit with 1 when the service opened (or tried to open) any
    /// connection that bypasses tracetape's clients [key:
    /// fail_on_unpatched].
    #[arg(long)]
    pub(crate) fail_on_unpatched: bool,
    /// What a call answered by a recorded call that is not the same call
    /// (the `similar` level: another body, query or path) does: fail its
    /// recording (the default), or only show its differences [key:
    /// call_deviations].
    #[arg(long, value_enum, value_name = "fail|warn")]
    pub(crate) call_deviations: Option<crate::replay::CallDeviations>,
    /// A dependency recorded at one origin that answers at another in
    /// this environment (dynamic ports, containers), as
    /// RECORDED=LIVE: `http://127.0.0.1:8082=http://pricing:9000`; calls to
    /// LIVE are matched as calls to RECORDED [key: origins, a table].
    #[arg(long = "origin", value_name = "RECORDED=LIVE")]
    pub(crate) origins: Vec<String>,
    /// A request header compared when matching outbound calls to recorded
    /// ones, such as a tenant or an API version (by default none is)
    /// [key: match_headers; added to its entries].
    #[arg(long = "match-header", value_name = "NAME")]
    pub(crate) match_headers: Vec<String>,
    /// Keep what the service printed (stdout and stderr) in FILE; without
    /// it, the log is kept only when the run fails, and the report says
    /// where [key: service_log].
    #[arg(long, value_name = "FILE")]
    pub(crate) service_log: Option<PathBuf>,
    /// Replay the unchanged build twice (the service started afresh each
    /// time) and propose an ignore rule for each response value that
    /// differs between the two runs; a value equal in both is never
    /// proposed, even if it differs from the recording.
    #[arg(long, conflicts_with_all = ["accept", "format", "output"])]
    pub(crate) learn: bool,
    /// With --learn: add the proposed rules to `ignore` under
    /// [replay.compare] of the configuration file (--config, else
    /// ./tracetape.toml, created if missing).
    #[arg(long, requires = "learn")]
    pub(crate) write: bool,
    /// After the replay, accept the new behaviour of the recordings
    /// SELECTOR names, as `tracetape accept SELECTOR` does (`all`: every
    /// recording that deviated); repeatable.
    #[arg(long, value_name = "SELECTOR")]
    pub(crate) accept: Vec<String>,
    /// The report's format: text for people, json
    /// (docs/replay-report.md) or junit for CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

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

/// Runs the chosen subcommand, writing its output to standard output.
pub(crate) fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::List(args) => with_stdout(|out, notes| list::run(&args, out, notes)),
        Command::Show(args) => with_stdout(|out, notes| show::run(&args, out, notes)),
        Command::Replay(args) => runtime()?.block_on(replay::run(*args)),
        Command::Accept(args) => runtime()?.block_on(accept::run(*args)),
        Command::Demo(args) => runtime()?.block_on(demo::run(args)),
    }
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
    use clap::CommandFactory as _;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}
