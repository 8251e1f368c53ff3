//! Resolving what the builder was told in code over what the environment
//! says, over the defaults.

use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::Sampler;
use opentelemetry_semantic_conventions::resource::SERVICE_NAME;

use super::exporter::{MetricsExporter, OtlpProtocol, TracesExporter};
use super::propagation::Propagator;
use super::settings::{BatchSettings, Endpoint, OtlpSettings, Settings, Warning, check_endpoint};
use super::tls::{FileSetting, TlsFiles};

/// The default OTLP export timeout of the specification.
const OTLP_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// Settings made in code with the builder's `with_*` methods; `None` and
/// empty mean "not set".
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) disabled: Option<bool>,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) traces_exporter: Option<TracesExporter>,
    pub(crate) metrics_exporter: Option<MetricsExporter>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) otlp_protocol: Option<OtlpProtocol>,
    pub(crate) otlp_headers: Vec<(String, String)>,
    pub(crate) otlp_timeout: Option<Duration>,
    /// `with_otlp_certificate`.
    pub(crate) otlp_certificate: Option<PathBuf>,
    /// `with_otlp_client_identity`: the certificate chain and the key.
    pub(crate) otlp_client_identity: Option<(PathBuf, PathBuf)>,
    pub(crate) sampler: Option<Sampler>,
}

/// The settings telemetry is built from, every choice made.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) disabled: bool,
    /// Resource attributes in increasing precedence: a later value for the
    /// same key wins.
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) traces_exporter: TracesExporter,
    pub(crate) metrics_exporter: MetricsExporter,
    pub(crate) traces_otlp: OtlpConfig,
    pub(crate) metrics_otlp: OtlpConfig,
    pub(crate) sampler: Sampler,
    pub(crate) batch: BatchSettings,
    pub(crate) propagators: Vec<Propagator>,
}

/// The resolved OTLP settings of one signal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OtlpConfig {
    /// `None`: the protocol's default endpoint on localhost.
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) protocol: OtlpProtocol,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`: used by the gRPC span
    /// exporter (http/protobuf sends uncompressed).
    pub(crate) gzip: bool,
    /// The TLS files, used when the endpoint is `https://`.
    pub(crate) tls: TlsFiles,
}

impl Config {
    /// Code settings win over `env`; warnings are about code settings that
    /// cannot be used.
    pub(crate) fn resolve(code: &Overrides, env: Settings) -> (Config, Vec<Warning>) {
        let mut warnings = Vec::new();

        let code_endpoint = code
            .otlp_endpoint
            .as_ref()
            .and_then(|url| match check_endpoint(url) {
                Ok(()) => Some(Endpoint::Base(url.clone())),
                Err(reason) => {
                    warnings.push(Warning::new(
                        "setup.invalid_config.otlp_endpoint",
                        format!("ignoring the OTLP endpoint {url:?} set in code: {reason}"),
                    ));
                    None
                }
            });
        let code_headers = code_headers(&code.otlp_headers, &mut warnings);
        let otlp = |env: OtlpSettings| OtlpConfig {
            endpoint: code_endpoint.clone().or(env.endpoint),
            protocol: code
                .otlp_protocol
                .or(env.protocol)
                .unwrap_or(OtlpProtocol::HttpProtobuf),
            headers: merge_headers(env.headers, &code_headers),
            timeout: code
                .otlp_timeout
                .or(env.timeout)
                .unwrap_or(OTLP_TIMEOUT_DEFAULT),
            gzip: env.gzip.unwrap_or(false),
            tls: code_tls(code, env.tls),
        };
        let traces_otlp = otlp(env.traces_otlp);
        let metrics_otlp = otlp(env.metrics_otlp);

        let traces_exporter = code.traces_exporter.or(env.traces_exporter).unwrap_or(
            if traces_otlp.endpoint.is_some() {
                TracesExporter::Otlp
            } else {
                TracesExporter::Local
            },
        );
        let metrics_exporter = code.metrics_exporter.or(env.metrics_exporter).unwrap_or(
            if metrics_otlp.endpoint.is_some() {
                MetricsExporter::Otlp
            } else {
                MetricsExporter::None
            },
        );

        let mut resource_attributes: Vec<KeyValue> = env
            .resource_attributes
            .into_iter()
            .map(|(key, value)| KeyValue::new(key, value))
            .collect();
        if let Some(name) = env.service_name {
            resource_attributes.push(KeyValue::new(SERVICE_NAME, name));
        }
        resource_attributes.extend(code.resource_attributes.iter().cloned());
        if let Some(name) = &code.service_name {
            resource_attributes.push(KeyValue::new(SERVICE_NAME, name.clone()));
        }

        let config = Config {
            disabled: code.disabled.unwrap_or(env.disabled),
            resource_attributes,
            traces_exporter,
            metrics_exporter,
            traces_otlp,
            metrics_otlp,
            sampler: code
                .sampler
                .clone()
                .unwrap_or_else(|| env.sampler.to_sampler()),
            batch: env.batch,
            propagators: env.propagators,
        };
        (config, warnings)
    }

    /// The resource: SDK attributes, `unknown_service:{executable}` as the
    /// service name unless something else names it, then the resolved
    /// attributes.
    pub(crate) fn resource(&self) -> Resource {
        Resource::builder_empty()
            .with_detector(Box::new(TelemetryResourceDetector))
            .with_service_name(default_service_name())
            .with_attributes(self.resource_attributes.iter().cloned())
            .build()
    }
}

/// The TLS files set in code, each winning over the environment's (for
/// both signals); a client identity set in code replaces both of its files.
fn code_tls(code: &Overrides, env: TlsFiles) -> TlsFiles {
    let set_in_code = |method: &str, path: &PathBuf| FileSetting {
        var: format!("TelemetryBuilder::{method}"),
        path: path.clone(),
    };
    let certificate = (code.otlp_certificate.as_ref())
        .map(|path| set_in_code("with_otlp_certificate", path))
        .or(env.certificate);
    match &code.otlp_client_identity {
        Some((chain, key)) => TlsFiles {
            certificate,
            client_certificate: Some(set_in_code("with_otlp_client_identity", chain)),
            client_key: Some(set_in_code("with_otlp_client_identity", key)),
        },
        None => TlsFiles { certificate, ..env },
    }
}

fn code_headers(
    headers: &[(String, String)],
    warnings: &mut Vec<Warning>,
) -> Vec<(String, String)> {
    let mut valid = Vec::new();
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(value).is_ok()
        {
            valid.push((name.clone(), value.clone()));
        } else {
            warnings.push(Warning::new(
                "setup.invalid_config.otlp_headers",
                format!("ignoring the OTLP header {name:?} set in code: not a valid HTTP header"),
            ));
        }
    }
    valid
}

/// `env` headers with `code` headers replacing those of the same name.
fn merge_headers(
    mut env: Vec<(String, String)>,
    code: &[(String, String)],
) -> Vec<(String, String)> {
    for (name, value) in code {
        env.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        env.push((name.clone(), value.clone()));
    }
    env
}

/// `unknown_service:{executable name}`, as the specification asks.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_name()?.to_str().map(str::to_owned))
        .map_or_else(
            || "unknown_service".to_owned(),
            |name| format!("unknown_service:{name}"),
        )
}

#[cfg(test)]
mod tests;
