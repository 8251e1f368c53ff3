//! Three services that call each other, traced end to end by tracetape:
//! `checkout` calls `inventory` and `pricing`.
//!
//! `POST /checkout` takes an order, `{"order_id": "o-1", "items": [{"sku":
//! "tea", "qty": 2}]}`. Inside a span of its own, `reserve-and-price`,
//! checkout asks, for each item and in parallel, inventory for the stock
//! (`GET /stock/{sku}`) and pricing for a quote (`POST /quote`); then it
//! reserves the order (`POST /reserve` on inventory), which answers 503 the
//! first time it sees an order id, so checkout retries it once. It answers
//! with the total.
//!
//! Every service has tracetape's server layer, and checkout's client has
//! the retry middleware above tracetape's client middleware, so one request
//! into checkout makes one trace:
//!
//! ```text
//! POST /checkout             server  [checkout]
//! └─ reserve-and-price       internal
//!    ├─ GET /stock/{sku}     client
//!    │  └─ GET /stock/{sku}  server  [inventory]
//!    ├─ POST /quote          client
//!    │  └─ POST /quote       server  [pricing]
//!    ├─ POST /reserve        client  ERROR (503)
//!    │  └─ POST /reserve     server  [inventory]
//!    └─ POST /reserve        client  http.request.resend_count=1
//!       └─ POST /reserve     server  [inventory]
//! ```
//!
//! Given an [`Orders`] database ([`checkout_with_orders`]; `-- checkout
//! --database-url postgres://…`), checkout also keeps each priced order in
//! PostgreSQL (a deadpool pool whose connections tracetape reads in
//! place, `tracetape::postgres::Connector`): one more CLIENT span under its
//! SERVER span (`INSERT orders`), recorded with the order and answered
//! from the recording in replay, with no database running.
//!
//! The `tenant` baggage entry of the incoming request travels with the
//! calls: each service records it on its SERVER span as `app.tenant`, and
//! inventory and pricing echo it in their answers.
//!
//! # Record, replay, and a change to catch
//!
//! With `TRACETAPE_MODE=record`, each service records what it received
//! and every call it made; with `TRACETAPE_MODE=replay`, checkout can run
//! alone (pointed at the same `INVENTORY_URL` and `PRICING_URL` as when
//! recorded, since calls are matched by URL; in one process,
//! [`Upstreams::listening_at`] the addresses they were served at): each
//! recorded request sent again with the `x-tracetape-replay` header has its
//! calls answered from its recording, and its answer can be compared with
//! the recorded one. [`Instrumentation::from_guard`] hands a guard's
//! recorder or recordings to the service's layers; `tracetape demo` does
//! all of this in one process.
//!
//! To give replay something to catch, [`Behaviour`] changes checkout on
//! purpose; every switch is off by default:
//!
//! | switch | variable | what changes | what replay reports |
//! |---|---|---|---|
//! | [`discount_percent`](Behaviour::discount_percent) | `CHECKOUT_DISCOUNT_PERCENT=10` | `total_cents` is 10% lower | a deviation at `$.total_cents` |
//! | [`promotions`](Behaviour::promotions) | `CHECKOUT_PROMOTIONS=true` | one more call, `GET /promotions` on pricing | that call's mock is missing (and checkout answers 502) |
//! | [`skip_reservation`](Behaviour::skip_reservation) | `CHECKOUT_SKIP_RESERVATION=true` | no `POST /reserve` | the recorded reservation calls are unused |
//!
//! The routers ([`checkout`] or [`checkout_with`], [`inventory`],
//! [`pricing`]) take an [`Instrumentation`]: the global providers by
//! default, or explicit ones (tests use an in-memory exporter; `tracetape
//! demo` gives each service its own `service.name`). [`bind_all`] and
//! [`serve_all`] (or [`serve_all_with`]) run the three in one process.
//!
//! ```no_run
//! use microservices::{Instrumentation, PerService};
//!
//! # async fn run() -> std::io::Result<()> {
//! // Port 0: any free port.
//! let listeners = microservices::bind_all(PerService::default()).await?;
//! println!("checkout on http://{}", listeners.checkout.local_addr()?);
//! // Spans, metrics and propagation from OpenTelemetry's globals.
//! let instrumentation = PerService::<Instrumentation>::default();
//! microservices::serve_all(listeners, &instrumentation, std::future::pending()).await
//! # }
//! ```

mod checkout;
mod instrumentation;
mod inventory;
mod model;
mod orders;
mod pricing;
mod serve;

pub use checkout::{Behaviour, Upstreams, checkout, checkout_with, checkout_with_orders};
pub use instrumentation::Instrumentation;
pub use inventory::{STOCK_PER_SKU, inventory};
pub use model::{Item, Order, Promotion, Quote, Receipt, Reserved, Stock};
pub use orders::{Orders, OrdersError};
pub use pricing::{pricing, unit_price_cents};
pub use serve::{
    PerService, Service, bind_all, serve, serve_all, serve_all_with, serve_all_with_orders,
};

use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};

/// The baggage entry that names the tenant a request is made for.
pub const TENANT_BAGGAGE: &str = "tenant";

/// The instrumentation scope of the spans these services make themselves.
const SCOPE: &str = "microservices";

/// Reads the tenant from the current context's baggage (the server layer
/// extracted it from the request) and records it on the current span, the
/// SERVER span inside a handler, as `app.tenant`.
fn note_tenant() -> Option<String> {
    let cx = Context::current();
    let tenant = cx.baggage().get(TENANT_BAGGAGE)?.as_str().to_owned();
    cx.span()
        .set_attribute(KeyValue::new("app.tenant", tenant.clone()));
    Some(tenant)
}
