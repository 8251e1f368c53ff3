//! The errors of flushing and shutting down telemetry.

use opentelemetry_sdk::error::OTelSdkError;

#[cfg(feature = "record-replay")]
use crate::record::FlushRecorderError;

/// The error of [`TelemetryGuard::force_flush`](super::TelemetryGuard::force_flush).
///
/// Both providers, and the recorder in record mode, are always flushed;
/// this reports the first that failed.
///
/// ```
/// use tracetape::setup::{FlushError, Telemetry};
///
/// let telemetry = Telemetry::builder().disabled(true).build();
/// match telemetry.force_flush() {
///     Ok(()) => {}
///     Err(FlushError::Traces { err }) => eprintln!("spans were lost: {err}"),
///     Err(err) => eprintln!("{err}"),
/// }
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// A span processor failed to export, or timed out.
    #[error("failed to flush spans")]
    Traces {
        /// What the SDK reported.
        #[source]
        err: OTelSdkError,
    },
    /// A metric reader failed to export, or timed out.
    #[error("failed to flush metrics")]
    Metrics {
        /// What the SDK reported.
        #[source]
        err: OTelSdkError,
    },
    /// Recordings were still waiting to be written when the timeout ran
    /// out (record mode).
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    #[error("failed to flush recordings")]
    Recordings {
        /// What the recorder reported.
        #[source]
        err: FlushRecorderError,
    },
}

/// The error of [`TelemetryGuard::shutdown`](super::TelemetryGuard::shutdown).
///
/// Both providers are always shut down, and the recorder flushed in record
/// mode; this reports the first that failed.
///
/// ```
/// use tracetape::setup::{ShutdownError, Telemetry};
///
/// let telemetry = Telemetry::builder().disabled(true).build();
/// telemetry.shutdown().unwrap();
/// assert!(matches!(telemetry.shutdown(), Err(ShutdownError::AlreadyShutDown)));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// `shutdown` was already called on this guard.
    #[error("failed to shut down telemetry: it was already shut down")]
    AlreadyShutDown,
    /// The tracer provider failed to export what it held, or timed out.
    #[error("failed to shut down the tracer provider")]
    Traces {
        /// What the SDK reported.
        #[source]
        err: OTelSdkError,
    },
    /// The meter provider failed to export what it held, or timed out.
    #[error("failed to shut down the meter provider")]
    Metrics {
        /// What the SDK reported.
        #[source]
        err: OTelSdkError,
    },
    /// Recordings were still waiting to be written when the timeout ran
    /// out (record mode).
    #[cfg(feature = "record-replay")]
    #[cfg_attr(docsrs, doc(cfg(feature = "record-replay")))]
    #[error("failed to write the remaining recordings")]
    Recordings {
        /// What the recorder reported.
        #[source]
        err: FlushRecorderError,
    },
}

/// The error of [`TelemetryBuilder::try_build`](super::TelemetryBuilder::try_build)
/// and [`try_init`](super::TelemetryBuilder::try_init): an OTLP exporter for
/// an `https://` endpoint could not be set up, or the settings ask for
/// something this build of tracetape leaves out.
///
/// [`build`](super::TelemetryBuilder::build) and [`init`](super::init)
/// report the same problem on standard error and go on without it: that
/// signal unexported, or tracing only. Either way, data meant for an https
/// collector never goes to the local store instead.
///
/// ```
/// use std::collections::HashMap;
/// use tracetape::setup::{SetupError, Telemetry};
///
/// let vars = HashMap::from([
///     ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector.example/v1/traces"),
///     ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/otel/client.key"),
/// ]);
/// match Telemetry::builder()
///     .with_env_lookup(move |name| vars.get(name).map(|value| value.to_string()))
///     .try_build()
/// {
///     Ok(_telemetry) => unreachable!("a client key without certificate is refused"),
///     Err(SetupError::Tls { signal, .. }) => assert_eq!(signal, "traces"),
///     Err(err) => panic!("{err}"),
/// }
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The TLS files (`OTEL_EXPORTER_OTLP_CERTIFICATE` and the client key
    /// and certificate) cannot be used.
    #[error("failed to set up TLS for exporting {signal} to {endpoint}")]
    Tls {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The URL the exporter would send to, without a user name and
        /// password.
        endpoint: String,
        /// What is wrong with the files.
        #[source]
        err: super::TlsError,
    },
    /// opentelemetry-otlp could not build the exporter for an https
    /// endpoint.
    #[error("failed to build the OTLP exporter of {signal} for {endpoint}")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The URL the exporter would send to, without a user name and
        /// password.
        endpoint: String,
        /// What opentelemetry-otlp reported.
        #[source]
        err: opentelemetry_otlp::ExporterBuildError,
    },
    /// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (or the code) asks for gRPC, and
    /// tracetape was built without its `grpc` feature.
    #[error(
        "OTLP over gRPC to {endpoint} was asked for {signal}, but tracetape was built without \
         its `grpc` feature: enable the feature, or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
    )]
    GrpcNotBuilt {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The URL the exporter would send to, without a user name and
        /// password.
        endpoint: String,
    },
    /// `TRACETAPE_MODE` asks for record or replay mode, and tracetape was
    /// built without its `record-replay` feature.
    ///
    /// [`init`](super::init) reports it on standard error and traces only:
    /// nothing is recorded, and in replay mode outbound calls go to the
    /// network instead of being answered from recordings.
    ///
    /// ```
    /// use tracetape::setup::{SetupError, Telemetry};
    ///
    /// match Telemetry::builder()
    ///     .with_env_lookup(|name| (name == "TRACETAPE_MODE").then(|| "replay".to_owned()))
    ///     .disabled(true)
    ///     .try_build()
    /// {
    ///     Ok(_telemetry) => {} // built with `record-replay`
    ///     Err(SetupError::RecordReplayNotBuilt { mode }) => assert_eq!(mode, "replay"),
    ///     Err(err) => panic!("{err}"),
    /// }
    /// ```
    #[error(
        "TRACETAPE_MODE={mode} was asked for, but tracetape was built without its \
         `record-replay` feature: enable the feature, or unset TRACETAPE_MODE"
    )]
    RecordReplayNotBuilt {
        /// `record` or `replay`.
        mode: &'static str,
    },
}

impl SetupError {
    /// The name `build` reports the error under, and what becomes of what
    /// it stopped.
    pub(crate) fn consequence(&self) -> (&'static str, &'static str) {
        match self {
            SetupError::Tls { signal, .. }
            | SetupError::Exporter { signal, .. }
            | SetupError::GrpcNotBuilt { signal, .. } => match *signal {
                "traces" => (
                    "setup.otlp_span_exporter_failed",
                    "spans are not exported (nor kept in the local store)",
                ),
                _ => (
                    "setup.otlp_metric_exporter_failed",
                    "metrics are not exported (nor kept in the local store)",
                ),
            },
            SetupError::RecordReplayNotBuilt { mode: "replay" } => (
                "setup.record_replay_not_built",
                "NOTHING IS REPLAYED: outbound calls go to the network, tracing goes on",
            ),
            SetupError::RecordReplayNotBuilt { .. } => (
                "setup.record_replay_not_built",
                "nothing is recorded, tracing goes on",
            ),
        }
    }

    /// The error for a failed exporter of `signal` sending to `endpoint`
    /// (kept without a user name and password, since it is shown).
    pub(crate) fn new(
        signal: &'static str,
        endpoint: String,
        err: super::otlp::BuildError,
    ) -> SetupError {
        let endpoint =
            crate::http_attrs::redact_url(&endpoint, &crate::http_attrs::QueryKeys::default())
                .into_owned();
        match err {
            super::otlp::BuildError::Tls(err) => SetupError::Tls {
                signal,
                endpoint,
                err,
            },
            super::otlp::BuildError::Exporter(err) => SetupError::Exporter {
                signal,
                endpoint,
                err,
            },
            super::otlp::BuildError::GrpcNotBuilt => SetupError::GrpcNotBuilt { signal, endpoint },
        }
    }
}
