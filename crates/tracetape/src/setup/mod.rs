//! One-call telemetry setup from the standard `OTEL_*` environment
//! variables.
//!
//! [`init`] builds a tracer provider, a meter provider and a text-map
//! propagator from the environment, installs them as OpenTelemetry's
//! globals, and returns a [`TelemetryGuard`] that flushes and shuts them
//! down when it drops. [`Telemetry::builder`] does the same with settings
//! made in code, which win over the environment; its
//! [`build`](TelemetryBuilder::build) returns the guard without touching
//! the globals.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() {
//!     // With nothing set, spans go to the local store in .tracetape/traces.
//!     // OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 sends them there.
//!     let _telemetry = tracetape::init();
//! }
//! ```
//!
//! Setup never fails and never panics: a value that cannot be used is
//! reported once on standard error (naming the variable, the value and what
//! is used instead) and the default applies. When the OTLP span exporter
//! for an `http://` endpoint cannot be built, spans go to the local store.
//! For an `https://` endpoint they never do: TLS files that cannot be read
//! or parsed, or an exporter that cannot be built, are reported and that
//! signal is not exported; [`TelemetryBuilder::try_init`] and
//! [`try_build`](TelemetryBuilder::try_build) return the [`SetupError`]
//! instead, to stop at start.
//!
//! # TLS
//!
//! An `https://` endpoint is reached over TLS (rustls) for both protocols.
//! The collector's certificate is verified against the platform's roots,
//! or only against `OTEL_EXPORTER_OTLP_CERTIFICATE` when it is set (a
//! private CA). `OTEL_EXPORTER_OTLP_CLIENT_KEY` and
//! `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` together give a client
//! certificate for mutual TLS; one without the other is an error. The files
//! are PEM, read once at start; with an `http://` endpoint they are not
//! read. In code, [`TelemetryBuilder::with_otlp_certificate`] and
//! [`TelemetryBuilder::with_otlp_client_identity`] name them for both
//! signals, over the variables. Recordings forwarded to an `https://`
//! `TRACETAPE_RECORD_OTLP_ENDPOINT` are verified with the trace exporter's
//! files.
//!
//! # Environment variables
//!
//! Names and meanings follow the [OpenTelemetry
//! specification](https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
//! Values are trimmed and an empty value counts as unset.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `true`, `false` | `false` |
//! | `OTEL_SERVICE_NAME` | any | `unknown_service:{executable}` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...`, values percent-encoded | none |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `none`, `local` (the first of a list) | `otlp` if an OTLP endpoint is set, else `local` |
//! | `OTEL_METRICS_EXPORTER` | `otlp`, `console`, `none` (the first of a list) | `otlp` if an OTLP endpoint is set, else `none` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://` or `https://` base URL; `/v1/traces`, `/v1/metrics` appended for http/protobuf | `http://localhost:4318` (http/protobuf), `http://localhost:4317` (gRPC) |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `_METRICS_ENDPOINT` | URL, used as-is | the generic endpoint |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `grpc`, `http/protobuf` (`http/json` is not supported and uses `http/protobuf`) | `http/protobuf` |
//! | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `_METRICS_PROTOCOL` | as above | the generic protocol |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `name=value,...`, values percent-encoded | none |
//! | `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `_METRICS_HEADERS` | as above, replacing the generic list | the generic headers |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds, positive | `10000` |
//! | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, `_METRICS_TIMEOUT` | as above | the generic timeout |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` | `gzip` or `none`: gzip compresses the spans sent over gRPC (http/protobuf sends them uncompressed) | `none` |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE` | path of a PEM file: the CA certificates trusted for an `https://` endpoint, instead of the platform's roots | the platform's roots |
//! | `OTEL_EXPORTER_OTLP_CLIENT_KEY`, `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` | paths of PEM files: the private key and certificate chain of the client, for mutual TLS; both or neither | none |
//! | `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`, `_TRACES_CLIENT_KEY`, `_TRACES_CLIENT_CERTIFICATE`, and the same for `METRICS` | as above, for one signal, each winning over its generic variable | the generic file |
//! | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | ratio in `[0, 1]`, for the ratio samplers | `1.0` |
//! | `OTEL_BSP_SCHEDULE_DELAY` | milliseconds, positive | `5000` |
//! | `OTEL_BSP_EXPORT_TIMEOUT` | milliseconds, positive; validated, but the SDK's batch processor has no export timeout (the OTLP timeout bounds each export) | `30000` |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | spans, positive: at most this many wait, besides the batch being exported (as the SDK counts its queue); past it spans are dropped, counted ([`SpanCounts::queue_full`]) and warned about once (`setup.span_queue_full`) | `2048` |
//! | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans, positive, at most the queue size | `512` |
//! | `OTEL_PROPAGATORS` | a list of `tracecontext` (W3C Trace Context), `baggage` (W3C Baggage), `b3` (B3 single header), `b3multi` (B3 multiple headers), or `none` alone; `jaeger`, `xray`, `ottrace` are not implemented and are skipped (see [`propagation`](crate::propagation)) | `tracecontext,baggage` |
//! | `TRACETAPE_MODE` | `off`, `record` (start a [`Recorder`](crate::record::Recorder) for `service.name`; [`init`] installs it for the whole process), `replay` (load a [`Replayer`](crate::replay::Replayer) from `TRACETAPE_RECORD_DIR`; replayed requests' outbound calls are answered from their recordings) | `off` |
//! | `TRACETAPE_RECORD_SAMPLE_RATE` | share of inbound requests recorded, in `[0, 1]`, separate from trace sampling | `1` |
//! | `TRACETAPE_RECORD_MAX_BODY_BYTES` | bytes of each body kept; longer bodies are marked truncated | `1048576` |
//! | `TRACETAPE_RECORD_DIR` | where recordings are written (created, mode 0700, at start-up; when that fails, one warning and tracing only) | `.tracetape/recordings` |
//! | `TRACETAPE_RECORD_QUEUE` | recordings waiting to be written, positive; past it they are dropped and counted | `1024` |
//!
//! A per-signal variable wins over the generic one, and a builder setting
//! wins over both. Headers merge: a header set in code replaces the one of
//! the same name from the environment. For metrics over gRPC,
//! opentelemetry-otlp still reads `OTEL_EXPORTER_OTLP_COMPRESSION`,
//! `OTEL_EXPORTER_OTLP_INSECURE` and their per-signal variants itself; the
//! SDK reads `OTEL_SPAN_*_LIMIT` and `OTEL_METRIC_EXPORT_INTERVAL`.
//!
//! Record mode (`TRACETAPE_*`, see [`RecordSettings`](crate::record::RecordSettings))
//! is off when telemetry is disabled. The [`TelemetryGuard`] flushes the
//! recorder (5 s at most) when it flushes, shuts down or drops, and stops
//! it being the process-wide one.
//!
//! # Runtime
//!
//! Span exporters work anywhere: over gRPC the exporter runs its calls on
//! a one-thread Tokio runtime of its own, so that a busy service does not
//! slow its exports down. The gRPC metric exporter (opentelemetry-otlp's)
//! needs a Tokio runtime when it is built: call [`init`] inside one (a
//! multi-thread runtime, or flush and shut down from `spawn_blocking` on a
//! current-thread one). Outside a runtime, metrics over gRPC are reported
//! and sent over http/protobuf instead.

mod builder;
mod config;
mod error;
mod exporter;
mod guard;
mod installed;
mod otlp;
mod pipeline;
mod propagation;
#[cfg(feature = "record-replay")]
mod record;
mod settings;
mod span_counts;
mod startup;
mod tls;
#[cfg(not(feature = "record-replay"))]
mod unbuilt;

#[cfg(not(feature = "record-replay"))]
use unbuilt as record;

pub use builder::{Telemetry, TelemetryBuilder, init};
pub use error::{FlushError, SetupError, ShutdownError};
pub use exporter::{MetricsExporter, OtlpProtocol, TracesExporter};
pub use guard::TelemetryGuard;
#[cfg(feature = "record-replay")]
pub(crate) use settings::Warning;
pub use span_counts::SpanCounts;
pub use tls::TlsError;
#[cfg(all(test, feature = "record-replay"))]
pub(crate) use tls::file_setting;
#[cfg(feature = "record-replay")]
pub(crate) use tls::is_https;
pub(crate) use tls::{TlsFiles, TlsMaterial};
