//! Placeholder: telemetry setup.

/// Placeholder.
#[derive(Debug, Default)]
pub struct Telemetry;
/// Placeholder.
#[derive(Debug)]
pub struct TelemetryGuard;
/// Placeholder.
pub fn init() -> TelemetryGuard {
    TelemetryGuard
}
