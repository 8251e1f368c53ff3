//! The standard HTTP server metrics.

use std::sync::Arc;

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    HTTP_REQUEST_METHOD, HTTP_ROUTE, NETWORK_PROTOCOL_VERSION, URL_SCHEME,
};
use opentelemetry_semantic_conventions::metric::HTTP_SERVER_REQUEST_DURATION;

use super::active::ActiveRequests;
use crate::grpc;
use crate::http_attrs::{DURATION_BOUNDARIES, Method};

/// The most attributes a duration measurement carries: the four labels
/// and the status code, or a call's attributes and status (both
/// conventions: four and two), and the error type.
const DURATION_ATTRIBUTES: usize = 7;

/// The instruments one server layer records into.
#[derive(Debug)]
pub(crate) struct Instruments {
    pub(crate) duration: Histogram<f64>,
    /// `rpc.server.call.duration`.
    pub(crate) rpc_duration: Histogram<f64>,
    pub(crate) active: Arc<ActiveRequests>,
}

impl Instruments {
    /// Creates the instruments with `meter`; the active-request counters
    /// are `active`, which this registers for reporting.
    pub(crate) fn new(meter: &Meter, active: Arc<ActiveRequests>) -> Self {
        active.register(meter);
        Self {
            duration: meter
                .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of HTTP server requests.")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            rpc_duration: meter
                .f64_histogram(grpc::RPC_SERVER_CALL_DURATION)
                .with_unit("s")
                .with_description("Duration of gRPC calls served.")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            active,
        }
    }
}

/// The low-cardinality request attributes the metrics carry, known when
/// the request starts.
#[derive(Debug)]
pub(crate) struct Labels {
    pub(crate) method: Method,
    pub(crate) scheme: StringValue,
    pub(crate) route: Option<StringValue>,
    pub(crate) version: Option<&'static str>,
    /// The gRPC call the request is, if it is one: measured as a call
    /// (`rpc.server.call.duration`), not as an HTTP request.
    pub(crate) rpc: Option<grpc::Call>,
}

impl Labels {
    /// The attributes of the duration measurement, always in the same
    /// order (the SDK finds the attribute set fastest that way), with room
    /// for the status code and error type that only the end knows.
    pub(crate) fn into_attributes(self) -> DurationAttributes {
        let mut attributes = DurationAttributes::new();
        if let Some(call) = self.rpc {
            for attribute in call.attributes() {
                attributes.push(attribute);
            }
            return attributes;
        }
        attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, self.method.attribute()));
        attributes.push(KeyValue::new(URL_SCHEME, self.scheme));
        if let Some(route) = self.route {
            attributes.push(KeyValue::new(HTTP_ROUTE, route));
        }
        if let Some(version) = self.version {
            attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
        }
        attributes
    }
}

/// The attributes of one duration measurement, held on the stack: the
/// histogram reads them as a slice, so they need no allocation.
pub(crate) struct DurationAttributes {
    items: [KeyValue; DURATION_ATTRIBUTES],
    len: usize,
}

impl DurationAttributes {
    fn new() -> Self {
        Self {
            // Static keys and values: no allocation.
            items: std::array::from_fn(|_| KeyValue::new("", "")),
            len: 0,
        }
    }

    /// Adds `attribute`; one past the room there is for is left out (the
    /// labels and the end add at most [`DURATION_ATTRIBUTES`]).
    pub(crate) fn push(&mut self, attribute: KeyValue) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = attribute;
            self.len += 1;
        }
    }

    /// The attributes pushed, in order.
    pub(crate) fn as_slice(&self) -> &[KeyValue] {
        &self.items[..self.len]
    }
}
