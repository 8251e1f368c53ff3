//! The replay half of the demo: checkout alone in replay mode, calling
//! inventory and pricing where it called them when recorded (their ports
//! held, nothing serving them), replayed by the `tracetape replay` driver
//! as any service already running in replay mode is (`--no-start --url`);
//! its text report, and what the demo makes of it.

use std::io::Write;

use anyhow::{Context as _, anyhow};
use microservices::{Behaviour, Instrumentation, Orders, Service};
use tokio::net::TcpListener;
use tracetape::setup::TracesExporter;
use tracetape_compare::Deviation;

use super::record::Recorded;
use super::{Background, Paths};
use crate::exit::Failure;
use crate::replay::{Format, ReplayArgs, Report, Settings, Style, ran_to_end};

/// Where the discount shows.
const TOTAL: &str = "$.total_cents";

/// Replays checkout as it was recorded: every recording must pass.
pub(super) async fn unchanged(
    paths: &Paths,
    recorded: &Recorded,
    style: Style,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let report = replay_checkout(paths, recorded, Behaviour::default(), style, out).await?;
    let totals = report.summary().totals;
    if totals.total() == 0 || totals.not_passed() > 0 {
        return Err(Failure::Failed(anyhow!(
            "replayed unchanged, checkout should have passed every recording; the report above \
             says what did not"
        )));
    }
    writeln!(
        out,
        "\nAll {} passed: checkout answered each recorded request as it did when recorded, \
         every call it made to inventory and pricing answered from the recordings; no \
         connection reached their ports.",
        totals.passed
    )?;
    if recorded.database_url.is_some() {
        writeln!(
            out,
            "Its queries were answered from the recordings too, with the database's server \
             stopped."
        )?;
    }
    Ok(())
}

/// Replays checkout with 10% off every total: the recordings with a total
/// must deviate there, and only there.
pub(super) async fn discounted(
    paths: &Paths,
    recorded: &Recorded,
    style: Style,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let behaviour = Behaviour {
        discount_percent: 10,
        ..Behaviour::default()
    };
    let report = replay_checkout(paths, recorded, behaviour, style, out).await?;
    let totals = report.summary().totals;
    let at_total = |deviation: &Deviation| deviation.path.as_deref() == Some(TOTAL);
    let deviated_there = report
        .results
        .iter()
        .filter(|result| result.deviations.iter().any(at_total))
        .count();
    let elsewhere = report
        .results
        .iter()
        .flat_map(|result| &result.deviations)
        .any(|deviation| !at_total(deviation));
    // The others (the refused order) pass: nothing is missing or errored.
    if deviated_there == 0
        || deviated_there != totals.deviated
        || elsewhere
        || totals.passed + deviated_there != totals.total()
    {
        return Err(Failure::Failed(anyhow!(
            "with a discount, checkout should have deviated at {TOTAL} and nowhere else; the \
             report above says what it did"
        )));
    }
    write!(
        out,
        "\n{deviated_there} of {} deviated at {TOTAL}: this deviation is expected: the demo \
         changed checkout's discount. On a change nobody meant, this is where `tracetape \
         replay` exits with status 1; the demo goes on.",
        totals.total()
    )?;
    if totals.passed > 0 {
        write!(out, " The refused order has no total, so it still passes.")?;
    }
    writeln!(out)?;
    Ok(())
}

/// Serves checkout with `behaviour` in replay mode, replays its recorded
/// requests to it with the `tracetape replay` driver, prints the driver's
/// text report and stops it. An error when the replay did not run to its
/// end, or when a connection reached inventory's or pricing's port.
async fn replay_checkout(
    paths: &Paths,
    recorded: &Recorded,
    behaviour: Behaviour,
    style: Style,
    out: &mut dyn Write,
) -> Result<Report, Failure> {
    let guard = paths
        .telemetry(Service::Checkout, "replay")
        .with_traces_exporter(TracesExporter::None)
        .build();
    if guard.replayer().is_none() {
        return Err(Failure::Failed(anyhow!(
            "checkout did not load the recordings (TRACETAPE_MODE=replay): see the warning above"
        )));
    }
    let upstreams = recorded.upstreams.clone();
    writeln!(
        out,
        "Serving checkout in replay mode; it calls inventory at {} and pricing at {}, as when \
         recorded: their ports are held, with nothing serving them.",
        upstreams.inventory, upstreams.pricing
    )?;
    let instrumentation = Instrumentation::from_guard(&guard);
    // The database's server is stopped: the proxy answers from the
    // recordings.
    let orders = match &recorded.database_url {
        Some(url) => Some(
            Orders::connect(url, &instrumentation)
                .await
                .context("failed to connect checkout to the (replayed) database")
                .map_err(Failure::Failed)?,
        ),
        None => None,
    };
    let app = microservices::checkout_with_orders(upstreams, behaviour, orders, &instrumentation);
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("failed to bind a loopback port for checkout")
        .map_err(Failure::Failed)?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = Background::spawn(|stop| microservices::serve(listener, app, stop));

    let args = ReplayArgs {
        no_start: true,
        url: Some(url.clone()),
        service: Some(Service::Checkout.name().to_owned()),
        recordings: Some(paths.recordings.clone()),
        config: Some(paths.config.clone()),
        ..ReplayArgs::default()
    };
    writeln!(
        out,
        "$ tracetape replay --no-start --url {url} --service checkout --recordings {} \
         --config {}\n",
        paths.recordings.display(),
        paths.config.display()
    )?;
    let report = match Settings::resolve(&args, None) {
        Ok(settings) => crate::replay::replay(&settings).await,
        Err(err) => Err(Failure::Usage(err)),
    };
    let stopped = server.stop("checkout").await;
    drop(guard);
    let report = report?;
    stopped.map_err(Failure::Failed)?;
    crate::replay::write(&report, Format::Text, style, out)?;
    ran_to_end(&report)?;
    let connections = recorded.connections()?;
    if connections > 0 {
        return Err(Failure::Failed(anyhow!(
            "{connections} connection(s) reached inventory's or pricing's port during the \
             replay: a replayed call should never reach the network"
        )));
    }
    Ok(report)
}
