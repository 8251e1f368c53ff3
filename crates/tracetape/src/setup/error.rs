//! The errors of flushing and shutting down telemetry.

use opentelemetry_sdk::error::OTelSdkError;

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
    #[error("failed to write the remaining recordings")]
    Recordings {
        /// What the recorder reported.
        #[source]
        err: FlushRecorderError,
    },
}
