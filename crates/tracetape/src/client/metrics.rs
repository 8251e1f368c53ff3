//! The standard HTTP client metric.

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry_semantic_conventions::metric::HTTP_CLIENT_REQUEST_DURATION;

use crate::http_attrs::DURATION_BOUNDARIES;

/// `http.client.request.duration`, in seconds, with the conventions'
/// buckets.
pub(crate) fn duration(meter: &Meter) -> Histogram<f64> {
    meter
        .f64_histogram(HTTP_CLIENT_REQUEST_DURATION)
        .with_unit("s")
        .with_description("Duration of HTTP client requests.")
        .with_boundaries(DURATION_BOUNDARIES.to_vec())
        .build()
}
