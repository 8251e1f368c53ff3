//! PostgreSQL queries as CLIENT spans, recorded and replayed, read out of
//! the wire protocol between the driver and the server.
//!
//! Two ways in, the same reading of the protocol behind both:
//!
//! - **In place**, for tokio-postgres and the pools built on it:
//!   [`connect`] (or [`Connector::connect`]) makes the connection itself
//!   and gives the driver the server's socket with tracetape reading the
//!   bytes as they pass, no hop between; a [`Connector`] is also
//!   deadpool-postgres's way to connect (`Manager::from_connect`). This is
//!   the cheaper way (`tracetape-bench postgres`).
//! - **Through a proxy**, for every driver that speaks the protocol
//!   (sqlx, and what is built on it: sea-orm; bb8; diesel-async):
//!   [`proxy`] starts one on a Unix socket of its own for a database URL
//!   and returns the URL to give the driver instead: the same user,
//!   password, database and options, with the proxy's address. The
//!   driver goes through it without knowing; each query costs a hop.
//!
//! Every message is passed on as it came, and operations are read out
//! of them: each simple query, and each execution of the extended
//! protocol (parse, bind, execute; prepared statements reused across
//! requests; `COPY` as one operation), becomes a CLIENT span that
//! follows the stable database semantic conventions:
//!
//! - named `{db.query.summary}` (`SELECT users`), else the database;
//! - `db.system.name` `postgresql`, `db.namespace` (the database),
//!   `db.operation.name`, `db.collection.name` when the statement plainly
//!   works on one table, `db.query.summary`, `db.operation.batch.size`
//!   for several statements in one query;
//! - `db.query.text` with every string and number replaced by `?`:
//!   neither literals nor parameter values reach a span;
//! - on failure `db.response.status_code` and `error.type`, the SQLSTATE
//!   (`23505`), and an error status with the server's message;
//! - `server.address` and `server.port` of the real server;
//! - and the `db.client.operation.duration` histogram.
//!
//! # Which request a query belongs to
//!
//! A pool's connections outlive requests, so tracetape cannot tell from a
//! connection alone which request is using it. The pool is told to send
//! a [`marker`] each time a task takes a connection: pools run their
//! check-out hooks in the task that takes the connection, so the marker
//! carries that task's context, and the queries that follow on the
//! connection are children of the span current there. tracetape answers
//! the marker itself (a marker that reaches a real server is an empty
//! query). A line per pool makes its connections and adds the hooks:
//!
//! | driver | the lines | cargo feature |
//! |---|---|---|
//! | deadpool-postgres | `Manager::from_connect(config, `[`Connector::new()`]`, manager_config)`, then [`deadpool_traced`]`(Pool::builder(manager))` | `deadpool-postgres` |
//! | tokio-postgres, a connection per request | [`connect`]`(&config).await?` and [`tokio_postgres_mark`]`(&client).await?` after connecting | `tokio-postgres` |
//! | sqlx | [`proxy`]`(url).await?` and [`sqlx_traced`]`(PgPoolOptions::new())` | `sqlx` |
//! | any other pool | [`proxy`]`(url).await?`; its check-out hook sends [`marker`]`()` as a simple query | |
//!
//! Without a marker, a connection's queries are spans of their own traces.
//!
//! ```no_run
//! # #[cfg(feature = "sqlx")]
//! # async fn run(database_url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use sqlx::postgres::PgPoolOptions;
//!
//! let url = tracetape::postgres::proxy(database_url).await?;
//! let pool = tracetape::postgres::sqlx_traced(PgPoolOptions::new()).connect(&url).await?;
//! // In a handler traced by the server layer: a child of its SERVER span.
//! sqlx::query("SELECT 1").execute(&pool).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Record and replay
//!
//! In record mode (`TRACETAPE_MODE=record`), each operation of a recorded
//! request joins that request's recording: its SQL (comments and white
//! space normalised), parameters, columns, rows, command tags and error,
//! as JSON (`docs/recordings.md` has the shape; values of columns that
//! hold secrets are hashed, and `column` redaction rules reach any other,
//! `docs/security.md`). Operations outside any
//! request (start-up, migrations, background jobs) make background
//! recordings.
//!
//! In replay mode (`TRACETAPE_MODE=replay`) no database is reached:
//! tracetape is the server (an in-memory stream stands for an in-place
//! connection's socket). Connecting succeeds (TLS refused, authentication
//! `Ok`), and each operation is answered from the recording of the
//! replayed request that runs it, matched as outbound HTTP calls are (the
//! operation and server, then the SQL and parameters, dynamic values
//! forgiven): a changed query or parameter is a call deviation at
//! `$.sql` or `$.parameters[n]`, a query nothing recorded answers gets an
//! error (SQLSTATE `XX000`) and is reported with the closest recorded
//! ones, a recorded query never run is unused. The recorded rows come
//! back in the formats the driver asks for, a recorded error (a unique
//! violation) as the same error, and transactions keep their status. The
//! connection to the database is not made, so it is not an unpatched
//! dependency.
//!
//! A `SELECT` on the system catalogs (`pg_catalog`, `pg_type`, …) is a
//! driver learning a type it does not know (tokio-postgres and sqlx look
//! a custom type up once per connection, in whichever request meets it
//! first): record and replay take it as the background's, so that where
//! a connection learns a type does not make a request deviate. A
//! service's own queries on the catalogs are taken the same way.
//!
//! The mode is decided per connection: set up telemetry
//! (`tracetape::init`) before the pool connects.
//!
//! # TLS
//!
//! tracetape speaks TLS to the server itself, with the rustls
//! configuration given to [`Connector::with_tls`], when the URL's (or
//! configuration's) `sslmode` asks: always for `require`, `verify-ca` and
//! `verify-full`, when the server takes it for `prefer`. It reads the
//! protocol inside the session; the driver speaks to it in clear (the
//! proxy's own socket, or the in-place stream). Without a configuration
//! a connection that requires TLS is refused ([`ProxyError::TlsRequired`]
//! from the proxy, an `08001` error from the in-place connection) rather
//! than made in clear, and `prefer` connects in clear. A client
//! certificate goes in the rustls configuration.
//!
//! # Not covered
//!
//! - Channel binding (`SCRAM-SHA-256-PLUS`) needs the TLS session at the
//!   driver: the password exchange is `SCRAM-SHA-256`, and a driver told
//!   to require channel binding (`channel_binding=require`) cannot
//!   connect.
//! - One connection shared by concurrent requests (a single
//!   `tokio_postgres::Client` in an `Arc`, used by every handler): its
//!   queries follow the last marker sent on it.
//! - LISTEN/NOTIFY: `LISTEN` is an operation like any other; the
//!   notifications the server sends later belong to no operation and
//!   make no span.
//! - Logical replication (`replication=database` connections) and the
//!   streaming replication protocol pass through unread.
//! - Key-value connection strings (`host=… user=…`) to the proxy: give
//!   the URL form (a tokio-postgres `Config` connected in place may come
//!   from either).
//! - Drivers that do not speak the wire protocol over a socket the proxy
//!   can stand in for (an embedded database, libpq through FFI with a
//!   hard-coded socket).
//! - In replay: `COPY … FROM STDIN` (the data the client sends is not
//!   recorded; `COPY … TO STDOUT` is, and replayed), notifications, and a
//!   column asked for in another format than recorded (a different driver
//!   or driver setting) get an error instead of an answer; a server
//!   version other than `16.0` is not reported to the driver.

// The pools' hooks are each behind a feature of their own; built without
// one (docs.rs builds every feature), its link has nowhere to go.
#![cfg_attr(
    not(all(feature = "sqlx", feature = "deadpool-postgres")),
    allow(rustdoc::broken_intra_doc_links)
)]

mod address;
mod capture;
mod connection;
mod connector;
mod conversation;
mod dial;
mod frames;
mod idle;
mod marker;
mod pools;
mod proxy;
mod reader;
#[cfg(feature = "record-replay")]
mod record;
#[cfg(feature = "record-replay")]
mod replay;
mod span;
mod sql;
#[cfg(feature = "tokio-postgres")]
mod tap;
#[cfg(feature = "tokio-postgres")]
mod tapped;
#[cfg(not(feature = "record-replay"))]
mod unrecorded;
#[cfg(not(feature = "record-replay"))]
use unrecorded as record;
#[cfg(feature = "record-replay")]
mod values;
mod wire;

pub use connector::Connector;
pub use marker::{marker, ping_marker};
#[cfg(feature = "deadpool-postgres")]
pub use pools::deadpool_traced;
#[cfg(feature = "tokio-postgres")]
pub use pools::tokio_postgres_mark;
#[cfg(feature = "sqlx")]
pub use pools::{sqlx_mark, sqlx_traced};
#[cfg(feature = "record-replay")]
pub(crate) use sql::parameter_columns;
#[cfg(feature = "tokio-postgres")]
pub use tapped::{TapConnection, TapStream};

/// A database URL the proxy cannot stand in for, or a proxy that could
/// not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The URL is not a `postgres://` URL tracetape can read.
    #[error("the database URL cannot be read: {reason}")]
    Url {
        /// What is wrong with it.
        reason: String,
    },
    /// The URL requires TLS to the server and the connector was given
    /// no TLS configuration ([`Connector::with_tls`]); such a connection
    /// is never made in clear.
    #[error(
        "the database URL requires TLS (sslmode={sslmode}): give tracetape's Connector a rustls configuration (Connector::with_tls)"
    )]
    TlsRequired {
        /// The URL's `sslmode`.
        sslmode: String,
    },
    /// Neither a Unix socket nor a loopback port could be listened on.
    #[error("tracetape's PostgreSQL proxy could not listen on loopback: {0}")]
    Listen(#[source] std::io::Error),
}

/// Starts a proxy in front of the server `database_url` names, with the
/// global tracer and meter providers: [`Connector::new`]`()`
/// [`.proxy(database_url)`](Connector::proxy).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let url = tracetape::postgres::proxy("postgres://app@127.0.0.1:5432/shop").await?;
/// // A Unix socket of the proxy's own (a loopback port where there is
/// // none), the rest of the URL as it was.
/// assert!(url.starts_with("postgres://app@%2F") && url.contains("/shop?"));
/// # Ok(())
/// # }
/// ```
pub async fn proxy(database_url: &str) -> Result<String, ProxyError> {
    Connector::new().proxy(database_url).await
}

/// Connects tokio-postgres to the server `config` names, with the
/// global tracer and meter providers, its operations read in place:
/// [`Connector::new`]`()`[`.connect(config)`](Connector::connect).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config: tokio_postgres::Config = "postgres://app@127.0.0.1:5432/shop".parse()?;
/// let (client, connection) = tracetape::postgres::connect(&config).await?;
/// tokio::spawn(connection);
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "tokio-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-postgres")))]
pub async fn connect(
    config: &tokio_postgres::Config,
) -> Result<(tokio_postgres::Client, TapConnection), tokio_postgres::Error> {
    Connector::new().connect(config).await
}
