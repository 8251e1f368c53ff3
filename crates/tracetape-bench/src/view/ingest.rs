//! Sending the generated requests to the view's OTLP/gRPC receiver from
//! concurrent senders over one HTTP/2 channel, and what that cost the
//! view.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::transport::Channel;

use crate::cpu::{CpuTime, ProcCpu};

/// What the ingest measured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ingested {
    /// Export calls answered.
    pub(super) requests: usize,
    /// From the first request sent to the last answer.
    pub(super) elapsed: Duration,
    /// The view's CPU time over that window, where `/proc` says.
    pub(super) cpu: Option<CpuTime>,
}

/// The requests not yet sent, shared by the senders.
type Queue = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// Sends every request to `endpoint` from `senders` tasks, each waiting for
/// its answer before it sends its next; measures the view (`pid`)'s CPU
/// time meanwhile.
pub(super) async fn send(
    endpoint: &str,
    mut requests: Vec<ExportTraceServiceRequest>,
    senders: u32,
    pid: u32,
) -> anyhow::Result<Ingested> {
    let client = TraceServiceClient::connect(endpoint.to_owned())
        .await
        .with_context(|| format!("connecting to the view's OTLP/gRPC receiver at {endpoint}"))?;
    let count = requests.len();
    // Popped from the end: sent in the order generated.
    requests.reverse();
    let queue: Queue = Arc::new(Mutex::new(requests));
    let proc_cpu = ProcCpu::new();
    let before = proc_cpu.process(pid);
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| tokio::spawn(sender(client.clone(), Arc::clone(&queue))))
        .collect();
    for task in tasks {
        task.await.context("a sender panicked")??;
    }
    let elapsed = started.elapsed();
    let cpu = before
        .zip(proc_cpu.process(pid))
        .map(|(before, after)| after.since(before));
    Ok(Ingested {
        requests: count,
        elapsed,
        cpu,
    })
}

/// One sender: takes the next request until none is left.
async fn sender(mut client: TraceServiceClient<Channel>, queue: Queue) -> anyhow::Result<()> {
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let Some(request) = next else {
            return Ok(());
        };
        client
            .export(request)
            .await
            .context("the view refused an OTLP/gRPC export")?;
    }
}
