//! Pools of one connection to a test server, each way in, with
//! tracetape's hooks: what the record and replay tests run their services
//! on.

use sqlx::postgres::{PgPool, PgPoolOptions};
use tracetape::postgres::Connector;

/// A sqlx pool through a proxy `connector` starts for `url`.
pub(crate) async fn sqlx(connector: Connector, url: &str) -> PgPool {
    let proxied = connector.proxy(url).await.expect("the proxy starts");
    let options = PgPoolOptions::new().max_connections(1);
    tracetape::postgres::sqlx_traced(options)
        .connect(&proxied)
        .await
        .expect("a pool through the proxy")
}

/// A deadpool-postgres pool whose connections `connector` makes to `url`
/// and reads in place.
pub(crate) fn deadpool(connector: Connector, url: &str) -> deadpool_postgres::Pool {
    use deadpool_postgres::{Manager, ManagerConfig};

    let config = url.parse().expect("a tokio-postgres URL");
    let manager = Manager::from_connect(config, connector, ManagerConfig::default());
    let builder = deadpool_postgres::Pool::builder(manager).max_size(1);
    tracetape::postgres::deadpool_traced(builder)
        .build()
        .expect("a deadpool pool")
}
