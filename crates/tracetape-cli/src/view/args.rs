//! The arguments of `tracetape view`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::store::Retention;
use crate::stores::{RecordingsArgs, StoreArgs};
use crate::units;

/// Arguments of `tracetape view`.
#[derive(Debug, Args)]
pub(crate) struct ViewArgs {
    /// Where the web UI listens. Loopback unless you name another address:
    /// the UI shows every request and response recorded, and asks for no
    /// password. Port 0 picks a free one (the address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4320")]
    pub(crate) listen: SocketAddr,
    /// Where OTLP over gRPC is received (what an SDK's
    /// OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 sends to).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    pub(crate) otlp_grpc: SocketAddr,
    /// Where OTLP over HTTP is received (`/v1/traces`, protobuf or JSON;
    /// metrics and logs are accepted and dropped).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
    pub(crate) otlp_http: SocketAddr,
    /// Receive no OTLP: only show what is stored.
    #[arg(long, conflicts_with_all = ["otlp_grpc", "otlp_http"])]
    pub(crate) no_otlp: bool,
    /// The view's span store, created when missing: the spans received
    /// and those read from the trace store (--store).
    #[arg(long, value_name = "FILE", default_value = ".tracetape/view.sqlite")]
    pub(crate) db: PathBuf,
    /// Keep the view's store under this size (1GiB, 500MB); the oldest
    /// traces go first.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = units::bytes)]
    pub(crate) max_size: u64,
    /// Remove traces that ended longer ago than this (12h, 7d); by default
    /// only --max-size limits the store.
    #[arg(long, value_name = "DURATION", value_parser = units::duration)]
    pub(crate) max_age: Option<Duration>,
    /// A `tracetape replay --format json` report to show (repeatable).
    #[arg(long = "report", value_name = "FILE")]
    pub(crate) reports: Vec<PathBuf>,
    /// A directory of replay reports (`*.json`) to show, read again at each
    /// visit: `tracetape replay --format json > .tracetape/replays/NAME.json`.
    #[arg(long, value_name = "DIR", default_value = ".tracetape/replays")]
    pub(crate) reports_dir: PathBuf,
    // The local trace store, read when the view starts and every second.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) recordings: RecordingsArgs,
}

impl ViewArgs {
    pub(crate) fn retention(&self) -> Retention {
        Retention {
            max_bytes: Some(self.max_size),
            max_age: self.max_age,
        }
    }
}
