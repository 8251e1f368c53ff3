//! Runs the checkout, inventory and pricing services: all three in one
//! process (the default), or one of them.
//!
//! Run with: `cargo run -p tracetape-microservices` then
//!
//! ```sh
//! curl -s localhost:8081/checkout -H 'content-type: application/json' \
//!     -H 'baggage: tenant=acme' \
//!     -d '{"order_id": "o-1", "items": [{"sku": "tea", "qty": 2}]}'
//! cargo run -p tracetape-cli -- list
//! ```
//!
//! ```text
//! checkout listening on http://127.0.0.1:8081
//! inventory listening on http://127.0.0.1:8082
//! pricing listening on http://127.0.0.1:8083
//! ```
//!
//! One service per process: `cargo run -p tracetape-microservices -- inventory`,
//! `... -- pricing`, and `... -- checkout` (which finds the others through
//! `--inventory-url` / `INVENTORY_URL` and `--pricing-url` / `PRICING_URL`).
//! Spans go where the `OTEL_*` variables say; with none set, to the local
//! store under `.tracetape/` that `tracetape list` and `tracetape show` read.
//!
//! Checkout can be changed on purpose, to show what replay catches (all
//! off by default; see `microservices::Behaviour`):
//! `CHECKOUT_DISCOUNT_PERCENT=10` (`--discount-percent`) takes 10% off
//! every total; `CHECKOUT_PROMOTIONS=true` (`--promotions`) makes one more
//! call, `GET /promotions` on pricing; `CHECKOUT_SKIP_RESERVATION=true`
//! (`--skip-reservation`) leaves `POST /reserve` out.
//!
//! `... -- checkout --database-url postgres://…` (`CHECKOUT_DATABASE_URL`)
//! keeps each priced order in that PostgreSQL database, its connections
//! read by tracetape in place: its queries are spans of the order's
//! trace, and are recorded and replayed with it.

use clap::builder::BoolishValueParser;
use clap::{Parser, ValueEnum};
use microservices::{Behaviour, Instrumentation, Orders, PerService, Service, Upstreams};
use reqwest::Url;
use tracetape::{Telemetry, TelemetryGuard};

/// Checkout, inventory and pricing, traced with tracetape.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Which service to run; `all` runs the three in this process.
    #[arg(value_enum, default_value_t = Role::All)]
    role: Role,
    /// The checkout service's port.
    #[arg(long, env = "CHECKOUT_PORT", default_value_t = 8081)]
    checkout_port: u16,
    /// The inventory service's port.
    #[arg(long, env = "INVENTORY_PORT", default_value_t = 8082)]
    inventory_port: u16,
    /// The pricing service's port.
    #[arg(long, env = "PRICING_PORT", default_value_t = 8083)]
    pricing_port: u16,
    /// Where checkout finds inventory (ignored with `all`).
    #[arg(long, env = "INVENTORY_URL", default_value = "http://127.0.0.1:8082")]
    inventory_url: Url,
    /// Where checkout finds pricing (ignored with `all`).
    #[arg(long, env = "PRICING_URL", default_value = "http://127.0.0.1:8083")]
    pricing_url: Url,
    /// A change on purpose: percent taken off every checkout total.
    #[arg(
        long,
        env = "CHECKOUT_DISCOUNT_PERCENT",
        default_value_t = 0,
        value_parser = clap::value_parser!(u8).range(0..=100)
    )]
    discount_percent: u8,
    /// A change on purpose: checkout also asks pricing for the running
    /// promotion (`GET /promotions`).
    #[arg(long, env = "CHECKOUT_PROMOTIONS", value_parser = BoolishValueParser::new())]
    promotions: bool,
    /// A change on purpose: checkout does not reserve orders.
    #[arg(long, env = "CHECKOUT_SKIP_RESERVATION", value_parser = BoolishValueParser::new())]
    skip_reservation: bool,
    /// A PostgreSQL database where checkout (run alone) keeps the orders
    /// it priced.
    #[arg(long, env = "CHECKOUT_DATABASE_URL")]
    database_url: Option<String>,
}

impl Args {
    /// Checkout's behaviour, as the switches ask.
    fn behaviour(&self) -> Behaviour {
        Behaviour {
            discount_percent: self.discount_percent,
            promotions: self.promotions,
            skip_reservation: self.skip_reservation,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// The three services, in this process.
    All,
    /// Takes orders; calls inventory and pricing.
    Checkout,
    /// Stock and reservations.
    Inventory,
    /// Quotes.
    Pricing,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let service = match args.role {
        Role::All => return run_all(&args).await,
        Role::Checkout => Service::Checkout,
        Role::Inventory => Service::Inventory,
        Role::Pricing => Service::Pricing,
    };
    let mut telemetry = Telemetry::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        telemetry = telemetry.with_service_name(service.name());
    }
    // Installs the providers and propagator globally, which is where the
    // routers look by default; flushes when it drops at the end of main.
    let _telemetry = telemetry.init();
    let instrumentation = Instrumentation::global();
    let app = match service {
        Service::Checkout => {
            let upstreams = Upstreams {
                inventory: args.inventory_url.clone(),
                pricing: args.pricing_url.clone(),
            };
            let orders = match &args.database_url {
                Some(url) => Some(Orders::connect(url, &instrumentation).await?),
                None => None,
            };
            microservices::checkout_with_orders(
                upstreams,
                args.behaviour(),
                orders,
                &instrumentation,
            )
        }
        Service::Inventory => microservices::inventory(&instrumentation),
        Service::Pricing => microservices::pricing(&instrumentation),
    };
    let port = *ports(&args).get(service);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{service} listening on http://{}", listener.local_addr()?);
    microservices::serve(listener, app, ctrl_c()).await?;
    Ok(())
}

/// The three services in this process, each with its own `service.name`.
async fn run_all(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    // Built, not installed: three sets of providers cannot all be global.
    let guards: PerService<TelemetryGuard> = PerService::from_fn(|service| {
        Telemetry::builder()
            .with_service_name(service.name())
            .build()
    });
    let instrumentation =
        PerService::from_fn(|service| Instrumentation::from_guard(guards.get(service)));
    let listeners = microservices::bind_all(ports(args)).await?;
    for service in Service::ALL {
        let addr = listeners.get(service).local_addr()?;
        println!("{service} listening on http://{addr}");
    }
    microservices::serve_all_with(listeners, &instrumentation, args.behaviour(), ctrl_c()).await?;
    // The guards drop here, flushing each service's spans.
    drop(guards);
    Ok(())
}

fn ports(args: &Args) -> PerService<u16> {
    PerService {
        checkout: args.checkout_port,
        inventory: args.inventory_port,
        pricing: args.pricing_port,
    }
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn arguments_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn all_three_run_by_default() {
        let args = Args::try_parse_from(["microservices"]).map_err(|e| e.to_string());
        assert_eq!(args.map(|a| a.role), Ok(Role::All));
    }

    #[test]
    fn checkout_is_unchanged_unless_a_switch_says_otherwise() {
        let args = Args::try_parse_from(["microservices"]).map_err(|e| e.to_string());
        assert_eq!(args.map(|a| a.behaviour()), Ok(Behaviour::default()));
        let args = Args::try_parse_from([
            "microservices",
            "checkout",
            "--discount-percent",
            "10",
            "--promotions",
            "--skip-reservation",
        ])
        .map_err(|e| e.to_string());
        let expected = Behaviour {
            discount_percent: 10,
            promotions: true,
            skip_reservation: true,
        };
        assert_eq!(args.map(|a| a.behaviour()), Ok(expected));
        let too_much = Args::try_parse_from(["microservices", "--discount-percent", "101"]);
        assert!(too_much.is_err());
    }
}
