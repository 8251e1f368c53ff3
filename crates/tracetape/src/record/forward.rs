//! Recordings sent on to an OpenTelemetry Collector, when asked for
//! (`TRACETAPE_RECORD_OTLP_ENDPOINT`): each recording's OTLP/JSON document is
//! also posted, as it is, to an OTLP/HTTP traces endpoint. This is the one
//! way payloads leave the process other than the files, and only ever by
//! the user's choice; the tracing exporter never sees them.
//!
//! Posting happens on a thread of its own behind a small bounded queue, so
//! a slow or absent collector never holds up the files: when the queue is
//! full a recording is not forwarded (and counted), and a failing
//! collector is reported once. A flush of the recorder waits, within its
//! timeout, until what was queued before it is posted (or failed); what is
//! still queued when the process exits without one is not sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::tally::Tally;
use crate::diag;
use crate::setup::{TlsFiles, TlsMaterial, is_https};

/// Documents waiting to be posted, at most.
const QUEUE: usize = 64;
/// How long one post may take.
const TIMEOUT: Duration = Duration::from_secs(10);
const FAILED: &str = "record.forward_failed";
const DROPPING: &str = "record.forward_dropping";

/// What the forwarder has done, for tests and diagnostics, and what a
/// flush waits on.
#[derive(Debug, Default)]
pub(crate) struct ForwardCounts {
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Documents queued for the posting thread.
    queued: AtomicU64,
    /// Documents the thread has posted or failed to post.
    handled: Tally,
}

impl ForwardCounts {
    /// Waits until every document queued before the call has been posted
    /// or has failed, until `deadline` at most (`None`: no limit); how many
    /// are still waiting when it passes.
    pub(crate) fn wait_handled(&self, deadline: Option<Instant>) -> Result<(), u64> {
        self.handled
            .wait_for(self.queued.load(Ordering::Acquire), deadline)
    }
}

/// The sending side, held by the writer thread.
#[derive(Debug)]
pub(crate) struct Forwarder {
    sender: SyncSender<Bytes>,
    counts: Arc<ForwardCounts>,
}

impl Forwarder {
    /// Starts the posting thread for `endpoint` (a full OTLP/HTTP traces
    /// URL, such as `http://collector:4318/v1/traces`), with the TLS files
    /// `tls` when it is https. `None`, reported once, when those files
    /// cannot be used: recordings then stay in files, as they would
    /// without forwarding, rather than go out unverified.
    pub(crate) fn start(endpoint: String, tls: &TlsFiles) -> std::io::Result<Option<Self>> {
        let tls = if is_https(&endpoint) {
            match tls.load() {
                Ok(material) => Some(material),
                Err(err) => {
                    diag::warn_once(
                        FAILED,
                        format_args!(
                            "record mode: recordings are not forwarded to {}: {}; they are written to files only",
                            shown(&endpoint),
                            diag::chain(&err)
                        ),
                    );
                    return Ok(None);
                }
            }
        } else {
            None
        };
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let counts = Arc::new(ForwardCounts::default());
        let thread_counts = Arc::clone(&counts);
        thread::Builder::new()
            .name("tracetape-forward".to_owned())
            .spawn(move || run(&endpoint, tls.as_ref(), &receiver, &thread_counts))?;
        Ok(Some(Self { sender, counts }))
    }

    /// Queues one OTLP/JSON document without waiting.
    pub(crate) fn forward(&self, document: Bytes) {
        // Counted before it is sent, so that the thread never handles
        // more than a flush can have seen queued.
        self.counts.queued.fetch_add(1, Ordering::AcqRel);
        if self.sender.try_send(document).is_err() {
            self.counts.queued.fetch_sub(1, Ordering::AcqRel);
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            diag::warn_once(
                DROPPING,
                "record mode: the collector is not keeping up; recordings are written to files but not all are forwarded",
            );
        }
    }

    pub(crate) fn counts(&self) -> Arc<ForwardCounts> {
        Arc::clone(&self.counts)
    }
}

/// The endpoint as messages show it: without a user name and password.
fn shown(endpoint: &str) -> std::borrow::Cow<'_, str> {
    crate::http_attrs::redact_url(endpoint, &crate::http_attrs::QueryKeys::default())
}

fn run(
    endpoint: &str,
    tls: Option<&TlsMaterial>,
    receiver: &Receiver<Bytes>,
    counts: &ForwardCounts,
) {
    let builder = reqwest::blocking::Client::builder().timeout(TIMEOUT);
    let builder = match tls {
        Some(tls) => tls.apply_to(builder),
        None => Ok(builder),
    };
    let client = match builder.and_then(reqwest::blocking::ClientBuilder::build) {
        Ok(client) => client,
        Err(err) => {
            diag::warn_once(
                FAILED,
                format_args!(
                    "record mode: recordings cannot be forwarded to {}: {}",
                    shown(endpoint),
                    diag::chain(&err)
                ),
            );
            return;
        }
    };
    while let Ok(document) = receiver.recv() {
        let posted = client
            .post(endpoint)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(document)
            .send()
            .and_then(reqwest::blocking::Response::error_for_status);
        match posted {
            Ok(_) => counts.sent.fetch_add(1, Ordering::Relaxed),
            Err(err) => {
                diag::warn_once(
                    FAILED,
                    format_args!(
                        "record mode: failed to forward a recording to {}: {}; later failures are counted, not reported",
                        shown(endpoint),
                        diag::chain(&err.without_url())
                    ),
                );
                counts.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
        counts.handled.add(1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A CA file that cannot be read turns forwarding off (and says so)
    /// rather than posting recordings over an unverified connection.
    #[test]
    fn unusable_tls_files_turn_https_forwarding_off() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-ca.pem");
        let tls = TlsFiles {
            certificate: Some(crate::setup::file_setting(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                missing.display().to_string(),
            )),
            ..TlsFiles::default()
        };
        let https = Forwarder::start("https://127.0.0.1:9/v1/traces".to_owned(), &tls).unwrap();
        assert!(https.is_none());
        // Over plain http the files are not read.
        let http = Forwarder::start("http://127.0.0.1:9/v1/traces".to_owned(), &tls).unwrap();
        assert!(http.is_some());
    }
}
