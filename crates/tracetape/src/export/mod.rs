//! Span export over OTLP without the generic conversion: over HTTP
//! ([`OtlpHttpExporter`]) and, with the `grpc` feature, over gRPC
//! (`OtlpGrpcExporter`), both sending the same encoded request.
//!
//! The SDK's OTLP exporters turn every finished span into generated
//! protobuf structs (copying each name, key and value) and encode those.
//! Here the wire format is written straight from the SDK's span data into
//! one buffer per batch, which makes export a small part of a request's
//! cost instead of the largest. The output is an ordinary OTLP
//! `ExportTraceServiceRequest`; tests decode it with the generated types and
//! compare it field by field with the SDK's own conversion.

mod encode;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
mod protobuf;
#[cfg(feature = "grpc")]
mod quick_ack;

#[cfg(feature = "grpc")]
pub use grpc::{GrpcExporterError, OtlpGrpcExporter};
pub use http::OtlpHttpExporter;

#[cfg(test)]
mod tests;
