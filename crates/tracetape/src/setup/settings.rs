//! Reading the `OTEL_*` environment variables into a plain [`Settings`]
//! value.
//!
//! Parsing never fails: a value that cannot be used becomes a [`Warning`]
//! and the setting keeps its default. The variables are read through a
//! lookup function, so tests can feed any environment without touching the
//! process's own.

use std::time::Duration;

use opentelemetry_sdk::trace::{
    OTEL_BSP_EXPORT_TIMEOUT_DEFAULT, OTEL_BSP_MAX_EXPORT_BATCH_SIZE_DEFAULT,
    OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT, OTEL_BSP_SCHEDULE_DELAY_DEFAULT, Sampler,
};

use super::exporter::{MetricsExporter, OtlpProtocol, TracesExporter};
use super::propagation::Propagator;
use super::tls::{TlsFiles, file_setting};

pub(crate) const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub(crate) const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
pub(crate) const METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
pub(crate) const TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
pub(crate) const BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
pub(crate) const BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
pub(crate) const BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
pub(crate) const PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// Everything tracetape takes from the environment, after validation.
///
/// `None` and empty lists mean "not set": the builder's code settings and
/// then the defaults decide.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub(crate) disabled: bool,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) traces_exporter: Option<TracesExporter>,
    pub(crate) metrics_exporter: Option<MetricsExporter>,
    pub(crate) traces_otlp: OtlpSettings,
    pub(crate) metrics_otlp: OtlpSettings,
    pub(crate) sampler: SamplerKind,
    pub(crate) batch: BatchSettings,
    pub(crate) propagators: Vec<Propagator>,
}

/// The OTLP settings of one signal, the per-signal variable already chosen
/// over the generic one.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct OtlpSettings {
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) protocol: Option<OtlpProtocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`: `Some(true)` for `gzip`.
    pub(crate) gzip: Option<bool>,
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_KEY`, `_CLIENT_CERTIFICATE`.
    pub(crate) tls: TlsFiles,
}

/// Where OTLP data goes, and whether the signal's path is still to be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A base URL (`OTEL_EXPORTER_OTLP_ENDPOINT` or code): for
    /// http/protobuf the signal path (`/v1/traces`) is appended.
    Base(String),
    /// A per-signal URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): used as-is.
    Signal(String),
}

impl Endpoint {
    /// The URL to send one signal to.
    pub(crate) fn url(&self, protocol: OtlpProtocol, signal_path: &str) -> String {
        match (self, protocol) {
            (Endpoint::Signal(url), _) | (Endpoint::Base(url), OtlpProtocol::Grpc) => url.clone(),
            (Endpoint::Base(url), OtlpProtocol::HttpProtobuf) => {
                format!("{}{signal_path}", url.trim_end_matches('/'))
            }
        }
    }
}

/// The samplers of `OTEL_TRACES_SAMPLER`, with their ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SamplerKind {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

impl SamplerKind {
    pub(crate) fn to_sampler(self) -> Sampler {
        match self {
            SamplerKind::AlwaysOn => Sampler::AlwaysOn,
            SamplerKind::AlwaysOff => Sampler::AlwaysOff,
            SamplerKind::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
            SamplerKind::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerKind::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            SamplerKind::ParentBasedTraceIdRatio(ratio) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
            }
        }
    }
}

/// Batch span processor settings (`OTEL_BSP_*`), defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchSettings {
    pub(crate) schedule_delay: Duration,
    pub(crate) export_timeout: Duration,
    pub(crate) max_queue_size: usize,
    pub(crate) max_export_batch_size: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            schedule_delay: OTEL_BSP_SCHEDULE_DELAY_DEFAULT,
            export_timeout: OTEL_BSP_EXPORT_TIMEOUT_DEFAULT,
            max_queue_size: OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT,
            max_export_batch_size: OTEL_BSP_MAX_EXPORT_BATCH_SIZE_DEFAULT,
        }
    }
}

/// A configuration problem, reported once per `name` through
/// [`crate::diag::warn_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warning {
    pub(crate) name: String,
    pub(crate) message: String,
}

impl Warning {
    pub(crate) fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            name: name.into(),
            message: message.into(),
        }
    }

    /// A variable whose value cannot be used; `fallback` says what is used
    /// instead.
    pub(crate) fn invalid_env(var: &str, value: &str, reason: &str, fallback: &str) -> Self {
        Warning::new(
            format!("setup.invalid_env.{var}"),
            format!("ignoring {var}={value:?}: {reason}; using {fallback}"),
        )
    }

    pub(crate) fn report(&self) {
        crate::diag::warn_once(&self.name, &self.message);
    }
}

impl Settings {
    /// Reads the process environment.
    pub(crate) fn from_env() -> (Settings, Vec<Warning>) {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, which returns a variable's value or
    /// `None` when it is unset.
    pub(crate) fn from_lookup<F>(lookup: F) -> (Settings, Vec<Warning>)
    where
        F: Fn(&str) -> Option<String>,
    {
        let mut env = Env {
            lookup: &lookup,
            warnings: Vec::new(),
        };
        let settings = Settings {
            disabled: env.disabled(),
            service_name: env.get(SERVICE_NAME),
            resource_attributes: env.resource_attributes(),
            traces_exporter: env.traces_exporter(),
            metrics_exporter: env.metrics_exporter(),
            traces_otlp: env.otlp("TRACES"),
            metrics_otlp: env.otlp("METRICS"),
            sampler: env.sampler(),
            batch: env.batch(),
            propagators: env.propagators(),
        };
        // The generic OTLP variables are read once per signal: report once.
        let mut warnings: Vec<Warning> = Vec::new();
        for warning in env.warnings {
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
        (settings, warnings)
    }
}

/// The lookup plus the warnings collected while reading through it.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<Warning>,
}

impl Env<'_> {
    /// A variable's trimmed value; empty counts as unset, as the spec asks.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn invalid(&mut self, var: &str, value: &str, reason: &str, fallback: &str) {
        self.warnings
            .push(Warning::invalid_env(var, value, reason, fallback));
    }

    fn disabled(&mut self) -> bool {
        let Some(value) = self.get(SDK_DISABLED) else {
            return false;
        };
        if value.eq_ignore_ascii_case("true") {
            true
        } else {
            if !value.eq_ignore_ascii_case("false") {
                self.invalid(SDK_DISABLED, &value, "expected true or false", "false");
            }
            false
        }
    }

    fn resource_attributes(&mut self) -> Vec<(String, String)> {
        let Some(value) = self.get(RESOURCE_ATTRIBUTES) else {
            return Vec::new();
        };
        match parse_key_values(&value) {
            Ok(pairs) => pairs,
            Err(reason) => {
                self.invalid(
                    RESOURCE_ATTRIBUTES,
                    &value,
                    &reason,
                    "no attributes from it",
                );
                Vec::new()
            }
        }
    }

    /// The first entry of a comma-separated exporter list, lowercased.
    fn first_of_list(&mut self, var: &str) -> Option<(String, String)> {
        let value = self.get(var)?;
        let mut entries = value.split(',').map(str::trim).filter(|e| !e.is_empty());
        let first = entries.next()?.to_ascii_lowercase();
        if entries.next().is_some() {
            self.warnings.push(Warning::new(
                format!("setup.invalid_env.{var}"),
                format!("{var}={value:?} names several exporters; only {first:?} is used"),
            ));
        }
        Some((value, first))
    }

    fn traces_exporter(&mut self) -> Option<TracesExporter> {
        let (value, first) = self.first_of_list(TRACES_EXPORTER)?;
        let exporter = match first.as_str() {
            "otlp" => TracesExporter::Otlp,
            "console" => TracesExporter::Console,
            "none" => TracesExporter::None,
            "local" => TracesExporter::Local,
            _ => {
                self.invalid(
                    TRACES_EXPORTER,
                    &value,
                    "expected otlp, console, none or local",
                    "the default exporter",
                );
                return None;
            }
        };
        Some(exporter)
    }

    fn metrics_exporter(&mut self) -> Option<MetricsExporter> {
        let (value, first) = self.first_of_list(METRICS_EXPORTER)?;
        let exporter = match first.as_str() {
            "otlp" => MetricsExporter::Otlp,
            "console" => MetricsExporter::Console,
            "none" => MetricsExporter::None,
            _ => {
                self.invalid(
                    METRICS_EXPORTER,
                    &value,
                    "expected otlp, console or none",
                    "the default exporter",
                );
                return None;
            }
        };
        Some(exporter)
    }

    /// Reads `OTEL_EXPORTER_OTLP_{SIGNAL}_*`, falling back to the generic
    /// `OTEL_EXPORTER_OTLP_*` one setting at a time.
    fn otlp(&mut self, signal: &str) -> OtlpSettings {
        let specific = |setting: &str| format!("OTEL_EXPORTER_OTLP_{signal}_{setting}");
        let generic = |setting: &str| format!("OTEL_EXPORTER_OTLP_{setting}");

        let endpoint = match self.endpoint(
            &specific("ENDPOINT"),
            "OTEL_EXPORTER_OTLP_ENDPOINT or the default",
        ) {
            Some(url) => Some(Endpoint::Signal(url)),
            None => self
                .endpoint(&generic("ENDPOINT"), "the default endpoint")
                .map(Endpoint::Base),
        };
        let protocol = self
            .protocol(
                &specific("PROTOCOL"),
                "OTEL_EXPORTER_OTLP_PROTOCOL or http/protobuf",
            )
            .or_else(|| self.protocol(&generic("PROTOCOL"), "http/protobuf"));
        let headers = match self.headers(&specific("HEADERS")) {
            Some(headers) => headers,
            None => self.headers(&generic("HEADERS")).unwrap_or_default(),
        };
        let timeout = self
            .millis(
                &specific("TIMEOUT"),
                "OTEL_EXPORTER_OTLP_TIMEOUT or 10000 ms",
            )
            .or_else(|| self.millis(&generic("TIMEOUT"), "10000 ms"));
        let gzip = self
            .compression(
                &specific("COMPRESSION"),
                "OTEL_EXPORTER_OTLP_COMPRESSION or none",
            )
            .or_else(|| self.compression(&generic("COMPRESSION"), "none"));
        let tls = TlsFiles {
            certificate: self.file(&specific("CERTIFICATE"), &generic("CERTIFICATE")),
            client_key: self.file(&specific("CLIENT_KEY"), &generic("CLIENT_KEY")),
            client_certificate: self.file(
                &specific("CLIENT_CERTIFICATE"),
                &generic("CLIENT_CERTIFICATE"),
            ),
        };
        OtlpSettings {
            endpoint,
            protocol,
            headers,
            timeout,
            gzip,
            tls,
        }
    }

    /// A file path from the per-signal variable, else the generic one. The
    /// file is read when the exporter is built, and only for https.
    fn file(&self, specific: &str, generic: &str) -> Option<super::tls::FileSetting> {
        [specific, generic]
            .into_iter()
            .find_map(|var| self.get(var).map(|value| file_setting(var, value)))
    }

    fn endpoint(&mut self, var: &str, fallback: &str) -> Option<String> {
        let value = self.get(var)?;
        match check_endpoint(&value) {
            Ok(()) => Some(value),
            Err(reason) => {
                self.invalid(var, &value, &reason, fallback);
                None
            }
        }
    }

    fn protocol(&mut self, var: &str, fallback: &str) -> Option<OtlpProtocol> {
        let value = self.get(var)?;
        match value.to_ascii_lowercase().as_str() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "http/json" => {
                self.invalid(var, &value, "http/json is not supported", "http/protobuf");
                Some(OtlpProtocol::HttpProtobuf)
            }
            _ => {
                self.invalid(var, &value, "expected grpc or http/protobuf", fallback);
                None
            }
        }
    }

    /// `gzip` or `none`: whether to compress.
    fn compression(&mut self, var: &str, fallback: &str) -> Option<bool> {
        let value = self.get(var)?;
        match value.to_ascii_lowercase().as_str() {
            "gzip" => Some(true),
            "none" => Some(false),
            _ => {
                self.invalid(var, &value, "expected gzip or none", fallback);
                None
            }
        }
    }

    fn headers(&mut self, var: &str) -> Option<Vec<(String, String)>> {
        let value = self.get(var)?;
        match parse_key_values(&value) {
            Ok(pairs) => {
                let (valid, invalid): (Vec<_>, Vec<_>) = pairs
                    .into_iter()
                    .partition(|(name, value)| is_header(name, value));
                if let Some((name, _)) = invalid.first() {
                    let reason = format!("{name:?} is not a valid HTTP header");
                    self.invalid(var, &value, &reason, "the other headers");
                }
                Some(valid)
            }
            Err(reason) => {
                self.invalid(var, &value, &reason, "no headers from it");
                Some(Vec::new())
            }
        }
    }

    /// A positive number of milliseconds.
    fn millis(&mut self, var: &str, default: &str) -> Option<Duration> {
        self.positive(var, default).map(Duration::from_millis)
    }

    fn positive(&mut self, var: &str, default: &str) -> Option<u64> {
        let value = self.get(var)?;
        match value.parse::<u64>() {
            Ok(number) if number > 0 => Some(number),
            _ => {
                self.invalid(var, &value, "expected a positive integer", default);
                None
            }
        }
    }

    fn sampler(&mut self) -> SamplerKind {
        let default = SamplerKind::ParentBasedAlwaysOn;
        let Some(value) = self.get(TRACES_SAMPLER) else {
            return default;
        };
        match value.to_ascii_lowercase().as_str() {
            "always_on" => SamplerKind::AlwaysOn,
            "always_off" => SamplerKind::AlwaysOff,
            "traceidratio" => SamplerKind::TraceIdRatio(self.sampler_ratio()),
            "parentbased_always_on" => SamplerKind::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerKind::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => {
                SamplerKind::ParentBasedTraceIdRatio(self.sampler_ratio())
            }
            _ => {
                self.invalid(
                    TRACES_SAMPLER,
                    &value,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio",
                    "parentbased_always_on",
                );
                default
            }
        }
    }

    fn sampler_ratio(&mut self) -> f64 {
        let Some(value) = self.get(TRACES_SAMPLER_ARG) else {
            return 1.0;
        };
        match value.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
            _ => {
                self.invalid(
                    TRACES_SAMPLER_ARG,
                    &value,
                    "expected a ratio between 0 and 1",
                    "1.0",
                );
                1.0
            }
        }
    }

    fn batch(&mut self) -> BatchSettings {
        let default = BatchSettings::default();
        let schedule_delay = self
            .millis(BSP_SCHEDULE_DELAY, "5000 ms")
            .unwrap_or(default.schedule_delay);
        let export_timeout = self
            .millis(BSP_EXPORT_TIMEOUT, "30000 ms")
            .unwrap_or(default.export_timeout);
        let max_queue_size = self.size(BSP_MAX_QUEUE_SIZE, default.max_queue_size);
        let mut max_export_batch_size =
            self.size(BSP_MAX_EXPORT_BATCH_SIZE, default.max_export_batch_size);
        if max_export_batch_size > max_queue_size {
            self.warnings.push(Warning::new(
                format!("setup.invalid_env.{BSP_MAX_EXPORT_BATCH_SIZE}"),
                format!(
                    "{BSP_MAX_EXPORT_BATCH_SIZE} ({max_export_batch_size}) is larger than \
                     the queue ({max_queue_size}); using {max_queue_size}"
                ),
            ));
            max_export_batch_size = max_queue_size;
        }
        BatchSettings {
            schedule_delay,
            export_timeout,
            max_queue_size,
            max_export_batch_size,
        }
    }

    fn size(&mut self, var: &str, default: usize) -> usize {
        self.positive(var, &default.to_string())
            .and_then(|number| usize::try_from(number).ok())
            .unwrap_or(default)
    }

    fn propagators(&mut self) -> Vec<Propagator> {
        let default = vec![Propagator::TraceContext, Propagator::Baggage];
        let Some(value) = self.get(PROPAGATORS) else {
            return default;
        };
        let mut propagators = Vec::new();
        let mut none = false;
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let propagator = match entry.to_ascii_lowercase().as_str() {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                "none" => {
                    none = true;
                    continue;
                }
                name @ ("jaeger" | "xray" | "ottrace") => {
                    self.warnings.push(Warning::new(
                        format!("setup.unsupported_propagator.{name}"),
                        format!(
                            "{PROPAGATORS} names {name:?}, which is not implemented yet in \
                             this release; skipping it"
                        ),
                    ));
                    continue;
                }
                _ => {
                    self.invalid(PROPAGATORS, entry, "unknown propagator", "the others");
                    continue;
                }
            };
            if !propagators.contains(&propagator) {
                propagators.push(propagator);
            }
        }
        if none {
            if !propagators.is_empty() {
                self.invalid(
                    PROPAGATORS,
                    &value,
                    "\"none\" cannot be combined with other propagators",
                    "none",
                );
            }
            propagators.clear();
        }
        propagators
    }
}

/// Parses `key1=value1,key2=value2` with percent-encoded values (the W3C
/// baggage format used by `OTEL_RESOURCE_ATTRIBUTES` and the OTLP headers).
pub(crate) fn parse_key_values(input: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for entry in input.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("entry {entry:?} is not key=value"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("entry {entry:?} has an empty key"));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("entry {entry:?} has a badly percent-encoded value"))?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_header(name: &str, value: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && http::HeaderValue::from_str(value).is_ok()
}

/// Accepts absolute `http://` and `https://` URLs with a host.
pub(crate) fn check_endpoint(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|err| format!("not a URL ({err})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("expected an http:// or https:// URL".to_owned()),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err("the URL has no host".to_owned()),
    }
}

#[cfg(test)]
mod tests;
