//! `tracetape demo`: the record/replay story, told on the microservices
//! example (checkout calling inventory and pricing) served in this process
//! on free loopback ports, with everything written under one directory:
//!
//! 1. `demo/record.rs`: the three services in record mode are sent a few
//!    orders and stopped; their traces (the list, and one as a tree) and
//!    their recordings (the list) are shown. When the machine has
//!    PostgreSQL installed, checkout keeps its orders in a server the demo
//!    starts (`demo/postgres.rs`), its connections read by tracetape in
//!    place, and that server is stopped before the replays; without it,
//!    the demo says so and checkout keeps no orders.
//! 2. `demo/replay.rs`: checkout alone in replay mode, inventory's and
//!    pricing's ports held with nothing serving them (and its database's
//!    server stopped), replayed by the `tracetape replay` driver against
//!    the running service: every recording passes.
//! 3. The same with checkout's discount changed on purpose: the deviation
//!    at `$.total_cents` is reported (and the demo still succeeds).
//!
//! Then the commands that do the same for one's own service.

mod args;
mod postgres;
mod record;
mod replay;

use std::future::Future;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::pin::Pin;

use anyhow::{Context as _, anyhow};
use microservices::Service;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracetape::Telemetry;
use tracetape::record::CONFIG_FILE;
use tracetape::setup::{MetricsExporter, TelemetryBuilder};

use crate::exit::Failure;
use crate::replay::Style;
pub(crate) use args::DemoArgs;

/// The `tracetape.toml` the demo writes: naming it keeps any other one
/// (in the directory the demo runs in) from changing what the demo does.
const CONFIG: &str = "\
# Written by `tracetape demo`. Its services read this file (TRACETAPE_CONFIG)
# and so do its replays (--config), so that no other tracetape.toml applies.
# The mode and the recordings directory are set by variables for each run:
# TRACETAPE_MODE=record or replay, TRACETAPE_RECORD_DIR=recordings/ here.
";

/// `tracetape demo`; `style` colours the replay reports.
pub(crate) async fn run(args: DemoArgs, style: Style) -> Result<(), Failure> {
    let paths = Paths::prepare(&args)?;
    let mut out = io::stdout();
    writeln!(
        out,
        "tracetape demo: three services recorded, then one of them replayed without the other \
         two.\nEverything it writes is in {}\n",
        paths.root.display()
    )?;

    writeln!(
        out,
        "1. Record: checkout, inventory and pricing with TRACETAPE_MODE=record\n"
    )?;
    let recorded = record::record(&paths, &mut out)
        .await
        .map_err(Failure::Failed)?;
    let shown = record::show(&paths, &recorded, &mut out)?;

    writeln!(
        out,
        "\n2. Replay: checkout alone with TRACETAPE_MODE=replay; inventory and pricing are not \
         running\n"
    )?;
    replay::unchanged(&paths, &recorded, style, &mut out).await?;

    writeln!(
        out,
        "\n3. Replay a changed checkout: 10% off every total (Behaviour {{ discount_percent: 10, \
         .. }}; CHECKOUT_DISCOUNT_PERCENT=10 for `cargo run -p tracetape-microservices`)\n"
    )?;
    replay::discounted(&paths, &recorded, style, &mut out).await?;

    next(&paths, shown.as_deref(), &mut out)?;
    Ok(())
}

/// Where the demo writes.
#[derive(Debug)]
struct Paths {
    /// The demo's directory.
    root: PathBuf,
    /// `recordings/` in it, `TRACETAPE_RECORD_DIR` of the services.
    recordings: PathBuf,
    /// The trace store: `traces/` in it, or `--store`.
    traces: PathBuf,
    /// `tracetape.toml` in it: `TRACETAPE_CONFIG` of the services, and
    /// `--config` of the replays.
    config: PathBuf,
}

impl Paths {
    /// The directory `--dir` names, which must be new or empty (the
    /// replays replay every recording in it), else a new temporary one
    /// that is kept; with the demo's `tracetape.toml` written in it.
    fn prepare(args: &DemoArgs) -> Result<Self, Failure> {
        let root = match &args.dir {
            Some(dir) => {
                let dir = std::path::absolute(dir)
                    .and_then(|dir| std::fs::create_dir_all(&dir).map(|()| dir))
                    .with_context(|| format!("failed to create {}", dir.display()))
                    .map_err(Failure::Failed)?;
                let mut entries = std::fs::read_dir(&dir)
                    .with_context(|| format!("failed to read {}", dir.display()))
                    .map_err(Failure::Failed)?;
                if entries.next().is_some() {
                    return Err(Failure::Usage(anyhow!(
                        "{} is not empty: the demo replays every recording in its directory, \
                         so give --dir a new or empty one (or leave --dir out for a temporary \
                         one)",
                        dir.display()
                    )));
                }
                dir
            }
            None => tempfile::Builder::new()
                .prefix("tracetape-demo-")
                .tempdir()
                .context("failed to create a temporary directory for the demo")
                .map_err(Failure::Failed)?
                .keep(),
        };
        if root.to_str().is_none() {
            // Its paths are handed to the services as variables' values.
            return Err(Failure::Usage(anyhow!(
                "the demo's directory {} is not UTF-8",
                root.display()
            )));
        }
        let config = root.join(CONFIG_FILE);
        std::fs::write(&config, CONFIG)
            .with_context(|| format!("failed to write {}", config.display()))
            .map_err(Failure::Failed)?;
        Ok(Self {
            recordings: root.join("recordings"),
            traces: args.store.clone().unwrap_or_else(|| root.join("traces")),
            config,
            root,
        })
    }

    /// The telemetry of `service` run by the demo in `mode` (`record`,
    /// `replay`): the variables a service would be started with, given
    /// through an env lookup so that nothing of this process's environment
    /// applies; metrics go nowhere.
    fn telemetry(&self, service: Service, mode: &'static str) -> TelemetryBuilder {
        // Both under `root`, which is UTF-8: nothing is lost.
        let vars = [
            ("TRACETAPE_MODE", mode.to_owned()),
            (
                "TRACETAPE_RECORD_DIR",
                self.recordings.to_string_lossy().into_owned(),
            ),
            (
                "TRACETAPE_CONFIG",
                self.config.to_string_lossy().into_owned(),
            ),
        ];
        Telemetry::builder()
            .with_service_name(service.name())
            .with_metrics_exporter(MetricsExporter::None)
            .with_env_lookup(move |name| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| value.clone())
            })
    }
}

/// A server running on a task of its own until stopped.
struct Background {
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

/// What a [`Background`] server is given to learn that it must stop.
type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Background {
    /// Runs the server `serve` returns, handing it the signal to stop.
    fn spawn<F>(serve: impl FnOnce(StopSignal) -> F) -> Self
    where
        F: Future<Output = io::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(Box::pin(async {
            // A dropped sender means stop too.
            let _ = stopped.await;
        })));
        Self { stop, task }
    }

    /// Stops the server and waits for the requests in progress.
    async fn stop(self, what: &str) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task
            .await
            .with_context(|| format!("{what} stopped abnormally"))?
            .with_context(|| format!("{what} failed"))
    }
}

/// What to run on one's own service, and where the demo's files are.
fn next(paths: &Paths, shown: Option<&str>, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(out, "\nWhat next, on your own service:\n")?;
    let steps = [
        (
            "TRACETAPE_MODE=record <start it>",
            "record its requests and outbound calls into .tracetape/recordings",
        ),
        ("tracetape list", "list the recordings, newest first"),
        (
            "tracetape show <id>",
            "one recorded trace: requests, responses and calls, with bodies",
        ),
        (
            "tracetape replay --command '<start it>' --port <port>",
            "replay them against a new build: exit status 0 when all pass, 1 on a deviation",
        ),
    ];
    for (command, what) in steps {
        writeln!(out, "  {command:<54} {what}")?;
    }
    writeln!(
        out,
        "\nInstrument it first: `tracetape::init()` at start, \
         `.layer(tracetape::server::TraceLayer::new())` on its router and \
         `.with(tracetape::client::TracingMiddleware::new())` on its reqwest client."
    )?;
    let recordings = paths.recordings.display();
    writeln!(
        out,
        "\nThe demo's files stay in {}: `tracetape list --recordings {recordings}`, \
         `tracetape show {} --recordings {recordings}`, `tracetape list --traces --store {}`.",
        paths.root.display(),
        shown.unwrap_or("<id>"),
        paths.traces.display()
    )
}
