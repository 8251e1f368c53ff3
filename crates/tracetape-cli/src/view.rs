//! `tracetape view`: a web UI, on loopback, for the traces (a list with
//! search, each trace a waterfall with its spans' details and its
//! recording) and the replay reports (each deviation, and each replayed
//! recording's calls beside the recorded ones), fed by an OTLP receiver
//! and by the local trace store.
//!
//! `store/` keeps the spans (SQLite), `otlp.rs` receives them,
//! `web.rs` serves the UI (`web/`, embedded) and its API, `waterfall.rs`
//! lays a trace out, `otlp_json.rs` writes one back as OTLP/JSON,
//! `replays.rs` reads the reports and their recordings.

mod args;
mod otlp;
mod otlp_json;
mod replays;
mod store;
mod waterfall;
mod web;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tracetape::store::LocalStore;

pub(crate) use args::ViewArgs;
use replays::Reports;
use store::Store;
use web::View;

use crate::exit::Failure;

/// How often the local store is read for new files.
const IMPORT_EVERY: Duration = Duration::from_secs(1);
/// How often the retention limits are applied besides while writing.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

pub(crate) async fn run(args: ViewArgs) -> Result<(), Failure> {
    let store = Arc::new(
        Store::open(&args.db, args.retention())
            .map_err(|err| Failure::Failed(err.context("tracetape view cannot keep its spans")))?,
    );
    let local = args.store.open();
    let ui = bind(args.listen, "the web UI (--listen)").await?;
    let otlp = if args.no_otlp {
        None
    } else {
        Some((
            bind(args.otlp_grpc, "OTLP/gRPC (--otlp-grpc)").await?,
            bind(args.otlp_http, "OTLP/HTTP (--otlp-http)").await?,
        ))
    };
    let imported = import(&store, &local)
        .await
        .map_err(|err| Failure::Failed(err.context("failed to read the trace store")))?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "tracetape view: http://{}/", local_addr(&ui)?)?;
    if let Some((grpc, http)) = &otlp {
        writeln!(
            out,
            "receiving OTLP/gRPC at http://{} and OTLP/HTTP at http://{}/v1/traces",
            local_addr(grpc)?,
            local_addr(http)?
        )?;
    }
    writeln!(
        out,
        "spans kept in {} (read {} new from {}); Ctrl-C stops",
        store.path().display(),
        imported,
        local.dir().display()
    )?;
    out.flush()?;
    drop(out);

    let view = Arc::new(View {
        store: Arc::clone(&store),
        recordings: args.recordings.open(),
        reports: Reports::new(args.reports.clone(), args.reports_dir.clone()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    let loopback = args.listen.ip().is_loopback();
    tasks.spawn(serve(ui, web::router(view, loopback)));
    if let Some((grpc, http)) = otlp {
        tasks.spawn(serve(http, otlp::http(Arc::clone(&store))));
        let service = otlp::grpc(Arc::clone(&store));
        tasks.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpIncoming::from(grpc))
                .await
                .context("the OTLP/gRPC receiver stopped")
        });
    }
    tasks.spawn(keep_up(Arc::clone(&store), local));
    tokio::select! {
        _ = shutdown() => Ok(()),
        Some(ended) = tasks.join_next() => match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(Failure::Failed(err)),
            Err(err) => Err(Failure::Failed(anyhow::Error::new(err).context("tracetape view failed"))),
        },
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr).await.map_err(|err| {
        Failure::Usage(
            anyhow::Error::new(err).context(format!("cannot listen at {addr} for {what}")),
        )
    })
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, Failure> {
    listener
        .local_addr()
        .map_err(|err| Failure::Failed(anyhow::Error::new(err).context("no local address")))
}

async fn serve(listener: TcpListener, router: axum::Router) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .await
        .context("a listener of tracetape view stopped")
}

/// Reads the local store's new files; returns how many spans.
async fn import(store: &Arc<Store>, local: &LocalStore) -> anyhow::Result<usize> {
    let store = Arc::clone(store);
    let local = local.clone();
    let imported = tokio::task::spawn_blocking(move || store.import(&local)).await??;
    for path in &imported.unreadable {
        eprintln!(
            "note: {} is not an OTLP/JSON trace file; left out",
            path.display()
        );
    }
    Ok(imported.spans)
}

/// Reads the local store every second and applies retention every
/// minute, for as long as the view runs. A failure is said once per kind
/// and tried again.
async fn keep_up(store: Arc<Store>, local: LocalStore) -> anyhow::Result<()> {
    // `run` has just read the store: the first read is a period away.
    let mut import_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + IMPORT_EVERY, IMPORT_EVERY);
    let mut retention_tick = tokio::time::interval(RETENTION_EVERY);
    let (mut import_failed, mut retention_failed) = (false, false);
    loop {
        tokio::select! {
            _ = import_tick.tick() => {
                if let Err(err) = import(&store, &local).await && !std::mem::replace(&mut import_failed, true) {
                    eprintln!("warning: failed to read the trace store: {err:#}");
                }
            }
            _ = retention_tick.tick() => {
                let store = Arc::clone(&store);
                let applied = tokio::task::spawn_blocking(move || store.enforce_retention()).await;
                if let Ok(Err(err)) = applied && !std::mem::replace(&mut retention_failed, true) {
                    eprintln!("warning: failed to apply the retention limits: {err:#}");
                }
            }
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}
