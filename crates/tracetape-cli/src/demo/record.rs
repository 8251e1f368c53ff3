//! The record half of the demo: the three services in record mode, a few
//! orders sent to checkout, the services stopped and their spans and
//! recordings written; then what they left: the traces (the list, and one
//! across the three services as a tree) and the recordings.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use microservices::{Behaviour, Instrumentation, Order, Orders, PerService, Service, Upstreams};
use tokio::net::TcpListener;
use tracetape::TelemetryGuard;
use tracetape::record::RecordingStore;
use tracetape::setup::TracesExporter;
use tracetape::store::LocalStore;

use super::postgres::Postgres;
use super::{Background, Paths};
use crate::exit::Failure;
use crate::{list, show, span_store};

/// An order the demo places, and what it shows.
struct DemoOrder {
    id: &'static str,
    items: &'static [(&'static str, u32)],
    /// The status checkout answers with.
    status: u16,
    why: &'static str,
}

const ORDERS: [DemoOrder; 3] = [
    DemoOrder {
        id: "demo-1",
        items: &[("tea", 2), ("cake", 1)],
        status: 200,
        why: "stock and price in parallel, the reservation retried",
    },
    DemoOrder {
        id: "demo-2",
        items: &[("coffee", 1)],
        status: 200,
        why: "one item",
    },
    DemoOrder {
        id: "demo-3",
        items: &[("tea", 500)],
        status: 409,
        why: "more than in stock: refused before reserving",
    },
];

/// The baggage every order carries; each service records it as `app.tenant`.
const BAGGAGE: &str = "tenant=acme";

/// What the recorded run leaves for the replays.
pub(super) struct Recorded {
    /// When the orders started: the traces from then on are the demo's.
    started: u64,
    /// Where checkout called inventory and pricing.
    pub(super) upstreams: Upstreams,
    /// Where checkout kept its orders, when the machine has PostgreSQL:
    /// the replays name the same database, whose server is stopped.
    pub(super) database_url: Option<String>,
    /// Inventory's and pricing's listening sockets, held after the
    /// services stopped: their ports stay bound, with nothing serving
    /// them.
    held: [std::net::TcpListener; 2],
}

impl Recorded {
    /// How many connections were made to inventory's and pricing's ports
    /// since the services stopped, or since the last call: those waiting
    /// to be accepted, accepted here and closed.
    pub(super) fn connections(&self) -> io::Result<usize> {
        let mut count = 0;
        for port in &self.held {
            port.set_nonblocking(true)?;
            loop {
                match port.accept() {
                    Ok(_) => count += 1,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(count)
    }
}

/// Serves the three services in record mode, each with telemetry of its
/// own (spans into the demo's trace store, recordings into its
/// recordings directory), sends checkout the orders, stops the services
/// and writes what they recorded.
pub(super) async fn record(paths: &Paths, out: &mut dyn Write) -> anyhow::Result<Recorded> {
    let store = LocalStore::new(&paths.traces);
    let started = unix_nanos();
    // Built, not installed: each service gets its own `service.name` and
    // its own recorder, as `cargo run -p tracetape-microservices` sets them up.
    let guards: PerService<TelemetryGuard> = PerService::from_fn(|service| {
        paths
            .telemetry(service, "record")
            .with_traces_exporter(TracesExporter::Local)
            .with_local_store(store.clone())
            .build()
    });
    for service in Service::ALL {
        if guards.get(service).recorder().is_none() {
            bail!("{service} is not recording (TRACETAPE_MODE=record): see the warning above");
        }
    }
    let instrumentation =
        PerService::from_fn(|service| Instrumentation::from_guard(guards.get(service)));
    let database = Postgres::start().context("failed to start the demo's PostgreSQL server")?;
    let orders = match &database {
        Some(database) => {
            writeln!(
                out,
                "Checkout keeps its orders in PostgreSQL: a server started for the demo from {}, \
                 its connections read by tracetape in place (tracetape::postgres::Connector)",
                database.bin.display()
            )?;
            let orders = Orders::connect(&database.url(), &instrumentation.checkout)
                .await
                .context("failed to connect checkout to the demo's database")?;
            Some((orders, database.url()))
        }
        None => {
            writeln!(
                out,
                "PostgreSQL is not installed (no initdb and postgres found): checkout keeps no \
                 orders in this demo"
            )?;
            None
        }
    };

    let listeners = microservices::bind_all(PerService::default())
        .await
        .context("failed to bind loopback ports for the example services")?;
    for service in Service::ALL {
        let addr = listeners.get(service).local_addr()?;
        writeln!(out, "Serving {service:<9} on http://{addr}")?;
    }
    writeln!(out)?;
    let checkout = listeners.checkout.local_addr()?;
    let (inventory, held_inventory) = hold(listeners.inventory)?;
    let (pricing, held_pricing) = hold(listeners.pricing)?;
    let upstreams = Upstreams::listening_at(inventory.local_addr()?, pricing.local_addr()?)?;
    let listeners = PerService {
        checkout: listeners.checkout,
        inventory,
        pricing,
    };
    let (orders, database_url) = orders.unzip();
    let services = Background::spawn(move |stop| async move {
        let behaviour = Behaviour::default();
        microservices::serve_all_with_orders(listeners, &instrumentation, behaviour, orders, stop)
            .await
    });
    place_orders(checkout, out).await?;
    services.stop("the example services").await?;
    if let Some(database) = database {
        database.stop();
        writeln!(
            out,
            "\nStopped the demo's PostgreSQL server: the replays run without it."
        )?;
    }

    for service in Service::ALL {
        let guard = guards.get(service);
        guard
            .force_flush()
            .with_context(|| format!("failed to write the spans and recordings of {service}"))?;
        if let Some(recorder) = guard.recorder()
            && recorder.dropped() + recorder.failed() > 0
        {
            bail!(
                "{service} recorded requests it could not write: {} dropped, {} failed",
                recorder.dropped(),
                recorder.failed()
            );
        }
    }
    drop(guards);
    writeln!(
        out,
        "\nStopped the three services; their spans and recordings are written."
    )?;
    let recorded = Recorded {
        started,
        upstreams,
        database_url,
        held: [held_inventory, held_pricing],
    };
    // Checkout's client may have raced a fresh connection against a pooled
    // one while recording (hyper's pool does), left waiting in a stopped
    // service's accept queue: it belongs to the recording, not the replays.
    recorded.connections()?;
    Ok(recorded)
}

/// Serves `listener` through a second handle on its socket, and returns
/// that handle too: holding it keeps the port bound after the service has
/// stopped, with nothing serving it.
fn hold(listener: TcpListener) -> io::Result<(TcpListener, std::net::TcpListener)> {
    let held = listener.into_std()?;
    let served = TcpListener::from_std(held.try_clone()?)?;
    Ok((served, held))
}

/// Sends each of [`ORDERS`] to checkout, one after the other, and says
/// what became of it.
async fn place_orders(checkout: SocketAddr, out: &mut dyn Write) -> anyhow::Result<()> {
    // Loopback only, whatever proxy the environment names.
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("failed to build the HTTP client")?;
    for DemoOrder {
        id: order_id,
        items,
        status: expected,
        why,
    } in ORDERS
    {
        let order = Order::of(order_id, items);
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
        if status.as_u16() != expected {
            bail!(
                "checkout answered order {order_id} with {status}, not {expected}: {}",
                body["error"].as_str().unwrap_or("no error message")
            );
        }
    }
    Ok(())
}

/// Shows what the recorded run left: the traces, the one that crossed
/// all three services as a tree, and the recordings. Returns the first
/// digits of the trace shown as a tree.
pub(super) fn show(
    paths: &Paths,
    recorded: &Recorded,
    out: &mut dyn Write,
) -> Result<Option<String>, Failure> {
    let store = LocalStore::new(&paths.traces);
    let mut notes = io::stderr();
    let traces = span_store::traces(&store)
        .context("failed to read the trace store")
        .map_err(Failure::Failed)?;
    let new = traces
        .traces
        .iter()
        .filter(|t| t.start_unix_nanos >= recorded.started)
        .count();
    writeln!(out, "\nTraces stored in {}:\n", store.dir().display())?;
    list::traces::render(&traces, store.dir(), new, out, &mut notes)?;
    let mut shown = None;
    if let Some(order) = traces
        .traces
        .iter()
        .take(new)
        .filter(|t| t.root_name == "POST /checkout")
        // The two-item order, which called every service.
        .max_by_key(|t| t.span_count)
    {
        let prefix = &order.trace_id[..8];
        writeln!(
            out,
            "\nOne of them as a tree, across the three services (tracetape show {prefix} \
             --traces --store {}):\n",
            store.dir().display()
        )?;
        let trace = span_store::trace(&store, &order.trace_id)
            .map_err(|err| Failure::Failed(err.into()))?;
        show::trace::render(&trace, out, &mut notes)?;
        shown = Some(prefix.to_owned());
    }

    let recordings = paths.recordings.display();
    writeln!(
        out,
        "\nRecorded in {recordings}, one file per request each service served \
         (tracetape list --recordings {recordings}):\n"
    )?;
    list::recordings::render(&RecordingStore::new(&paths.recordings), 0, out, &mut notes)?;
    Ok(shown)
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
