//! [`Orders`]: where checkout keeps the orders it has priced, in
//! PostgreSQL, through a deadpool-postgres pool whose connections
//! tracetape makes and reads in place, with tracetape's hooks. Optional:
//! checkout keeps nothing without it.

use deadpool_postgres::{Manager, ManagerConfig, Pool};

use crate::Instrumentation;

/// Checkout's order table, in a PostgreSQL database.
#[derive(Clone)]
pub struct Orders {
    pool: Pool,
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders").finish_non_exhaustive()
    }
}

/// The orders database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// The URL is not one tokio-postgres reads, or a query failed.
    #[error("the orders database failed")]
    Postgres(#[from] tokio_postgres::Error),
    /// The pool could not be built.
    #[error("the orders database pool cannot be built")]
    Build(#[from] deadpool_postgres::BuildError),
    /// No connection could be had.
    #[error("the orders database cannot be reached")]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl Orders {
    /// Connects to the database `database_url` names, with
    /// `instrumentation`'s providers (and recorder or recordings), and
    /// makes the table if it is missing.
    pub async fn connect(
        database_url: &str,
        instrumentation: &Instrumentation,
    ) -> Result<Self, OrdersError> {
        let connector = instrumentation.postgres_connector();
        let manager =
            Manager::from_connect(database_url.parse()?, connector, ManagerConfig::default());
        let pool =
            tracetape::postgres::deadpool_traced(Pool::builder(manager).max_size(4)).build()?;
        let client = pool.get().await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS orders \
                 (order_id text PRIMARY KEY, total_cents int8 NOT NULL, tenant text)",
            )
            .await?;
        Ok(Self { pool })
    }

    /// Keeps an order's total (again, for an order id seen before).
    pub(crate) async fn save(
        &self,
        order_id: &str,
        total_cents: u64,
        tenant: Option<&str>,
    ) -> Result<(), OrdersError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO orders (order_id, total_cents, tenant) VALUES ($1, $2, $3) \
                 ON CONFLICT (order_id) DO UPDATE SET total_cents = EXCLUDED.total_cents",
            )
            .await?;
        let total = i64::try_from(total_cents).unwrap_or(i64::MAX);
        client
            .execute(&statement, &[&order_id, &total, &tenant])
            .await?;
        Ok(())
    }
}
