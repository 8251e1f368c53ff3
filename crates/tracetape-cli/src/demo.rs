//! `tracetape demo`: serve the microservices example (checkout calling
//! inventory and pricing) in-process on free loopback ports, send it a few
//! orders, and show the traces they left in the local store.

use std::io::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use microservices::{Instrumentation, Item, Order, PerService, Service};
use tracetape::Telemetry;
use tracetape::setup::{MetricsExporter, TracesExporter};

use crate::cli::DemoArgs;
use crate::{list, show};

/// An order the demo places, and what it shows.
struct DemoOrder {
    id: &'static str,
    items: &'static [(&'static str, u32)],
    why: &'static str,
}

const ORDERS: [DemoOrder; 3] = [
    DemoOrder {
        id: "demo-1",
        items: &[("tea", 2), ("cake", 1)],
        why: "stock and price in parallel, the reservation retried",
    },
    DemoOrder {
        id: "demo-2",
        items: &[("coffee", 1)],
        why: "one item",
    },
    DemoOrder {
        id: "demo-3",
        items: &[("tea", 500)],
        why: "more than in stock: refused before reserving",
    },
];

/// The baggage every order carries; each service records it as `app.tenant`.
const BAGGAGE: &str = "tenant=acme";

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let store = args.store.open();
    let started = unix_nanos();
    // One set of providers per service, so each span names its service;
    // built, not installed globally, and all writing to the demo's store.
    let telemetry = PerService::from_fn(|service| {
        Telemetry::builder()
            .with_service_name(service.name())
            .with_traces_exporter(TracesExporter::Local)
            .with_metrics_exporter(MetricsExporter::None)
            .with_local_store(store.clone())
            .build()
    });
    let instrumentation =
        PerService::from_fn(|service| Instrumentation::from_guard(telemetry.get(service)));

    let listeners = microservices::bind_all(PerService::default())
        .await
        .context("failed to bind loopback ports for the example services")?;
    let mut out = io::stdout().lock();
    for service in Service::ALL {
        let addr = listeners.get(service).local_addr()?;
        writeln!(out, "Serving {service:<9} on http://{addr}")?;
    }
    writeln!(out)?;
    let checkout = listeners.checkout.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        microservices::serve_all(listeners, &instrumentation, async {
            let _ = stopped.await;
        })
        .await
    });

    let client = reqwest::Client::new();
    for DemoOrder {
        id: order_id,
        items,
        why,
    } in ORDERS
    {
        let order = Order {
            order_id: order_id.to_owned(),
            items: items
                .iter()
                .map(|&(sku, qty)| Item {
                    sku: sku.to_owned(),
                    qty,
                })
                .collect(),
        };
        let response = client
            .post(format!("http://{checkout}/checkout"))
            .header("baggage", BAGGAGE)
            .json(&order)
            .send()
            .await
            .with_context(|| format!("failed to send order {order_id} to checkout"))?;
        let status = response.status();
        // Reading the body to its end is what ends the SERVER span.
        let body: serde_json::Value = response
            .json()
            .await
            .with_context(|| format!("failed to read checkout's answer to order {order_id}"))?;
        let outcome = match body["total_cents"].as_u64() {
            Some(cents) => format!("total {}.{:02}", cents / 100, cents % 100),
            None => String::from("refused"),
        };
        writeln!(
            out,
            "  POST /checkout {order_id}  -> {:<4} {outcome:<12} {why}",
            status.as_u16()
        )?;
    }
    let _ = stop.send(());
    server
        .await
        .context("the example services stopped abnormally")?
        .context("the example services failed")?;
    for service in Service::ALL {
        telemetry.get(service).force_flush().with_context(|| {
            format!("failed to write the spans of {service} to the local store")
        })?;
    }
    drop(telemetry);

    let traces = store.traces().context("failed to read the local store")?;
    let new = traces
        .traces
        .iter()
        .filter(|t| t.start_unix_nanos >= started)
        .count();
    writeln!(out, "\nTraces stored in {}:\n", store.dir().display())?;
    let mut notes = io::stderr().lock();
    list::traces::render(&traces, store.dir(), new, &mut out, &mut notes)?;
    if let Some(order) = traces
        .traces
        .iter()
        .take(new)
        .filter(|t| t.root_name == "POST /checkout")
        // The two-item order, which called every service.
        .max_by_key(|t| t.span_count)
    {
        writeln!(
            out,
            "\nOne of them as a tree, across the three services (tracetape show {}):\n",
            &order.trace_id[..8]
        )?;
        let trace = store.trace(&order.trace_id)?;
        show::trace::render(&trace, &mut out, &mut notes)?;
    }
    writeln!(
        out,
        "\nNext: `tracetape list --traces` and `tracetape show <id>` read the same store; trace your \
         own services with `.layer(tracetape::server::TraceLayer::new())` and \
         `.with(tracetape::client::TracingMiddleware::new())`."
    )?;
    Ok(())
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
