//! Finished spans to an OTLP `ExportTraceServiceRequest` (the same bytes as
//! a `TracesData` document), encoded directly from the SDK's `SpanData`.
//!
//! The generic path converts every span into generated protobuf structs,
//! copying each string, then encodes and frees them; writing the wire format
//! from `SpanData` does the same work with no allocation per field.

use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry::trace::{SpanId, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use crate::otlp_span::{by_scope, flags, kind, nanos};

use super::protobuf::Writer;

/// What an exporter keeps from batch to batch: the encoded resource, and
/// the size of the last request, which the next one's buffer starts at.
#[derive(Debug, Default)]
pub(crate) struct BatchEncoder {
    resource: EncodedResource,
    last_len: AtomicUsize,
}

impl BatchEncoder {
    /// The resource every request carries from now on.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
    }

    /// `batch` as one `ExportTraceServiceRequest`, the span data dropped
    /// as soon as it is written.
    pub(crate) fn request(&self, batch: Vec<SpanData>) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.last_len.load(Ordering::Relaxed));
        encode(&batch, &self.resource, &mut body);
        drop(batch);
        self.last_len.store(body.len(), Ordering::Relaxed);
        body
    }
}

/// The resource part of every request, encoded once.
#[derive(Debug, Default, Clone)]
pub(crate) struct EncodedResource {
    /// The `Resource` message body.
    attributes: Vec<u8>,
    schema_url: String,
}

impl EncodedResource {
    pub(crate) fn new(resource: &Resource) -> Self {
        let mut w = Writer::default();
        for (key, value) in resource.iter() {
            w.message(1, |w| key_value(w, key.as_str(), value));
        }
        Self {
            attributes: w.buf,
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        }
    }
}

/// Appends the encoded request for `spans` to `out`.
pub(crate) fn encode(spans: &[SpanData], resource: &EncodedResource, out: &mut Vec<u8>) {
    let scopes = by_scope(spans);
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    w.message(1, |w| {
        w.message(1, |w| w.buf.extend_from_slice(&resource.attributes));
        for (scope, members) in &scopes {
            w.message(2, |w| scope_spans(w, scope, members));
        }
        w.bytes(3, resource.schema_url.as_bytes());
    });
    *out = w.buf;
}

fn scope_spans(w: &mut Writer, scope: &InstrumentationScope, spans: &[&SpanData]) {
    w.message(1, |w| {
        w.bytes(1, scope.name().as_bytes());
        w.bytes(2, scope.version().unwrap_or_default().as_bytes());
        for kv in scope.attributes() {
            w.message(3, |w| key_value(w, kv.key.as_str(), &kv.value));
        }
    });
    for span in spans {
        w.message(2, |w| span_message(w, span));
    }
    w.bytes(3, scope.schema_url().unwrap_or_default().as_bytes());
}

fn span_message(w: &mut Writer, span: &SpanData) {
    let cx = &span.span_context;
    w.bytes(1, &cx.trace_id().to_bytes());
    w.bytes(2, &cx.span_id().to_bytes());
    w.bytes(3, cx.trace_state().header().as_bytes());
    if span.parent_span_id != SpanId::INVALID {
        w.bytes(4, &span.parent_span_id.to_bytes());
    }
    w.bytes(5, span.name.as_bytes());
    w.uint(6, kind(&span.span_kind));
    w.fixed64(7, nanos(span.start_time));
    w.fixed64(8, nanos(span.end_time));
    attributes(w, 9, &span.attributes);
    w.uint(10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        w.message(11, |w| {
            w.fixed64(1, nanos(event.timestamp));
            w.bytes(2, event.name.as_bytes());
            attributes(w, 3, &event.attributes);
            w.uint(4, u64::from(event.dropped_attributes_count));
        });
    }
    w.uint(12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        let lcx = &link.span_context;
        w.message(13, |w| {
            w.bytes(1, &lcx.trace_id().to_bytes());
            w.bytes(2, &lcx.span_id().to_bytes());
            w.bytes(3, lcx.trace_state().header().as_bytes());
            attributes(w, 4, &link.attributes);
            w.uint(5, u64::from(link.dropped_attributes_count));
            w.fixed32(6, flags(lcx.is_remote(), lcx.trace_flags().to_u8()));
        });
    }
    w.uint(14, u64::from(span.links.dropped_count));
    w.message(15, |w| match &span.status {
        Status::Unset => {}
        Status::Ok => w.uint(3, 1),
        Status::Error { description } => {
            w.bytes(2, description.as_bytes());
            w.uint(3, 2);
        }
    });
    w.fixed32(
        16,
        flags(span.parent_span_is_remote, cx.trace_flags().to_u8()),
    );
}

fn attributes(w: &mut Writer, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        w.message(field, |w| key_value(w, kv.key.as_str(), &kv.value));
    }
}

fn key_value(w: &mut Writer, key: &str, value: &Value) {
    w.bytes(1, key.as_bytes());
    w.message(2, |w| any_value(w, value));
}

/// The members of an `AnyValue` oneof.
fn any_value(w: &mut Writer, value: &Value) {
    match value {
        Value::String(s) => w.bytes_always(1, s.as_str().as_bytes()),
        Value::Bool(b) => w.bool_always(2, *b),
        Value::I64(i) => w.int64_always(3, *i),
        Value::F64(f) => w.double_always(4, *f),
        Value::Array(array) => w.message(5, |w| match array {
            Array::Bool(values) => values
                .iter()
                .for_each(|v| w.message(1, |w| w.bool_always(2, *v))),
            Array::I64(values) => values
                .iter()
                .for_each(|v| w.message(1, |w| w.int64_always(3, *v))),
            Array::F64(values) => values
                .iter()
                .for_each(|v| w.message(1, |w| w.double_always(4, *v))),
            Array::String(values) => values
                .iter()
                .for_each(|v| w.message(1, |w| w.bytes_always(1, v.as_str().as_bytes()))),
            // A kind of array this build does not know: an empty array.
            _ => {}
        }),
        // A kind of value this build does not know: an empty `AnyValue`.
        _ => {}
    }
}
