//! `tracetape demo`: serve the example service in-process on a free loopback
//! port, send it a few requests, and show the traces they left in the local
//! store.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tracetape::Telemetry;
use tracetape::setup::{MetricsExporter, TracesExporter};

use crate::cli::DemoArgs;
use crate::{list, show};

/// What the demo asks of the service, and why.
const REQUESTS: [(&str, &str); 6] = [
    ("/hello/tracetape", "a route with a parameter"),
    ("/orders/7", "a handler with two spans of its own"),
    (
        "/orders/0",
        "a 404 from the handler: not an error on the server",
    ),
    ("/error", "a 500 with the exception recorded"),
    ("/health", "excluded: no span at all"),
    (
        "/no/such/page",
        "no route: the span is named by the method alone",
    ),
];

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let store = args.store.open();
    let started = unix_nanos();
    let telemetry = Telemetry::builder()
        .with_service_name("axum-service")
        .with_traces_exporter(TracesExporter::Local)
        .with_metrics_exporter(MetricsExporter::None)
        .with_local_store(store.clone())
        .init();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("failed to bind a loopback port for the example service")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let app = axum_service::app().into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let mut out = io::stdout().lock();
    writeln!(out, "Serving the example service on http://{addr}\n")?;
    let client = reqwest::Client::new();
    for (path, why) in REQUESTS {
        let response = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .with_context(|| format!("failed to send GET {path} to the example service"))?;
        let status = response.status();
        // Reading the body to its end is what ends the SERVER span.
        response.bytes().await?;
        writeln!(out, "  GET {path:<18} -> {:<4} {why}", status.as_u16())?;
    }
    let _ = stop.send(());
    server
        .await
        .context("the example service stopped abnormally")?
        .context("the example service failed")?;
    telemetry
        .force_flush()
        .context("failed to write the demo's spans to the local store")?;
    drop(telemetry);

    let traces = store.traces().context("failed to read the local store")?;
    let new = traces
        .traces
        .iter()
        .filter(|t| t.start_unix_nanos >= started)
        .count();
    writeln!(out, "\nTraces stored in {}:\n", store.dir().display())?;
    let mut notes = io::stderr().lock();
    list::render(&traces, store.dir(), new, &mut out, &mut notes)?;
    if let Some(orders) = traces
        .traces
        .iter()
        .take(new)
        // Newest first: the last match is /orders/7, sent before /orders/0.
        .rfind(|t| t.root_name == "GET /orders/{id}" && t.span_count > 1)
    {
        writeln!(
            out,
            "\nOne of them as a tree (tracetape show {}):\n",
            &orders.trace_id[..8]
        )?;
        let trace = store.trace(&orders.trace_id)?;
        show::render(&trace, &mut out, &mut notes)?;
    }
    writeln!(
        out,
        "\nNext: `tracetape list` and `tracetape show <id>` read the same store; \
         instrument your own service with `.layer(tracetape::server::TraceLayer::new())`."
    )?;
    Ok(())
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
