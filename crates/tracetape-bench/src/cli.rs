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
}

impl Mode {
    /// Whether spans go to the collector.
    pub(crate) fn exports(self) -> bool {
        matches!(self, Mode::Traced | Mode::TracedGrpc)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Baseline => "baseline",
            Mode::Traced => "traced",
            Mode::TracedGrpc => "traced-grpc",
            Mode::Local => "local",
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
        match s {
            "baseline" => Ok(Mode::Baseline),
            "traced" => Ok(Mode::Traced),
            "traced-grpc" => Ok(Mode::TracedGrpc),
            "local" => Ok(Mode::Local),
            other => {
                bail!("unknown mode {other:?} (expected baseline, traced, traced-grpc or local)")
            }
        }
    }
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
                        [--modes baseline,traced,local] [--load auto|wrk|builtin]
  tracetape-bench serve --mode baseline|traced|local --port-file PATH
  tracetape-bench load --port PORT [--connections N] [--seconds N]

run (the default) starts rotel-agent (from $ROTEL_AGENT, else the one
installed with the `rotel` Python package), then for each round and mode
starts `serve` in a child process and loads it with wrk (or the built-in
generator), and prints the median requests/s per mode and the ratios to
the baseline. Defaults: --seconds 10 --warmup 1 --connections 32
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
                Some(list) => list
                    .split(',')
                    .map(|m| m.trim().parse())
                    .collect::<anyhow::Result<Vec<Mode>>>()?,
                None => vec![Mode::Baseline, Mode::Traced, Mode::Local],
            };
            if !modes.contains(&Mode::Baseline) {
                bail!("--modes must include baseline: the ratios are against it");
            }
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
    fn rejects_unknown_and_bad_values() {
        assert!(parse_str("--nope 1").is_err());
        assert!(parse_str("--seconds abc").is_err());
        assert!(parse_str("--modes traced").is_err());
        assert!(parse_str("serve --mode fast --port-file p").is_err());
    }
}
