//! The arguments of `tracetape replay` (also those of `tracetape accept`,
//! which replays first).

use std::path::PathBuf;

use clap::Args;

use super::order::Order;
use super::outcome::CallDeviations;
use super::report::Format;

/// Arguments of `tracetape replay`. Every setting but the report's can also
/// be a key of the `[replay]` table of the configuration file
/// (docs/configuration.md); a flag overrides its key.
#[derive(Debug, Default, Args)]
pub(crate) struct ReplayArgs {
    /// The configuration file with the settings in its `[replay]` table.
    ///
    /// The service started also reads it [default: ./tracetape.toml, if there
    /// is one].
    #[arg(long, value_name = "FILE", env = "TRACETAPE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The shell command that starts the service.
    ///
    /// Run with `sh -c` in a process group of its own, with
    /// TRACETAPE_MODE=replay and TRACETAPE_RECORD_DIR set [key: command].
    #[arg(long, value_name = "COMMAND")]
    pub(crate) command: Option<String>,
    /// Replay against a service already running; start and stop nothing.
    ///
    /// The service must run in replay mode at --url or --port (`command` is
    /// ignored). Without the preload library, unpatched dependencies are not
    /// detected and the service's clock is not set to the recorded time.
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
    /// The path polled until it answers 2xx, before anything is replayed.
    ///
    /// Polled with GET; without it, any HTTP answer at `/` will do [key:
    /// ready].
    #[arg(long, value_name = "PATH")]
    pub(crate) ready: Option<String>,
    /// How long the service may take to become ready.
    ///
    /// Seconds, or a number with a unit (500ms, 90s, 2m) [key: startup_timeout;
    /// default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub(crate) startup_timeout: Option<String>,
    /// How long one replayed request may take, its whole response
    /// included [key: request_timeout; default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub(crate) request_timeout: Option<String>,
    /// How many requests are in flight at once.
    ///
    /// In recorded order, requests that overlapped when recorded are sent
    /// together however low this is (up to 256, or this many when higher) and
    /// take turns in the service as recorded, one running at a time; only a
    /// longer chain of them is cut [key: concurrency; default: 16].
    #[arg(long, value_name = "N")]
    pub(crate) concurrency: Option<usize>,
    /// Which requests may run at the same time: recorded or free.
    ///
    /// `recorded` sends those that did not overlap when recorded one after the
    /// other, in recorded order, and those that did together, each step of
    /// theirs (start, answer to a call) taken in the service in recorded order
    /// (for services with state); `free` any of them, as many as --concurrency
    /// allows, with no turns [key: order; default: recorded].
    #[arg(long, value_enum, value_name = "ORDER")]
    pub(crate) order: Option<Order>,
    /// The recordings directory.
    ///
    /// [key: recordings; default: TRACETAPE_RECORD_DIR, else `dir` under
    /// [record], else .tracetape/recordings]
    #[arg(long, value_name = "DIR")]
    pub(crate) recordings: Option<PathBuf>,
    /// Replay the other recordings when some cannot be read.
    ///
    /// A recording file that cannot be read (cut short, corrupt, written by a
    /// newer tracetape) otherwise stops the run before it starts (exit status
    /// 2); with this it is skipped and listed in the report [key:
    /// skip_unreadable].
    #[arg(long)]
    pub(crate) skip_unreadable: bool,
    /// The service whose recorded requests are replayed.
    ///
    /// By its service.name [key: service; default: the only service the
    /// recordings have requests of].
    #[arg(long, value_name = "NAME")]
    pub(crate) service: Option<String>,
    /// Replay only the recordings whose trace id starts with PREFIX.
    ///
    /// Repeat it, or separate prefixes with commas [key: only].
    #[arg(long, value_name = "PREFIX", value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// Replay only the recordings whose route or path matches PATTERN.
    ///
    /// The route template (`/orders/{id}`) or the path (`/orders/42`); in
    /// PATTERN `*` stands for any run of characters; compared
    /// case-insensitively; repeatable [key: routes].
    #[arg(long = "route", value_name = "PATTERN")]
    pub(crate) routes: Vec<String>,
    /// Replay only the recordings of requests with this method.
    ///
    /// Repeat it, or separate methods with commas [key: methods].
    #[arg(long = "method", value_name = "METHOD", value_delimiter = ',')]
    pub(crate) methods: Vec<String>,
    /// Never count what differs at this JSON path of a response body.
    ///
    /// Such as `$.order.created_at`, `$.items[*].id`, `$..etag`; repeatable,
    /// added to `ignore` under [replay.compare].
    #[arg(long, value_name = "JSON_PATH")]
    pub(crate) ignore: Vec<String>,
    /// Set a key of [replay.compare], the value in TOML syntax.
    ///
    /// `--compare epochs=false`, `--compare 'headers=["content-type",
    /// "etag"]'`; repeatable.
    #[arg(long = "compare", value_name = "KEY=VALUE")]
    pub(crate) compare: Vec<String>,
    /// The LD_PRELOAD library the started service runs with.
    ///
    /// It reports (and refuses) connections that bypass tracetape's clients and
    /// sets each replayed request's wall clock to its recorded time [key:
    /// preload; default: libtracetape_preload.so beside the `tracetape`
    /// executable, or in `deps/` there].
    #[arg(long, value_name = "FILE")]
    pub(crate) preload: Option<PathBuf>,
    /// Let connections that bypass tracetape's clients through.
    ///
    /// They are still reported, not refused [key: allow_unpatched].
    #[arg(long)]
    pub(crate) allow_unpatched: bool,
    /// Let the started service reach ADDR around tracetape's clients,
    /// unreported.
    ///
    /// Such as a local test database: IP:PORT or [IPV6]:PORT allows connections
    /// to that address and port; HOST allows looking the host name up, and
    /// HOST:PORT also connections to the addresses it resolves to when the
    /// replay starts or in the service. Repeatable; added to the
    /// `allow_connect` key's entries [key: allow_connect].
    #[arg(long, value_name = "ADDR")]
    pub(crate) allow_connect: Vec<String>,
    /// Send this header with every replayed request instead of the recorded
    /// one.
    ///
    /// Such as a credential that redaction replaced in the recordings
    /// ('Authorization: Bearer …'). Repeatable; replaces the `replay.headers`
    /// entry of the same name [key: headers, a table whose values may hold
    /// ${ENV_VAR}].
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Send this value for a query key of every replayed request instead of
    /// the recorded one.
    ///
    /// Such as a credential that redaction replaced in the recordings
    /// (`?api_key=REDACTED`). Only requests whose recorded query has the key
    /// (compared as redaction compares keys: decoded, in any case) get it;
    /// none is added. Repeatable; replaces the `replay.query` entry of the
    /// same key [key: query, a table whose values may hold ${ENV_VAR}].
    #[arg(long = "query", value_name = "KEY=VALUE")]
    pub(crate) query: Vec<String>,
    /// Exit with 1 when the service connected around tracetape's clients.
    ///
    /// When it opened (or tried to open) any connection that bypasses them
    /// [key: fail_on_unpatched].
    #[arg(long)]
    pub(crate) fail_on_unpatched: bool,
    /// What a call answered by a similar recorded call does: fail or warn.
    ///
    /// A call answered by a recorded call that is not the same call (the
    /// `similar` level: another body, query or path) fails its recording (the
    /// default), or only shows its differences [key: call_deviations].
    #[arg(long, value_enum, value_name = "fail|warn")]
    pub(crate) call_deviations: Option<CallDeviations>,
    /// A dependency that answers at another origin than when recorded.
    ///
    /// In this environment (dynamic ports, containers), as RECORDED=LIVE:
    /// `http://127.0.0.1:8082=http://pricing:9000`; calls to LIVE are matched
    /// as calls to RECORDED [key: origins, a table].
    #[arg(long = "origin", value_name = "RECORDED=LIVE")]
    pub(crate) origins: Vec<String>,
    /// A request header compared when matching outbound calls to recorded ones.
    ///
    /// Such as a tenant or an API version (by default none is) [key:
    /// match_headers; added to its entries].
    #[arg(long = "match-header", value_name = "NAME")]
    pub(crate) match_headers: Vec<String>,
    /// Keep what the service printed in FILE.
    ///
    /// Its standard output and standard error; without it, the log is kept only
    /// when the run fails, and the report says where [key: service_log].
    #[arg(long, value_name = "FILE")]
    pub(crate) service_log: Option<PathBuf>,
    /// Replay twice and propose ignore rules for what differs between the runs.
    ///
    /// The unchanged build, the service started afresh each time: an ignore
    /// rule for each response value that differs between the two runs; a value
    /// equal in both is never proposed, even if it differs from the recording.
    #[arg(long, conflicts_with_all = ["accept", "format", "output"])]
    pub(crate) learn: bool,
    /// With --learn: add the proposed rules to the configuration file.
    ///
    /// To `ignore` under [replay.compare] of --config, else ./tracetape.toml,
    /// created if missing.
    #[arg(long, requires = "learn")]
    pub(crate) write: bool,
    /// After the replay, accept the new behaviour of the recordings SELECTOR
    /// names.
    ///
    /// As `tracetape accept SELECTOR` does (`all`: every recording that
    /// deviated); repeatable.
    #[arg(long, value_name = "SELECTOR")]
    pub(crate) accept: Vec<String>,
    /// The report's format: text, json or junit.
    ///
    /// Text for people, json (docs/replay-report.md) or junit for CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}
