//! Command-line parsing: three subcommands with a handful of `--flag value`
//! options each, parsed by hand.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};

/// How the served app is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The bare axum app, no tracetape at all.
    Baseline,
    /// `TraceLayer` plus `tracetape::init()`, spans exported over
    /// OTLP/HTTP (http/protobuf, the default protocol).
    Traced,
    /// The same, exported over OTLP/gRPC.
    TracedGrpc,
    /// `TraceLayer` plus `tracetape::init()`, spans to the embedded local store.
    Local,
    /// A front app that calls a back app over loopback with a plain
    /// `reqwest::Client`, no tracetape at all.
    PairBaseline,
    /// The same pair with `TraceLayer` on both apps, `TracingMiddleware`
    /// on the front's client and `tracetape::init()`, spans exported over
    /// OTLP/HTTP as in [`Mode::Traced`].
    PairTraced,
}

impl Mode {
    /// Every mode, in the order the usage text lists them.
    pub(crate) const ALL: [Mode; 6] = [
        Mode::Baseline,
        Mode::Traced,
        Mode::TracedGrpc,
        Mode::Local,
        Mode::PairBaseline,
        Mode::PairTraced,
    ];

    /// Whether spans go to the collector.
    pub(crate) fn exports(self) -> bool {
        matches!(self, Mode::Traced | Mode::TracedGrpc | Mode::PairTraced)
    }

    /// Whether the served app is the front + back pair.
    pub(crate) fn is_pair(self) -> bool {
        matches!(self, Mode::PairBaseline | Mode::PairTraced)
    }

    /// Whether tracetape is in the served app at all.
    pub(crate) fn is_traced(self) -> bool {
        self.baseline().is_some()
    }

    /// The uninstrumented mode this one is compared with; `None` for the
    /// baselines themselves.
    pub(crate) fn baseline(self) -> Option<Mode> {
        match self {
            Mode::Baseline | Mode::PairBaseline => None,
            Mode::Traced | Mode::TracedGrpc | Mode::Local => Some(Mode::Baseline),
            Mode::PairTraced => Some(Mode::PairBaseline),
        }
    }

    /// Spans the server makes per request the load generator counts:
    /// one SERVER span for a single traced app; for the traced pair, the
    /// front's SERVER span, its CLIENT span and the back's SERVER span.
    pub(crate) fn spans_per_request(self) -> u64 {
        match self {
            Mode::Baseline | Mode::PairBaseline => 0,
            Mode::Traced | Mode::TracedGrpc | Mode::Local => 1,
            Mode::PairTraced => 3,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Baseline => "baseline",
            Mode::Traced => "traced",
            Mode::TracedGrpc => "traced-grpc",
            Mode::Local => "local",
            Mode::PairBaseline => "pair-baseline",
            Mode::PairTraced => "pair-traced",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match Mode::ALL.into_iter().find(|m| m.name() == s) {
            Some(mode) => Ok(mode),
            None => bail!(
                "unknown mode {s:?} (expected baseline, traced, traced-grpc, local, \
                 pair-baseline or pair-traced)"
            ),
        }
    }
}

/// Parses `--modes`: a comma-separated list, each mode at most once, and
/// with every mode's baseline (`baseline` for `traced`, `traced-grpc` and
/// `local`; `pair-baseline` for `pair-traced`), since ratios are taken
/// against it.
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
    pub(crate) connections: u32,
    pub(crate) rounds: u32,
    pub(crate) modes: Vec<Mode>,
    pub(crate) load: LoadTool,
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
}

/// A parsed command line.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Run(RunArgs),
    Serve(ServeArgs),
    Load(LoadArgs),
    /// Internal: run a program, kill it when standard input closes.
    Watch(Vec<String>),
    Help,
}

pub(crate) const USAGE: &str = "\
usage:
  tracetape-bench [run] [--seconds N] [--warmup N] [--connections N] [--rounds N]
                        [--modes MODE,MODE,...] [--load auto|wrk|builtin]
  tracetape-bench serve --mode MODE --port-file PATH
  tracetape-bench load --port PORT [--connections N] [--seconds N]

modes:
  baseline       axum GET /hello, no tracetape
  traced         + TraceLayer and tracetape::init(), spans over OTLP/HTTP to rotel
  traced-grpc    the same over OTLP/gRPC
  local          + TraceLayer and tracetape::init(), spans to the local store
  pair-baseline  a front app whose GET /hello calls a back app's GET /hello
                 with a keep-alive reqwest::Client (both in one process, on
                 the same two workers), no tracetape
  pair-traced    the same pair with TraceLayer on both apps, TracingMiddleware
                 on the client and tracetape::init() as in traced (3 spans
                 per request)
Each traced mode needs its baseline in --modes (pair-traced: pair-baseline),
and its ratio is to that baseline. The load always drives the front app.

run (the default) starts rotel-agent (from $ROTEL_AGENT, else the one
installed with the `rotel` Python package), then for each round and mode
starts `serve` in a child process and loads it with wrk (or the built-in
generator), and prints the median requests/s per mode and the ratios to
the baselines. Defaults: --seconds 10 --warmup 1 --connections 32
--rounds 3 --modes baseline,traced,local --load auto.";

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut args: Vec<String> = args.into_iter().collect();
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
        Some("run") | Some("serve") | Some("load") => args.remove(0),
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
        "load" => {
            flags.only(&["port", "connections", "seconds"])?;
            Command::Load(LoadArgs {
                port: flags.parsed_required("port")?,
                connections: flags.parsed_or("connections", 32)?,
                seconds: flags.parsed_or("seconds", 10)?,
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
                connections: flags.parsed_or("connections", 32)?,
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
            if run.connections == 0 || run.connections > 1024 {
                bail!("--connections must be between 1 and 1024");
            }
            Command::Run(run)
        }
    };
    Ok(command)
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
        assert_eq!(run.connections, 32);
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
    fn watch_takes_the_rest_verbatim() -> anyhow::Result<()> {
        let Command::Watch(rest) = parse_str("watch -- wrk -t1 --latency http://x")? else {
            bail!("expected watch");
        };
        assert_eq!(rest, ["wrk", "-t1", "--latency", "http://x"]);
        assert!(parse_str("watch --").is_err());
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

    // Two runs of one mode in a round would share a port file: the second
    // would read the first's stale port.
    #[test]
    fn rejects_a_mode_listed_twice() {
        assert!(parse_str("--modes baseline,traced,baseline").is_err());
    }

    #[test]
    fn mode_names_round_trip() -> anyhow::Result<()> {
        for mode in Mode::ALL {
            assert_eq!(mode.name().parse::<Mode>()?, mode);
            assert_eq!(mode.is_traced(), mode.spans_per_request() > 0);
            if let Some(baseline) = mode.baseline() {
                assert_eq!(baseline.is_pair(), mode.is_pair(), "{mode}");
            }
        }
        Ok(())
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        assert!(parse_str("--nope 1").is_err());
        assert!(parse_str("--seconds abc").is_err());
        assert!(parse_str("--modes traced").is_err());
        assert!(parse_str("serve --mode fast --port-file p").is_err());
    }
}
