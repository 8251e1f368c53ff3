//! [`OtlpHttpExporter`]: OTLP/HTTP with binary protobuf, encoded directly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::encode::BatchEncoder;
use crate::setup::TlsMaterial;

/// Exports spans over OTLP/HTTP (`application/x-protobuf`), writing the
/// request straight from the SDK's span data.
///
/// It blocks while sending, so it belongs behind a batch span processor,
/// whose own thread does the export; [`crate::init`] sets it up that way
/// for `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` (the default).
///
/// ```no_run
/// use std::time::Duration;
/// use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
/// use tracetape::export::OtlpHttpExporter;
///
/// let exporter = OtlpHttpExporter::new("http://127.0.0.1:4318/v1/traces", Duration::from_secs(10));
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(BatchSpanProcessor::builder(exporter).build())
///     .build();
/// # let _ = provider;
/// ```
#[derive(Debug)]
pub struct OtlpHttpExporter {
    url: String,
    headers: http::HeaderMap,
    timeout: Duration,
    /// The roots and client identity for https (set up from the
    /// `OTEL_EXPORTER_OTLP_*CERTIFICATE` files); `None`: the platform's
    /// roots.
    tls: Option<TlsMaterial>,
    /// Made on the first export, on the exporting thread (reqwest's
    /// blocking client must not be built on an async runtime's thread),
    /// or ahead of it on a thread of its own ([`warmed`](Self::warmed)).
    client: Arc<OnceLock<Result<reqwest::blocking::Client, String>>>,
    /// The resource, and the size of the last request.
    encoder: BatchEncoder,
    shut_down: AtomicBool,
}

impl OtlpHttpExporter {
    /// Sends to `url` (the full traces URL, e.g. `http://host:4318/v1/traces`);
    /// each request may take at most `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            url: url.into(),
            headers: http::HeaderMap::new(),
            timeout,
            tls: None,
            client: Arc::new(OnceLock::new()),
            encoder: BatchEncoder::default(),
            shut_down: AtomicBool::new(false),
        }
    }

    /// Sends these headers with every request.
    #[must_use]
    pub fn with_headers(mut self, headers: http::HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Uses these TLS settings for an https URL.
    pub(crate) fn with_tls(mut self, tls: Option<TlsMaterial>) -> Self {
        self.tls = tls;
        self
    }

    /// Starts making the HTTP client now, on a thread of its own, so that
    /// the first export does not wait for it: at full load, the 20 ms that
    /// takes filled the span queue and dropped the first spans. When that
    /// thread cannot start, the first export makes it.
    pub(crate) fn warmed(self) -> Self {
        let client = Arc::clone(&self.client);
        let (timeout, tls) = (self.timeout, self.tls.clone());
        let _ = std::thread::Builder::new()
            .name("tracetape-otlp-http-client".to_owned())
            .spawn(move || {
                client.get_or_init(|| build_client(timeout, tls.as_ref()));
            });
        self
    }

    fn client(&self) -> Result<&reqwest::blocking::Client, OTelSdkError> {
        self.client
            .get_or_init(|| build_client(self.timeout, self.tls.as_ref()))
            .as_ref()
            .map_err(|err| OTelSdkError::InternalFailure(err.clone()))
    }

    fn send(&self, body: Vec<u8>) -> OTelSdkResult {
        let response = self
            .client()?
            .post(&self.url)
            .headers(self.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .send()
            .map_err(|err| {
                OTelSdkError::InternalFailure(format!(
                    "failed to export spans to {}: {}",
                    self.shown_url(),
                    crate::diag::chain(&err.without_url())
                ))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(OTelSdkError::InternalFailure(format!(
            "failed to export spans to {}: the collector answered {status}",
            self.shown_url()
        )))
    }

    /// The URL as messages show it: without a user name and password.
    fn shown_url(&self) -> std::borrow::Cow<'_, str> {
        crate::http_attrs::redact_url(&self.url, &crate::http_attrs::QueryKeys::default())
    }
}

/// The blocking client every export sends with.
fn build_client(
    timeout: Duration,
    tls: Option<&TlsMaterial>,
) -> Result<reqwest::blocking::Client, String> {
    let builder = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("tracetape/", env!("CARGO_PKG_VERSION")));
    let builder = match tls {
        Some(tls) => tls.apply_to(builder),
        None => Ok(builder),
    };
    builder
        .and_then(|builder| builder.build())
        .map_err(|err| format!("failed to build the OTLP HTTP client: {err}"))
}

impl SpanExporter for OtlpHttpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let body = self.encoder.request(batch);
        self.send(body)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_warmed_exporter_has_its_client_before_the_first_export() {
        let exporter =
            OtlpHttpExporter::new("http://127.0.0.1:9/v1/traces", Duration::from_secs(1)).warmed();
        let client = Arc::clone(&exporter.client);
        let (done, made) = mpsc::channel();
        // OnceLock::wait returns once the warming thread has made it; no
        // export ever asks for it here.
        std::thread::spawn(move || done.send(client.wait().is_ok()).unwrap());
        assert_eq!(made.recv_timeout(Duration::from_secs(30)), Ok(true));
    }
}
