//! [`OtlpGrpcExporter`]: OTLP/gRPC with the same directly encoded request
//! as http/protobuf, sent as a unary `TraceService/Export` call.
//!
//! The calls run on a small Tokio runtime of the exporter's own (one worker
//! thread), never on the service's, so exporting needs no runtime from the
//! caller and does not queue behind the service's requests. The batch
//! processor's thread encodes the batch and waits for the answer; the
//! worker only moves bytes.
//!
//! Its connections acknowledge what the collector sends at once
//! (`quick_ack.rs`): against a collector that answers behind Nagle's
//! algorithm, each export otherwise waited up to 40 ms for its answer, and
//! half of the spans were dropped at the hello-world benchmark's load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prost::Message as _;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};

use super::encode::BatchEncoder;
use crate::setup::TlsMaterial;

/// The method every export calls.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Exports spans over OTLP/gRPC, writing the request straight from the
/// SDK's span data, on a Tokio runtime of its own.
///
/// It needs no runtime from the caller. Each export waits for its answer,
/// so it belongs behind a batch span processor, whose own thread does the
/// export; [`crate::init`] sets it up that way for
/// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
///
/// ```no_run
/// use std::time::Duration;
/// use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
/// use tracetape::export::OtlpGrpcExporter;
///
/// let exporter = OtlpGrpcExporter::new("http://127.0.0.1:4317", Duration::from_secs(10))?;
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(BatchSpanProcessor::builder(exporter).build())
///     .build();
/// # let _ = provider;
/// # Ok::<(), tracetape::export::GrpcExporterError>(())
/// ```
#[derive(Debug)]
pub struct OtlpGrpcExporter {
    url: String,
    metadata: MetadataMap,
    timeout: Duration,
    gzip: bool,
    channel: Channel,
    /// Where the calls run.
    handle: tokio::runtime::Handle,
    _runtime: Runtime,
    /// The resource, and the size of the last request.
    encoder: BatchEncoder,
    shut_down: AtomicBool,
}

/// Why an [`OtlpGrpcExporter`] could not be built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GrpcExporterError {
    /// The endpoint is not a URL tonic can connect to.
    #[error("failed to use {url} as an OTLP gRPC endpoint")]
    Endpoint {
        /// The endpoint, without user name and password.
        url: String,
        /// What tonic said.
        #[source]
        err: tonic::transport::Error,
    },
    /// The exporter's runtime could not be started.
    #[error("failed to start the OTLP gRPC exporter's runtime")]
    Runtime(#[source] std::io::Error),
}

impl OtlpGrpcExporter {
    /// Sends to `url` (`http://host:4317`, or `https://` for TLS with the
    /// platform's roots); each export may take at most `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<Self, GrpcExporterError> {
        Self::build(url.into(), timeout, None, false)
    }

    /// The exporter with `tls` for an https URL and gzip compression when
    /// `gzip`.
    pub(crate) fn build(
        url: String,
        timeout: Duration,
        tls: Option<TlsMaterial>,
        gzip: bool,
    ) -> Result<Self, GrpcExporterError> {
        let shown = crate::http_attrs::redact_url(&url, &Default::default()).into_owned();
        let bad = |err| GrpcExporterError::Endpoint {
            url: shown.clone(),
            err,
        };
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(bad)?
            .user_agent(concat!("tracetape/", env!("CARGO_PKG_VERSION")))
            .map_err(bad)?
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(tls) = &tls {
            endpoint = endpoint.tls_config(tls.tonic_config()).map_err(bad)?;
        }
        let (runtime, handle) = Runtime::start().map_err(GrpcExporterError::Runtime)?;
        // The channel's connection tasks run on the exporter's runtime.
        let channel = {
            let _entered = handle.enter();
            endpoint.connect_with_connector_lazy(super::quick_ack::Connector::new())
        };
        Ok(Self {
            url: shown,
            metadata: MetadataMap::new(),
            timeout,
            gzip,
            channel,
            handle,
            _runtime: runtime,
            encoder: BatchEncoder::default(),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Sends these headers (as gRPC metadata) with every export.
    #[must_use]
    pub fn with_headers(mut self, headers: http::HeaderMap) -> Self {
        self.metadata = MetadataMap::from_headers(headers);
        self
    }

    /// One export call of `body`, an encoded `ExportTraceServiceRequest`.
    async fn send(&self, body: Vec<u8>) -> OTelSdkResult {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            grpc = grpc
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        let mut request = tonic::Request::new(Bytes::from(body));
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(self.timeout);
        let timeout = self.timeout;
        let call = async move {
            grpc.ready().await.map_err(|err| {
                tonic::Status::unavailable(format!("the connection is not ready: {err}"))
            })?;
            let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
            grpc.unary(request, path, RawCodec).await
        };
        // On the exporter's own runtime; the answer comes back through a
        // channel any executor can wait on.
        let answer = self.handle.spawn(async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(answer) => answer,
                Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                    "no answer within {timeout:?}"
                ))),
            }
        });
        let outcome = answer
            .await
            .map_err(|err| self.failed(format_args!("the export task ended: {err}")))?;
        match outcome {
            Ok(response) => {
                self.partial_success(response.into_inner());
                Ok(())
            }
            Err(status) => Err(self.failed(status_text(&status))),
        }
    }

    fn failed(&self, why: impl std::fmt::Display) -> OTelSdkError {
        OTelSdkError::InternalFailure(format!("failed to export spans to {}: {why}", self.url))
    }

    /// The collector took the request but rejected some spans: said once;
    /// the call itself succeeded, so it is not retried (as the OTLP
    /// specification asks).
    fn partial_success(&self, response: ExportTraceServiceResponse) {
        let Some(partial) = response.partial_success else {
            return;
        };
        if partial.rejected_spans > 0 || !partial.error_message.is_empty() {
            crate::diag::warn_once(
                "export.grpc_partial_success",
                format_args!(
                    "the collector at {} rejected {} span(s) of an export ({:?}); later \
                     rejections are not said",
                    self.url, partial.rejected_spans, partial.error_message
                ),
            );
        }
    }
}

/// A failed call as messages say it: the code, and for failures of the
/// connection (made here, not told by the collector) their causes. The
/// collector's own message is left out: servers may echo credentials in
/// it.
fn status_text(status: &tonic::Status) -> String {
    use std::error::Error as _;
    let mut text = format!("grpc-status {} ({:?})", status.code() as i32, status.code());
    match status.source() {
        Some(source) => {
            text.push_str(": ");
            text.push_str(&crate::diag::chain(source));
        }
        None if is_local(status) => {
            text.push_str(": ");
            text.push_str(status.message());
        }
        None => {}
    }
    text
}

/// Statuses this exporter made itself (timeouts, a connection that never
/// became ready), whose message it wrote.
fn is_local(status: &tonic::Status) -> bool {
    let message = status.message();
    message.starts_with("no answer within") || message.starts_with("the connection is not ready")
}

impl SpanExporter for OtlpGrpcExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let body = self.encoder.request(batch);
        self.send(body).await
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder.set_resource(resource);
    }
}

/// The exporter's runtime, stopped without waiting when dropped, so that
/// dropping the exporter is allowed anywhere (inside another runtime too).
#[derive(Debug)]
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn start() -> std::io::Result<(Runtime, tokio::runtime::Handle)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tracetape-otlp-grpc")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok((Runtime(Some(runtime)), handle))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Hands the already encoded request to tonic as it is (tonic adds the
/// five-byte message prefix and compresses), and decodes the answer.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|err| tonic::Status::internal(format!("the answer is not OTLP: {err}")))
    }
}
