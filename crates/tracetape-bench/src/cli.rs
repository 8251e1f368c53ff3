//! Command-line parsing: a few subcommands with a handful of `--flag value`
//! options each, parsed by hand.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};

use crate::mode::Mode;

/// Parses `--modes`: a comma-separated list, each mode at most once, and
/// with every mode's baseline (`baseline` for `traced`, `traced-grpc` and
/// `local`; `pair-baseline` for `pair-traced`; `json-1k-baseline` for
/// `json-1k-traced` and `json-1k-record`, and so on), since ratios are
/// taken against it. A record mode's traced twin is optional: without it,
/// only the ratio to the baseline is given.
fn parse_modes(list: &str) -> anyhow::Result<Vec<Mode>> {
    let modes = list
        .split(',')
        .map(|m| m.trim().parse())
        .collect::<anyhow::Result<Vec<Mode>>>()?;
    for (i, mode) in modes.iter().enumerate() {
        if modes[..i].contains(mode) {
            bail!("--modes lists {mode} twice");
        }
        if let Some(baseline) = mode.baseline()
            && !modes.contains(&baseline)
        {
            bail!("--modes must include {baseline} with {mode}: its ratio is against {baseline}");
        }
    }
    Ok(modes)
}

/// Which load generator `run` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadTool {
    /// `wrk` when it is on `PATH`, else the built-in generator.
    Auto,
    /// `wrk`, an error when missing.
    Wrk,
    /// The built-in hyper generator, in a child process.
    Builtin,
}

impl FromStr for LoadTool {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "auto" => Ok(LoadTool::Auto),
            "wrk" => Ok(LoadTool::Wrk),
            "builtin" => Ok(LoadTool::Builtin),
            other => bail!("unknown load tool {other:?} (expected auto, wrk or builtin)"),
        }
    }
}

/// Options of `run`.
#[derive(Debug, Clone)]
pub(crate) struct RunArgs {
    pub(crate) seconds: u64,
    pub(crate) warmup: u64,
    /// `--connections`, for every mode; `None`: each workload's default
    /// ([`Workload::default_connections`](crate::mode::Workload::default_connections)).
    pub(crate) connections: Option<u32>,
    pub(crate) rounds: u32,
    pub(crate) modes: Vec<Mode>,
    pub(crate) load: LoadTool,
}

/// Where the replay benchmark's service sends its spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traces {
    /// Nowhere (`OTEL_TRACES_EXPORTER=none`): the figure is the replay's.
    None,
    /// To the local store (`OTEL_TRACES_EXPORTER=local`, the default of a
    /// service with no collector configured).
    Local,
}

impl Traces {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Traces::None => "none",
            Traces::Local => "local",
        }
    }
}

impl FromStr for Traces {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "none" => Ok(Traces::None),
            "local" => Ok(Traces::Local),
            other => bail!("unknown span destination {other:?} (expected none or local)"),
        }
    }
}

/// Options of `replay`.
#[derive(Debug, Clone)]
pub(crate) struct ReplayArgs {
    /// Recordings made, then replayed each round.
    pub(crate) recordings: u64,
    pub(crate) rounds: u32,
    /// `tracetape replay --concurrency`.
    pub(crate) concurrency: u32,
    /// `tracetape replay --order` (`recorded` or `free`); `None`: its
    /// default.
    pub(crate) order: Option<String>,
    /// The `tracetape` binary; `None`: the one beside this executable.
    pub(crate) tracetape: Option<PathBuf>,
    pub(crate) traces: Traces,
}

/// Options of `collector-down`.
#[derive(Debug, Clone)]
pub(crate) struct CollectorDownArgs {
    /// Seconds of load with the collector up, before and after the outage.
    pub(crate) up: u64,
    /// Seconds of load with the collector down.
    pub(crate) down: u64,
    pub(crate) connections: u32,
    pub(crate) load: LoadTool,
}

/// Options of `serve-orders`.
#[derive(Debug, Clone)]
pub(crate) struct ServeOrdersArgs {
    pub(crate) port_file: PathBuf,
    /// The dependency's base URL.
    pub(crate) dependency: String,
}

/// Options of `serve`.
#[derive(Debug, Clone)]
pub(crate) struct ServeArgs {
    pub(crate) mode: Mode,
    pub(crate) port_file: PathBuf,
}

/// Options of `load` (the built-in generator).
#[derive(Debug, Clone)]
pub(crate) struct LoadArgs {
    pub(crate) port: u16,
    pub(crate) connections: u32,
    pub(crate) seconds: u64,
    /// `POST /echo` with this file's bytes as a JSON body, instead of
    /// `GET /hello`.
    pub(crate) body_file: Option<PathBuf>,
}

/// A parsed command line.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Run(RunArgs),
    Replay(ReplayArgs),
    CollectorDown(CollectorDownArgs),
    Serve(ServeArgs),
    ServeOrders(ServeOrdersArgs),
    /// Its arguments are parsed with clap, beside the command.
    Fidelity(crate::fidelity::FidelityArgs),
    Postgres(crate::postgres::PostgresArgs),
    Grpc(crate::grpc::GrpcArgs),
    View(crate::view::ViewArgs),
    ServeFidelity(crate::fidelity::service::ServeArgs),
    Load(LoadArgs),
    /// Allocations per request; arguments parsed with clap, beside it.
    Allocs(crate::per_request::PerRequestArgs),
    /// Instructions per request under callgrind; likewise.
    Callgrind(crate::per_request::PerRequestArgs),
    /// Internal: run a program, kill it when standard input closes.
    Watch(Vec<String>),
    Help,
}

pub(crate) const USAGE: &str = "\
usage:
  tracetape-bench [run] [--seconds N] [--warmup N] [--connections N] [--rounds N]
                        [--modes MODE,MODE,...] [--load auto|wrk|builtin]
  tracetape-bench replay [--recordings N] [--rounds N] [--concurrency N]
                         [--order recorded|free] [--tracetape PATH] [--traces none|local]
  tracetape-bench collector-down [--up N] [--down N] [--connections N]
                                 [--load auto|wrk|builtin]
  tracetape-bench fidelity [--requests N] [--concurrency N,N,...] [--replays N]
                           [--changes NAME,...] [--tracetape PATH] [--keep]
                           (tracetape-bench fidelity --help for more)
  tracetape-bench postgres [--seconds N] [--warmup N] [--rounds N] [--tasks N] [--pool N]
                           (query throughput untraced vs. through tracetape's proxy)
  tracetape-bench grpc [--seconds N] [--warmup N] [--rounds N] [--tasks N]
                       (unary tonic calls untraced vs. through both layers)
  tracetape-bench view [--spans N] [--spans-per-trace N] [--batch N] [--senders N]
                       [--lookups N] [--runs N] [--tracetape PATH] [--keep]
                       (tracetape view: OTLP ingest rate, lookup and search latency)
  tracetape-bench allocs [--modes MODE,...] [--requests N] [--warmup N] [--connections N]
                         (a build with --features count-allocs)
  tracetape-bench callgrind [--modes MODE,...] [--requests N] [--warmup N] [--connections N]
  tracetape-bench serve --mode MODE --port-file PATH
  tracetape-bench serve-orders --port-file PATH --dependency URL
  tracetape-bench load --port PORT [--connections N] [--seconds N] [--body-file PATH]

modes:
  baseline          axum GET /hello, no tracetape
  traced            + TraceLayer and tracetape::init(), spans over OTLP/HTTP to rotel
  traced-grpc       the same over OTLP/gRPC
  local             + TraceLayer and tracetape::init(), spans to the local store
  pair-baseline     a front app whose GET /hello calls a back app's GET /hello
                    with a keep-alive reqwest::Client (both in one process, on
                    the same two workers), no tracetape
  pair-traced       the same pair with TraceLayer on both apps, TracingMiddleware
                    on the client and tracetape::init() as in traced (3 spans
                    per request)
  json-1k-baseline  axum POST /echo: a ~1,000-byte JSON order in (parsed as a
                    serde_json::Value), a JSON confirmation of about the same
                    size out; no tracetape
  json-1k-traced    + TraceLayer and tracetape::init() as in traced,
                    TRACETAPE_MODE=off
  json-1k-record    the same with TRACETAPE_MODE=record, every request recorded
                    (TRACETAPE_RECORD_SAMPLE_RATE=1) into a temporary directory
                    that is counted and removed after each run
  json-1m-baseline, json-1m-traced, json-1m-record
                    the same with ~1,000,000-byte bodies (under the default
                    1 MiB TRACETAPE_RECORD_MAX_BODY_BYTES: recorded whole)
  json-1m-budget    json-1m-record with the body budget (max_held_bytes) set in
                    the app's code to 4 MiB, under the ~16 MB of bodies its 8
                    connections carry: the memory at that limit, and the
                    bodies it cut (the recorder's cut_by_budget)
  json-1m-over-limit
                    json-1m-record with max_body_bytes set in the app's code
                    to 990,000, just under the bodies: every body truncated
  peer-otel-tower   GET /hello with opentelemetry-instrumentation-tower 0.19's
                    layer, the SDK's batch processor, OTLP/HTTP to rotel
  peer-tower-http   GET /hello with tower-http's TraceLayer::new_for_http() and
                    tracing-opentelemetry 0.34, the SDK's batch processor,
                    OTLP/HTTP to rotel
Each traced or peer mode needs its baseline in --modes (pair-traced: pair-baseline;
json-1k-traced and json-1k-record: json-1k-baseline; likewise json-1m-*),
and its ratio is to that baseline. A record mode is also compared with its
traced twin (json-1k-record with json-1k-traced) when that runs too. The
load always drives the front app. The table gives each mode's peak resident
set (VmHWM); for the record modes the report adds the memory they add over
the baseline and the traced twin, and the recordings written, dropped by the
bounded queue and failed, against the responses.

run (the default) starts rotel-agent (from $ROTEL_AGENT, else the one
installed with the `rotel` Python package), then for each round and mode
starts `serve` in a child process and loads it with wrk (or the built-in
generator), and prints the median requests/s per mode and the ratios to
the baselines. Defaults: --seconds 10 --warmup 1 --rounds 3
--modes baseline,traced,local --load auto; --connections 32, 8 for the
json-1m modes (given, it applies to every mode).

With traced and a peer mode in --modes, the report adds, for each peer, the
per-round ratios of traced and of the peer (each to the baseline of its
round) and whether traced was ahead in every round. The peers build their
own SDK pipeline from the same OTEL_* variables, and their spans are
counted at the collector like tracetape's.

allocs (build with --features count-allocs) and callgrind count what one
GET /hello costs the server process: each mode's server (default modes:
baseline,traced,peer-otel-tower,peer-tower-http) gets --warmup requests
(default 2000), a mark, exactly --requests (default 20000) over
--connections (default 4) keep-alive connections, and a second mark; allocs
divides the allocations the counting allocator saw between the marks (every
thread), callgrind the instructions valgrind --tool=callgrind counted
(callgrind_control -z, then -d), and each prints the difference to baseline.

replay measures replay speed: it records N requests (--recordings, default
2000) of a service whose POST /orders makes 3 outbound calls through
TracingMiddleware (`serve-orders`, TRACETAPE_MODE=record, against a
dependency served by this process), then each round starts the service
with TRACETAPE_MODE=replay (the dependency gone) and runs the real
`tracetape replay --no-start --url ... --concurrency N --format json`
against it (default 8), checks that every recording passed, and prints
recorded requests replayed per second (from the first request to the last
verdict, as the JSON report's duration_ms says) per round, their median
against the brief's target (1,000/s), and the CPU time of the service and
of the replayer. The `tracetape` binary is the one beside this executable
(build it with `cargo build --release -p tracetape-cli`) unless --tracetape
names one. The service's spans go nowhere unless --traces local sends them
to the local store. --order is passed to `tracetape replay` (its default:
recorded; the recordings were made 8 at a time, so they overlap as much).
Defaults: --recordings 2000 --rounds 3 --concurrency 8 --traces none.

collector-down measures the brief's \"collector down for a minute under
load\": one `serve --mode traced` process (OTLP/HTTP to rotel, as in
traced) under load for three consecutive phases: before (rotel up, --up
seconds), down (rotel killed, its ports left closed so exports are refused,
--down seconds), after (rotel started again on the same ports, --up
seconds), after a 1 s warm-up. It prints per phase requests/s, p50, p99 and
max latency and the server's resident set (VmRSS, sampled twice a second:
min, max, last), the down/before and after/before ratios, the RSS growth
over the down phase, and the spans the two rotel runs received against the
responses served (lost = responses - delivered, counted from outside).
Defaults: --up 20 --down 60 --connections 32 --load auto.";

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut args: Vec<String> = args.into_iter().collect();
    match args.first().map(String::as_str) {
        Some("fidelity") => return Ok(Command::Fidelity(parse_with_clap(args)?)),
        Some("postgres") => return Ok(Command::Postgres(parse_with_clap(args)?)),
        Some("grpc") => return Ok(Command::Grpc(parse_with_clap(args)?)),
        Some("view") => return Ok(Command::View(parse_with_clap(args)?)),
        Some("allocs") => return Ok(Command::Allocs(parse_with_clap(args)?)),
        Some("callgrind") => return Ok(Command::Callgrind(parse_with_clap(args)?)),
        Some("serve-fidelity") => return Ok(Command::ServeFidelity(parse_with_clap(args)?)),
        _ => {}
    }
    let sub = match args.first().map(String::as_str) {
        Some("watch") => {
            let rest = args.split_off(1);
            let rest = match rest.first().map(String::as_str) {
                Some("--") => rest.into_iter().skip(1).collect(),
                _ => rest,
            };
            if rest.is_empty() {
                bail!("watch needs a program to run");
            }
            return Ok(Command::Watch(rest));
        }
        Some("run")
        | Some("replay")
        | Some("collector-down")
        | Some("serve")
        | Some("serve-orders")
        | Some("load") => args.remove(0),
        Some("help") | Some("--help") | Some("-h") => return Ok(Command::Help),
        _ => "run".to_owned(),
    };
    let flags = Flags::parse(args)?;
    if flags.get("help").is_some() {
        return Ok(Command::Help);
    }
    let command = match sub.as_str() {
        "serve" => {
            let mode = flags.required("mode")?.parse()?;
            let port_file = PathBuf::from(flags.required("port-file")?);
            flags.only(&["mode", "port-file"])?;
            Command::Serve(ServeArgs { mode, port_file })
        }
        "serve-orders" => {
            flags.only(&["port-file", "dependency"])?;
            Command::ServeOrders(ServeOrdersArgs {
                port_file: PathBuf::from(flags.required("port-file")?),
                dependency: flags.required("dependency")?.to_owned(),
            })
        }
        "replay" => {
            flags.only(&[
                "recordings",
                "rounds",
                "concurrency",
                "order",
                "tracetape",
                "traces",
            ])?;
            let replay = ReplayArgs {
                recordings: flags.parsed_or("recordings", 2000)?,
                rounds: flags.parsed_or("rounds", 3)?,
                concurrency: flags.parsed_or("concurrency", 8)?,
                order: flags.get("order").map(str::to_owned),
                tracetape: flags.get("tracetape").map(PathBuf::from),
                traces: flags.parsed_or("traces", Traces::None)?,
            };
            if replay.recordings == 0 || replay.recordings > 1_000_000 {
                bail!("--recordings must be between 1 and 1000000");
            }
            if replay.rounds == 0 || replay.rounds > 20 {
                bail!("--rounds must be between 1 and 20");
            }
            if replay.concurrency == 0 || replay.concurrency > 1024 {
                bail!("--concurrency must be between 1 and 1024");
            }
            if let Some(order) = replay.order.as_deref()
                && !matches!(order, "recorded" | "free")
            {
                bail!("--order must be recorded or free, not {order:?}");
            }
            Command::Replay(replay)
        }
        "collector-down" => {
            flags.only(&["up", "down", "connections", "load"])?;
            let outage = CollectorDownArgs {
                up: flags.parsed_or("up", 20)?,
                down: flags.parsed_or("down", 60)?,
                connections: flags.parsed_or("connections", 32)?,
                load: flags.parsed_or("load", LoadTool::Auto)?,
            };
            if outage.up == 0 || outage.up > 600 {
                bail!("--up must be between 1 and 600");
            }
            if outage.down == 0 || outage.down > 600 {
                bail!("--down must be between 1 and 600");
            }
            if outage.connections == 0 || outage.connections > 1024 {
                bail!("--connections must be between 1 and 1024");
            }
            Command::CollectorDown(outage)
        }
        "load" => {
            flags.only(&["port", "connections", "seconds", "body-file"])?;
            Command::Load(LoadArgs {
                port: flags.parsed_required("port")?,
                connections: flags.parsed_or("connections", 32)?,
                seconds: flags.parsed_or("seconds", 10)?,
                body_file: flags.get("body-file").map(PathBuf::from),
            })
        }
        _ => {
            flags.only(&[
                "seconds",
                "warmup",
                "connections",
                "rounds",
                "modes",
                "load",
            ])?;
            let modes = match flags.get("modes") {
                Some(list) => parse_modes(list)?,
                None => vec![Mode::Baseline, Mode::Traced, Mode::Local],
            };
            let run = RunArgs {
                seconds: flags.parsed_or("seconds", 10)?,
                warmup: flags.parsed_or("warmup", 1)?,
                connections: flags
                    .get("connections")
                    .map(|_| flags.parsed_required("connections"))
                    .transpose()?,
                rounds: flags.parsed_or("rounds", 3)?,
                modes,
                load: flags.parsed_or("load", LoadTool::Auto)?,
            };
            if run.seconds == 0 || run.seconds > 600 {
                bail!("--seconds must be between 1 and 600");
            }
            if run.warmup > 60 {
                bail!("--warmup must be at most 60");
            }
            if run.rounds == 0 || run.rounds > 20 {
                bail!("--rounds must be between 1 and 20");
            }
            if run.connections.is_some_and(|c| c == 0 || c > 1024) {
                bail!("--connections must be between 1 and 1024");
            }
            Command::Run(run)
        }
    };
    Ok(command)
}

/// A subcommand whose arguments are declared with clap derive beside it:
/// `args` starts with the subcommand's name. `--help` prints its help and
/// exits.
fn parse_with_clap<T: clap::Parser>(args: Vec<String>) -> anyhow::Result<T> {
    let name = format!(
        "tracetape-bench {}",
        args.first().map_or("", String::as_str)
    );
    let argv = std::iter::once(name).chain(args.into_iter().skip(1));
    match T::try_parse_from(argv) {
        Ok(parsed) => Ok(parsed),
        Err(err)
            if matches!(
                err.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            err.exit()
        }
        Err(err) => bail!("{}", err.render()),
    }
}

/// `--name value` and `--name=value` pairs.
#[derive(Debug)]
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: Vec<String>) -> anyhow::Result<Self> {
        let mut pairs = Vec::new();
        let mut iter = args.into_iter();
        while let Some(arg) = iter.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                bail!("unexpected argument {arg:?}\n\n{USAGE}");
            };
            if flag == "help" {
                pairs.push(("help".to_owned(), String::new()));
                continue;
            }
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => {
                    let value = iter
                        .next()
                        .with_context(|| format!("--{flag} needs a value"))?;
                    (flag.to_owned(), value)
                }
            };
            pairs.push((name, value));
        }
        Ok(Flags(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> anyhow::Result<&str> {
        self.get(name)
            .with_context(|| format!("--{name} is required\n\n{USAGE}"))
    }

    fn parsed_required<T: FromStr>(&self, name: &str) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        let raw = self.required(name)?;
        raw.parse()
            .map_err(|e| anyhow::anyhow!("--{name} {raw:?}: {e}"))
    }

    fn parsed_or<T: FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            Some(raw) => raw
                .parse()
                .map_err(|e| anyhow::anyhow!("--{name} {raw:?}: {e}")),
            None => Ok(default),
        }
    }

    fn only(&self, allowed: &[&str]) -> anyhow::Result<()> {
        for (name, _) in &self.0 {
            if !allowed.contains(&name.as_str()) {
                bail!("unknown option --{name}\n\n{USAGE}");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> anyhow::Result<Command> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn run_is_the_default_with_defaults() -> anyhow::Result<()> {
        let Command::Run(run) = parse_str("")? else {
            bail!("expected run");
        };
        assert_eq!(run.seconds, 10);
        assert_eq!(run.connections, None);
        assert_eq!(run.rounds, 3);
        assert_eq!(run.modes, vec![Mode::Baseline, Mode::Traced, Mode::Local]);
        Ok(())
    }

    #[test]
    fn run_options() -> anyhow::Result<()> {
        let Command::Run(run) =
            parse_str("--seconds 5 --rounds=2 --modes baseline,traced --load builtin")?
        else {
            bail!("expected run");
        };
        assert_eq!(run.seconds, 5);
        assert_eq!(run.rounds, 2);
        assert_eq!(run.modes, vec![Mode::Baseline, Mode::Traced]);
        assert_eq!(run.load, LoadTool::Builtin);
        Ok(())
    }

    #[test]
    fn serve_needs_mode_and_port_file() -> anyhow::Result<()> {
        assert!(parse_str("serve --mode traced").is_err());
        let Command::Serve(serve) = parse_str("serve --mode traced --port-file /tmp/p")? else {
            bail!("expected serve");
        };
        assert_eq!(serve.mode, Mode::Traced);
        Ok(())
    }

    #[test]
    fn replay_has_defaults_and_options() -> anyhow::Result<()> {
        let Command::Replay(replay) = parse_str("replay")? else {
            bail!("expected replay");
        };
        assert_eq!(replay.recordings, 2000);
        assert_eq!(replay.rounds, 3);
        assert_eq!(replay.concurrency, 8);
        assert_eq!(replay.order, None);
        assert_eq!(replay.tracetape, None);
        assert_eq!(replay.traces, Traces::None);
        let Command::Replay(replay) = parse_str(
            "replay --recordings 50 --rounds=1 --concurrency 2 --tracetape /t/tracetape \
             --traces local --order free",
        )?
        else {
            bail!("expected replay");
        };
        assert_eq!(replay.recordings, 50);
        assert_eq!(replay.rounds, 1);
        assert_eq!(replay.concurrency, 2);
        assert_eq!(replay.order.as_deref(), Some("free"));
        assert_eq!(replay.tracetape, Some(PathBuf::from("/t/tracetape")));
        assert_eq!(replay.traces, Traces::Local);
        assert!(parse_str("replay --recordings 0").is_err());
        assert!(parse_str("replay --concurrency 0").is_err());
        assert!(parse_str("replay --order random").is_err());
        assert!(parse_str("replay --traces otlp").is_err());
        assert!(parse_str("replay --seconds 5").is_err());
        Ok(())
    }

    #[test]
    fn collector_down_has_defaults_and_options() -> anyhow::Result<()> {
        let Command::CollectorDown(outage) = parse_str("collector-down")? else {
            bail!("expected collector-down");
        };
        assert_eq!(outage.up, 20);
        assert_eq!(outage.down, 60);
        assert_eq!(outage.connections, 32);
        assert_eq!(outage.load, LoadTool::Auto);
        let Command::CollectorDown(outage) =
            parse_str("collector-down --up 5 --down=10 --connections 8 --load builtin")?
        else {
            bail!("expected collector-down");
        };
        assert_eq!(outage.up, 5);
        assert_eq!(outage.down, 10);
        assert_eq!(outage.connections, 8);
        assert_eq!(outage.load, LoadTool::Builtin);
        assert!(matches!(parse_str("collector-down --help")?, Command::Help));
        Ok(())
    }

    #[test]
    fn collector_down_rejects_bad_values() {
        assert!(parse_str("collector-down --up 0").is_err());
        assert!(parse_str("collector-down --down 0").is_err());
        assert!(parse_str("collector-down --down 601").is_err());
        assert!(parse_str("collector-down --connections 0").is_err());
        assert!(parse_str("collector-down --down abc").is_err());
        assert!(parse_str("collector-down --load fast").is_err());
        // run's options are not collector-down's.
        assert!(parse_str("collector-down --seconds 5").is_err());
        assert!(parse_str("collector-down --modes traced").is_err());
        assert!(parse_str("collector-down 60").is_err());
    }

    #[test]
    fn serve_orders_needs_its_port_file_and_dependency() -> anyhow::Result<()> {
        assert!(parse_str("serve-orders --port-file p").is_err());
        let Command::ServeOrders(serve) =
            parse_str("serve-orders --port-file p --dependency http://127.0.0.1:1")?
        else {
            bail!("expected serve-orders");
        };
        assert_eq!(serve.port_file, PathBuf::from("p"));
        assert_eq!(serve.dependency, "http://127.0.0.1:1");
        Ok(())
    }

    #[test]
    fn fidelity_has_defaults_and_options() -> anyhow::Result<()> {
        let Command::Fidelity(fidelity) = parse_str("fidelity")? else {
            bail!("expected fidelity");
        };
        assert_eq!(fidelity.requests, 300);
        assert_eq!(fidelity.concurrency, [1, 4, 16]);
        assert_eq!(fidelity.replays, 1000);
        assert!(fidelity.changes.is_empty() && !fidelity.keep);
        let Command::Fidelity(fidelity) =
            parse_str("fidelity --requests 50 --concurrency 2,8 --changes status,rounding --keep")?
        else {
            bail!("expected fidelity");
        };
        assert_eq!(fidelity.requests, 50);
        assert_eq!(fidelity.concurrency, [2, 8]);
        assert_eq!(fidelity.changes, ["status", "rounding"]);
        assert!(fidelity.keep);
        assert!(parse_str("fidelity --concurrency 0").is_err());
        assert!(parse_str("fidelity --seconds 5").is_err());
        let Command::ServeFidelity(serve) =
            parse_str("serve-fidelity --partners http://a --platform http://b --port 7")?
        else {
            bail!("expected serve-fidelity");
        };
        assert_eq!(serve.port, Some(7));
        assert!(parse_str("serve-fidelity --partners http://a --platform http://b").is_err());
        Ok(())
    }

    #[test]
    fn watch_takes_the_rest_verbatim() -> anyhow::Result<()> {
        let Command::Watch(rest) = parse_str("watch -- wrk -t1 --latency http://x")? else {
            bail!("expected watch");
        };
        assert_eq!(rest, ["wrk", "-t1", "--latency", "http://x"]);
        assert!(parse_str("watch --").is_err());
        Ok(())
    }

    #[test]
    fn peer_and_limit_modes_need_their_baseline() -> anyhow::Result<()> {
        let Command::Run(run) = parse_str("--modes baseline,peer-otel-tower,peer-tower-http")?
        else {
            bail!("expected run");
        };
        assert_eq!(
            run.modes,
            vec![Mode::Baseline, Mode::PeerOtelTower, Mode::PeerTowerHttp]
        );
        assert!(parse_str("--modes peer-tower-http").is_err());
        assert!(parse_str("--modes json-1m-budget").is_err());
        assert!(parse_str("--modes json-1m-baseline,json-1m-budget,json-1m-over-limit").is_ok());
        Ok(())
    }

    #[test]
    fn allocs_and_callgrind_have_defaults_and_options() -> anyhow::Result<()> {
        let Command::Allocs(args) = parse_str("allocs")? else {
            bail!("expected allocs");
        };
        assert_eq!(
            args.modes,
            vec![
                Mode::Baseline,
                Mode::Traced,
                Mode::PeerOtelTower,
                Mode::PeerTowerHttp
            ]
        );
        assert_eq!(
            (args.requests, args.warmup, args.connections),
            (20_000, 2_000, 4)
        );
        let Command::Callgrind(args) =
            parse_str("callgrind --modes baseline,traced --requests 500 --connections 2")?
        else {
            bail!("expected callgrind");
        };
        assert_eq!(args.modes, vec![Mode::Baseline, Mode::Traced]);
        assert_eq!((args.requests, args.connections), (500, 2));
        Ok(())
    }

    #[test]
    fn pair_modes_parse_with_their_own_baseline() -> anyhow::Result<()> {
        let Command::Run(run) = parse_str("--modes pair-baseline,pair-traced")? else {
            bail!("expected run");
        };
        assert_eq!(run.modes, vec![Mode::PairBaseline, Mode::PairTraced]);
        let Command::Run(run) = parse_str("--modes baseline,traced,pair-baseline,pair-traced")?
        else {
            bail!("expected run");
        };
        assert_eq!(
            run.modes,
            vec![
                Mode::Baseline,
                Mode::Traced,
                Mode::PairBaseline,
                Mode::PairTraced
            ]
        );
        let Command::Serve(serve) = parse_str("serve --mode pair-traced --port-file p")? else {
            bail!("expected serve");
        };
        assert_eq!(serve.mode, Mode::PairTraced);
        Ok(())
    }

    #[test]
    fn each_traced_mode_needs_its_own_baseline() {
        // pair-traced is compared with pair-baseline, not baseline.
        assert!(parse_str("--modes baseline,pair-traced").is_err());
        // traced is compared with baseline, not pair-baseline.
        assert!(parse_str("--modes pair-baseline,traced").is_err());
        assert!(parse_str("--modes pair-baseline").is_ok());
    }

    #[test]
    fn json_modes_need_their_baseline_not_their_traced_twin() -> anyhow::Result<()> {
        let Command::Run(run) = parse_str("--modes json-1m-baseline,json-1m-record")? else {
            bail!("expected run");
        };
        assert_eq!(run.modes, vec![Mode::Json1mBaseline, Mode::Json1mRecord]);
        assert!(parse_str("--modes json-1k-traced,json-1k-record").is_err());
        assert!(parse_str("--modes json-1k-baseline,json-1m-record").is_err());
        assert!(parse_str("--modes json-1k-baseline,json-1k-traced,json-1k-record").is_ok());
        Ok(())
    }

    #[test]
    fn connections_override_every_workload_when_given() -> anyhow::Result<()> {
        let Command::Run(run) = parse_str("--connections 4")? else {
            bail!("expected run");
        };
        assert_eq!(run.connections, Some(4));
        assert!(parse_str("--connections 0").is_err());
        let Command::Load(load) = parse_str("load --port 1 --body-file /t/b.json")? else {
            bail!("expected load");
        };
        assert_eq!(load.body_file, Some(PathBuf::from("/t/b.json")));
        Ok(())
    }

    // Two runs of one mode in a round would share a port file: the second
    // would read the first's stale port.
    #[test]
    fn rejects_a_mode_listed_twice() {
        assert!(parse_str("--modes baseline,traced,baseline").is_err());
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        assert!(parse_str("--nope 1").is_err());
        assert!(parse_str("--seconds abc").is_err());
        assert!(parse_str("--modes traced").is_err());
        assert!(parse_str("serve --mode fast --port-file p").is_err());
    }
}
