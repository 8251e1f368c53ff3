//! Building the OTLP span and metric exporters from resolved settings.
//!
//! Endpoint, protocol and timeout are always passed explicitly, so
//! opentelemetry-otlp does not fall back to its own reading of the
//! environment for them. Headers are different: opentelemetry-otlp merges
//! `OTEL_EXPORTER_OTLP_*HEADERS` over the headers given in code, so when
//! there are headers tracetape sets them last, on each request (a gRPC
//! interceptor, or a wrapper around the HTTP client), and the resolved
//! headers (code over environment) win.
//!
//! Spans go through tracetape's own exporters (`crate::export`), over
//! either protocol; metrics through opentelemetry-otlp's.
//!
//! For an `https://` endpoint the TLS files are read and checked here
//! (`tls.rs`); a problem with them is an error, never a reason to send
//! elsewhere.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
#[cfg(feature = "grpc")]
use opentelemetry_otlp::WithTonicConfig;
#[cfg(feature = "grpc")]
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    ExporterBuildError, MetricExporter, Protocol, WithExportConfig, WithHttpConfig,
};
#[cfg(feature = "grpc")]
use tonic::metadata::KeyAndValueRef;

use super::config::OtlpConfig;
use super::exporter::OtlpProtocol;
use super::tls::{TlsError, TlsMaterial, is_https};
#[cfg(feature = "grpc")]
use crate::export::OtlpGrpcExporter;
use crate::export::OtlpHttpExporter;

const GRPC_DEFAULT_ENDPOINT: &str = "http://localhost:4317";
const HTTP_DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// Everything one exporter needs, with the protocol that will really be
/// used.
#[derive(Debug)]
struct Target {
    url: String,
    protocol: OtlpProtocol,
    headers: http::HeaderMap,
    timeout: Duration,
    /// Used by the gRPC span exporter only.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    gzip: bool,
    /// Set for an `https://` URL.
    tls: Option<TlsMaterial>,
}

/// Whether an exporter needs the caller's Tokio runtime to be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    /// tracetape's span exporters: gRPC runs on a runtime of its own.
    Own,
    /// opentelemetry-otlp's gRPC metric exporter runs on the caller's.
    Callers,
}

impl Target {
    fn new(config: &OtlpConfig, signal_path: &str, runtime: Runtime) -> Result<Target, BuildError> {
        let protocol = usable_protocol(config.protocol, runtime)?;
        let url = signal_url(config, protocol, signal_path);
        let tls = if is_https(&url) {
            Some(config.tls.load().map_err(BuildError::Tls)?)
        } else {
            if !config.tls.is_empty() {
                crate::diag::warn_once(
                    "setup.tls_files_unused",
                    format!(
                        "OTEL_EXPORTER_OTLP_*CERTIFICATE or *CLIENT_KEY is set, but the OTLP \
                         endpoint {url} is not https://; the files are not used"
                    ),
                );
            }
            None
        };
        Ok(Target {
            url,
            protocol,
            headers: header_map(&config.headers),
            timeout: config.timeout,
            gzip: config.gzip,
            tls,
        })
    }
}

/// Why an OTLP exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Exporter(#[from] ExporterBuildError),
    /// gRPC was asked for, but tracetape was built without its `grpc`
    /// feature.
    #[error(
        "OTLP over gRPC was asked for (OTEL_EXPORTER_OTLP_PROTOCOL=grpc), but tracetape was \
         built without its `grpc` feature: enable it, or export over http/protobuf"
    )]
    GrpcNotBuilt,
}

/// The URL an exporter for `config` sends to (for messages).
pub(crate) fn url(config: &OtlpConfig, signal_path: &str) -> String {
    signal_url(config, config.protocol, signal_path)
}

fn signal_url(config: &OtlpConfig, protocol: OtlpProtocol, signal_path: &str) -> String {
    match &config.endpoint {
        Some(endpoint) => endpoint.url(protocol, signal_path),
        None => match protocol {
            OtlpProtocol::Grpc => GRPC_DEFAULT_ENDPOINT.to_owned(),
            OtlpProtocol::HttpProtobuf => format!("{HTTP_DEFAULT_ENDPOINT}{signal_path}"),
        },
    }
}

/// opentelemetry-otlp's gRPC metric exporter needs a Tokio runtime when it
/// is built; without one, use http/protobuf rather than panic (the span
/// exporter brings its own). Without the `grpc` feature, asking for gRPC is
/// an error: the endpoint is a gRPC one.
fn usable_protocol(protocol: OtlpProtocol, runtime: Runtime) -> Result<OtlpProtocol, BuildError> {
    if cfg!(not(feature = "grpc")) && protocol == OtlpProtocol::Grpc {
        return Err(BuildError::GrpcNotBuilt);
    }
    if protocol == OtlpProtocol::Grpc
        && runtime == Runtime::Callers
        && tokio::runtime::Handle::try_current().is_err()
    {
        crate::diag::warn_once(
            "setup.grpc_without_runtime",
            "the OTLP gRPC metric exporter needs a Tokio runtime, and telemetry was set up \
             outside one; metrics use http/protobuf instead (call tracetape::init() inside the \
             runtime)",
        );
        return Ok(OtlpProtocol::HttpProtobuf);
    }
    Ok(protocol)
}

fn header_map(headers: &[(String, String)]) -> http::HeaderMap {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                http::HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect()
}

/// The OTLP span exporter for one protocol.
#[derive(Debug)]
pub(crate) enum OtlpSpanExporter {
    /// tracetape's own over gRPC, with the same encoding.
    #[cfg(feature = "grpc")]
    Grpc(OtlpGrpcExporter),
    /// tracetape's own, which encodes the protobuf directly.
    Http(OtlpHttpExporter),
}

pub(crate) fn span_exporter(config: &OtlpConfig) -> Result<OtlpSpanExporter, BuildError> {
    let target = Target::new(config, "/v1/traces", Runtime::Own)?;
    Ok(match target.protocol {
        #[cfg(feature = "grpc")]
        OtlpProtocol::Grpc => OtlpSpanExporter::Grpc(
            OtlpGrpcExporter::build(target.url, target.timeout, target.tls, target.gzip)
                .map_err(|err| ExporterBuildError::InternalFailure(crate::diag::chain(&err)))?
                .with_headers(target.headers),
        ),
        #[cfg(not(feature = "grpc"))]
        OtlpProtocol::Grpc => return Err(BuildError::GrpcNotBuilt),
        OtlpProtocol::HttpProtobuf => OtlpSpanExporter::Http(
            OtlpHttpExporter::new(target.url, target.timeout)
                .with_headers(target.headers)
                .with_tls(target.tls)
                .warmed(),
        ),
    })
}

pub(crate) fn metric_exporter(config: &OtlpConfig) -> Result<MetricExporter, BuildError> {
    let target = Target::new(config, "/v1/metrics", Runtime::Callers)?;
    Ok(match target.protocol {
        #[cfg(feature = "grpc")]
        OtlpProtocol::Grpc => grpc(MetricExporter::builder().with_tonic(), target).build()?,
        #[cfg(not(feature = "grpc"))]
        OtlpProtocol::Grpc => return Err(BuildError::GrpcNotBuilt),
        OtlpProtocol::HttpProtobuf => {
            http(MetricExporter::builder().with_http(), target)?.build()?
        }
    })
}

#[cfg(feature = "grpc")]
fn grpc<B: WithExportConfig + WithTonicConfig>(builder: B, target: Target) -> B {
    let builder = builder
        .with_endpoint(target.url)
        .with_protocol(Protocol::Grpc)
        .with_timeout(target.timeout);
    let builder = match &target.tls {
        Some(tls) => builder.with_tls_config(tls.tonic_config()),
        None => builder,
    };
    if target.headers.is_empty() {
        builder
    } else {
        builder.with_interceptor(SetMetadata(MetadataMap::from_headers(target.headers)))
    }
}

fn http<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    target: Target,
) -> Result<B, ExporterBuildError> {
    let builder = builder
        .with_endpoint(target.url)
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(target.timeout);
    if target.headers.is_empty() && target.tls.is_none() {
        return Ok(builder);
    }
    let client = SetHeaders {
        inner: blocking_client(target.timeout, target.tls)?,
        headers: target.headers,
    };
    Ok(builder.with_http_client(client))
}

/// Builds the blocking reqwest client opentelemetry-otlp would build (with
/// the TLS settings, for https), on its own thread because reqwest's
/// blocking client must not be created on an async runtime thread.
fn blocking_client(
    timeout: Duration,
    tls: Option<TlsMaterial>,
) -> Result<reqwest::blocking::Client, ExporterBuildError> {
    let failed = |reason: String| ExporterBuildError::InternalFailure(reason);
    std::thread::Builder::new()
        .name("tracetape-http-client".to_owned())
        .spawn(move || {
            let builder = reqwest::blocking::Client::builder().timeout(timeout);
            match tls {
                Some(tls) => tls.apply_to(builder)?.build(),
                None => builder.build(),
            }
        })
        .map_err(|err| {
            failed(format!(
                "failed to spawn a thread for the HTTP client: {err}"
            ))
        })?
        .join()
        .map_err(|_| failed("the thread building the HTTP client panicked".to_owned()))?
        .map_err(|err| failed(format!("failed to build the HTTP client: {err}")))
}

/// Sets the resolved headers on every gRPC request, replacing any value the
/// exporter put there.
#[cfg(feature = "grpc")]
#[derive(Debug, Clone)]
struct SetMetadata(MetadataMap);

#[cfg(feature = "grpc")]
impl tonic::service::Interceptor for SetMetadata {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        for entry in self.0.iter() {
            match entry {
                KeyAndValueRef::Ascii(key, value) => {
                    metadata.insert(key.clone(), value.clone());
                }
                KeyAndValueRef::Binary(key, value) => {
                    metadata.insert_bin(key.clone(), value.clone());
                }
            }
        }
        Ok(request)
    }
}

/// An HTTP client that sets the resolved headers on every request, replacing
/// any value the exporter put there.
#[derive(Debug)]
struct SetHeaders {
    inner: reqwest::blocking::Client,
    headers: http::HeaderMap,
}

// Written out instead of with `#[async_trait]`: the trait's method returns a
// boxed future, which is exactly what the inner client returns.
impl HttpClient for SetHeaders {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        mut request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.inner.send_bytes(request)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::setup::settings::Endpoint;

    fn config(protocol: OtlpProtocol, endpoint: Option<Endpoint>) -> OtlpConfig {
        OtlpConfig {
            endpoint,
            protocol,
            headers: vec![("x-api-key".into(), "code".into())],
            timeout: Duration::from_secs(3),
            gzip: false,
            tls: Default::default(),
        }
    }

    #[test]
    fn default_endpoints_follow_the_protocol() {
        let target = Target::new(
            &config(OtlpProtocol::HttpProtobuf, None),
            "/v1/traces",
            Runtime::Own,
        )
        .unwrap();
        assert_eq!(target.url, "http://localhost:4318/v1/traces");
        assert_eq!(target.headers["x-api-key"], "code");
    }

    #[cfg(feature = "grpc")]
    #[tokio::test]
    async fn grpc_inside_a_runtime_keeps_grpc() {
        let target = Target::new(
            &config(OtlpProtocol::Grpc, None),
            "/v1/metrics",
            Runtime::Callers,
        )
        .unwrap();
        assert_eq!(target.protocol, OtlpProtocol::Grpc);
        assert_eq!(target.url, "http://localhost:4317");
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_metrics_without_a_runtime_fall_back_to_http() {
        let base = Some(Endpoint::Base("http://collector:4318".into()));
        let target = Target::new(
            &config(OtlpProtocol::Grpc, base),
            "/v1/metrics",
            Runtime::Callers,
        )
        .unwrap();
        assert_eq!(target.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(target.url, "http://collector:4318/v1/metrics");
    }

    /// The span exporter brings its own runtime: gRPC stays gRPC outside
    /// one.
    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_spans_without_a_runtime_keep_grpc() {
        let base = Some(Endpoint::Base("http://collector:4317".into()));
        let config = config(OtlpProtocol::Grpc, base);
        let target = Target::new(&config, "/v1/traces", Runtime::Own).unwrap();
        assert_eq!(target.protocol, OtlpProtocol::Grpc);
        assert!(matches!(
            span_exporter(&config),
            Ok(OtlpSpanExporter::Grpc(_))
        ));
    }

    #[test]
    fn exporters_with_headers_build_for_http() {
        assert!(span_exporter(&config(OtlpProtocol::HttpProtobuf, None)).is_ok());
        assert!(metric_exporter(&config(OtlpProtocol::HttpProtobuf, None)).is_ok());
    }

    #[cfg(feature = "grpc")]
    #[tokio::test]
    async fn exporters_with_headers_build_for_grpc() {
        assert!(span_exporter(&config(OtlpProtocol::Grpc, None)).is_ok());
        assert!(metric_exporter(&config(OtlpProtocol::Grpc, None)).is_ok());
    }

    /// Built without the `grpc` feature (`.ci/run` tests the library that
    /// way too), asking for gRPC is an error, never a quiet switch to
    /// http/protobuf: the endpoint is a gRPC one.
    #[cfg(not(feature = "grpc"))]
    #[tokio::test]
    async fn without_the_grpc_feature_asking_for_grpc_is_an_error() {
        let spans = span_exporter(&config(OtlpProtocol::Grpc, None));
        assert!(matches!(spans, Err(BuildError::GrpcNotBuilt)), "{spans:?}");
        let metrics = metric_exporter(&config(OtlpProtocol::Grpc, None));
        assert!(matches!(metrics, Err(BuildError::GrpcNotBuilt)));
        let said = BuildError::GrpcNotBuilt.to_string();
        assert!(said.contains("`grpc` feature"), "{said}");
    }

    /// Regression: opentelemetry-otlp merges its own headers (and those of
    /// `OTEL_EXPORTER_OTLP_HEADERS`) over the ones given in code; the
    /// resolved headers must be the ones on the wire.
    #[test]
    fn http_requests_carry_the_resolved_headers() {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        use std::io::{BufRead as _, BufReader, Write as _};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push(line.trim_end().to_ascii_lowercase());
            }
            let mut stream = reader.into_inner();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            head
        });

        let config = OtlpConfig {
            endpoint: Some(Endpoint::Base(format!("http://127.0.0.1:{port}"))),
            protocol: OtlpProtocol::HttpProtobuf,
            // opentelemetry-otlp sets its own User-Agent; this one must win.
            headers: vec![
                ("user-agent".into(), "tracetape-test".into()),
                ("x-api-key".into(), "code".into()),
            ],
            timeout: Duration::from_secs(5),
            gzip: false,
            tls: Default::default(),
        };
        let Ok(OtlpSpanExporter::Http(exporter)) = span_exporter(&config) else {
            panic!("http/protobuf should use tracetape's own exporter");
        };
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .build();
        provider.tracer("test").in_span("work", |_cx| {});

        let head = server.join().unwrap();
        assert!(head[0].starts_with("post /v1/traces "), "{head:?}");
        let user_agents: Vec<_> = head
            .iter()
            .filter(|l| l.starts_with("user-agent:"))
            .collect();
        assert_eq!(user_agents, ["user-agent: tracetape-test"], "{head:?}");
        assert!(head.contains(&"x-api-key: code".to_owned()), "{head:?}");
        drop(provider);
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn the_interceptor_replaces_existing_values() {
        use tonic::service::Interceptor as _;
        let mut headers = http::HeaderMap::new();
        headers.insert("x-api-key", http::HeaderValue::from_static("code"));
        let mut interceptor = SetMetadata(MetadataMap::from_headers(headers));
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("x-api-key", "env".parse().unwrap());
        let request = interceptor.call(request).unwrap();
        let values: Vec<_> = request.metadata().get_all("x-api-key").iter().collect();
        assert_eq!(values, ["code"]);
    }
}
