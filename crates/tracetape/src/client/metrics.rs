//! The standard HTTP client metric, and gRPC's.

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry_semantic_conventions::metric::HTTP_CLIENT_REQUEST_DURATION;

use crate::grpc;
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

/// `rpc.client.call.duration`, in seconds, with the same buckets.
pub(crate) fn rpc_duration(meter: &Meter) -> Histogram<f64> {
    meter
        .f64_histogram(grpc::RPC_CLIENT_CALL_DURATION)
        .with_unit("s")
        .with_description("Duration of gRPC calls made.")
        .with_boundaries(DURATION_BOUNDARIES.to_vec())
        .build()
}
