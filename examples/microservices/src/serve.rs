//! Serving the routers: one service on a listener, or all three in one
//! process.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{
    Behaviour, Instrumentation, Orders, Upstreams, checkout_with_orders, inventory, pricing,
};

/// One of the three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Takes orders; calls the other two.
    Checkout,
    /// Stock and reservations.
    Inventory,
    /// Quotes.
    Pricing,
}

impl Service {
    /// The three, in the order they are listed everywhere.
    pub const ALL: [Service; 3] = [Service::Checkout, Service::Inventory, Service::Pricing];

    /// Its name, which is also its `service.name` in `tracetape demo`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Checkout => "checkout",
            Service::Inventory => "inventory",
            Service::Pricing => "pricing",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// One value for each of the three services: ports, listeners,
/// instrumentations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerService<T> {
    /// The checkout service's.
    pub checkout: T,
    /// The inventory service's.
    pub inventory: T,
    /// The pricing service's.
    pub pricing: T,
}

impl<T> PerService<T> {
    /// Builds each value from its service.
    pub fn from_fn(mut f: impl FnMut(Service) -> T) -> Self {
        PerService {
            checkout: f(Service::Checkout),
            inventory: f(Service::Inventory),
            pricing: f(Service::Pricing),
        }
    }

    /// The value of `service`.
    pub fn get(&self, service: Service) -> &T {
        match service {
            Service::Checkout => &self.checkout,
            Service::Inventory => &self.inventory,
            Service::Pricing => &self.pricing,
        }
    }
}

/// Binds a listener for each service on 127.0.0.1 at the given ports (0
/// picks a free one).
pub async fn bind_all(ports: PerService<u16>) -> io::Result<PerService<TcpListener>> {
    Ok(PerService {
        checkout: bind(ports.checkout).await?,
        inventory: bind(ports.inventory).await?,
        pricing: bind(ports.pricing).await?,
    })
}

async fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves `app` on `listener`, with the peer address available to the
/// server layer, until `shutdown` resolves; then waits for the requests in
/// progress.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves the three services on their listeners, checkout calling the
/// other two at their listeners' addresses, until `shutdown` resolves.
/// Fails as soon as one of the servers does.
pub async fn serve_all(
    listeners: PerService<TcpListener>,
    instrumentation: &PerService<Instrumentation>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_all_with(listeners, instrumentation, Behaviour::default(), shutdown).await
}

/// [`serve_all`], with checkout's `behaviour` changed on purpose.
pub async fn serve_all_with(
    listeners: PerService<TcpListener>,
    instrumentation: &PerService<Instrumentation>,
    behaviour: Behaviour,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_all_with_orders(listeners, instrumentation, behaviour, None, shutdown).await
}

/// [`serve_all_with`], checkout keeping its orders in `orders` when given
/// ([`checkout_with_orders`]).
pub async fn serve_all_with_orders(
    listeners: PerService<TcpListener>,
    instrumentation: &PerService<Instrumentation>,
    behaviour: Behaviour,
    orders: Option<Orders>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let upstreams = Upstreams::listening_at(
        listeners.inventory.local_addr()?,
        listeners.pricing.local_addr()?,
    )?;
    let (stop, stopped) = watch::channel(false);
    let signal = |mut stopped: watch::Receiver<bool>| async move {
        // An error means the sender is gone, which also means stop.
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    tokio::try_join!(
        serve(
            listeners.checkout,
            checkout_with_orders(upstreams, behaviour, orders, &instrumentation.checkout),
            signal(stopped.clone()),
        ),
        serve(
            listeners.inventory,
            inventory(&instrumentation.inventory),
            signal(stopped.clone()),
        ),
        serve(
            listeners.pricing,
            pricing(&instrumentation.pricing),
            signal(stopped),
        ),
        async move {
            shutdown.await;
            let _ = stop.send(true);
            Ok(())
        },
    )?;
    Ok(())
}
