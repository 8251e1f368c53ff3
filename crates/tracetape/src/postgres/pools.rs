//! Check-out hooks for the pools of the two drivers, each sending the
//! [`marker`] of the task that takes a connection (cargo features `sqlx`,
//! `tokio-postgres` and `deadpool-postgres`).

/// Adds tracetape's hooks to a sqlx pool's options: each connection,
/// when it is made and when it is taken again from the pool, says which
/// task took it, so its queries are children of that task's span.
///
/// The hooks take sqlx's `after_connect` and `before_acquire`; a pool
/// with hooks of its own calls [`sqlx_mark`] in them instead. When the
/// options test connections before handing them out (sqlx's default,
/// `test_before_acquire`), the marker is a [`ping_marker`](super::ping_marker)
/// that the server answers and sqlx's own test is turned off: one round
/// trip per check-out, as before.
///
/// ```no_run
/// # async fn run(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx::postgres::PgPoolOptions;
///
/// let url = tracetape::postgres::proxy(database_url).await?;
/// let pool = tracetape::postgres::sqlx_traced(PgPoolOptions::new()).connect(&url).await?;
/// # let _ = pool;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub fn sqlx_traced(options: sqlx::postgres::PgPoolOptions) -> sqlx::postgres::PgPoolOptions {
    let ping = options.get_test_before_acquire();
    options
        .test_before_acquire(false)
        .after_connect(|conn, _| Box::pin(sqlx_mark(conn)))
        .before_acquire(move |conn, _| {
            Box::pin(async move {
                let marker = if ping {
                    super::ping_marker()
                } else {
                    super::marker()
                };
                sqlx_send(conn, marker).await.map(|()| true)
            })
        })
}

/// Sends the current task's marker on a sqlx connection: what
/// [`sqlx_traced`]'s hooks do, for a pool with hooks of its own.
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub async fn sqlx_mark(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx_send(conn, super::marker()).await
}

/// Sends `marker` as a simple query.
#[cfg(feature = "sqlx")]
async fn sqlx_send(conn: &mut sqlx::PgConnection, marker: String) -> Result<(), sqlx::Error> {
    use sqlx::Executor;

    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(marker)))
        .await
        .map(drop)
}

/// Sends the current task's marker on a tokio-postgres client: its
/// queries from now on are children of the span current here. For a
/// connection made inside a request, call it once after connecting.
///
/// The marker is sent and not waited for: the queries that follow go
/// out right behind it, and its answer (tracetape's own) is dropped, so
/// marking costs no round trip. The error is tokio-postgres's when the
/// connection is closed.
///
/// ```no_run
/// # async fn run(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let url = tracetape::postgres::proxy(database_url).await?;
/// let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
/// tokio::spawn(connection);
/// tracetape::postgres::tokio_postgres_mark(&client).await?;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "tokio-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-postgres")))]
pub async fn tokio_postgres_mark(
    client: &tokio_postgres::Client,
) -> Result<(), tokio_postgres::Error> {
    // The raw form returns once the query is queued on the connection;
    // dropping its stream of answers leaves the connection to skip them.
    client.simple_query_raw(&super::marker()).await.map(drop)
}

/// Adds tracetape's hooks to a deadpool-postgres pool: each connection,
/// when it is made and each time it is recycled for a task, says which
/// task took it (deadpool runs both in the task that asked for it).
///
/// ```no_run
/// # async fn run(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
/// use deadpool_postgres::{Manager, Pool};
///
/// let url = tracetape::postgres::proxy(database_url).await?;
/// let manager = Manager::new(url.parse()?, tokio_postgres::NoTls);
/// let pool = tracetape::postgres::deadpool_traced(Pool::builder(manager)).build()?;
/// # let _ = pool;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "deadpool-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool-postgres")))]
pub fn deadpool_traced(builder: deadpool_postgres::PoolBuilder) -> deadpool_postgres::PoolBuilder {
    use deadpool_postgres::{Hook, HookError};

    let hook = || {
        Hook::async_fn(|client, _| {
            Box::pin(async move {
                tokio_postgres_mark(client)
                    .await
                    .map_err(HookError::Backend)
            })
        })
    };
    builder.post_create(hook()).post_recycle(hook())
}
