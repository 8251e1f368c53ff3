//! The direct encoding is byte for byte what the SDK's own conversion plus
//! prost produce, for spans with every kind of field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;

use super::encode::{EncodedResource, encode};
use crate::otlp_span::fixtures::{batch, resource};

/// Encodes `spans` both ways and compares the bytes.
fn assert_same_bytes(
    spans: Vec<SpanData>,
    ours: &EncodedResource,
    sdk: &ResourceAttributesWithSchema,
) {
    let mut bytes = Vec::new();
    encode(&spans, ours, &mut bytes);
    let expected = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, sdk),
    };
    assert_eq!(bytes, expected.encode_to_vec());
    // And it is a well-formed request in its own right.
    ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
}

#[test]
fn direct_encoding_matches_the_sdk_conversion() {
    let resource = resource();
    assert_same_bytes(
        batch(),
        &EncodedResource::new(&resource),
        &ResourceAttributesWithSchema::from(&resource),
    );
}

#[test]
fn an_empty_resource_and_a_single_span_match_too() {
    assert_same_bytes(
        batch().into_iter().take(1).collect(),
        &EncodedResource::default(),
        &ResourceAttributesWithSchema::default(),
    );
}
