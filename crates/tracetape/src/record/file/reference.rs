//! The reference encoding: a recording as opentelemetry-proto's messages,
//! serialized by their serde support. `write.rs` writes the same bytes
//! without building the messages; the tests hold it to these.

use opentelemetry::trace::SpanId;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, TracesData, span::SpanKind, status::StatusCode,
};

use super::{FormatVersion, Method, SCOPE_NAME, header, key, resource, route_key};
use crate::record::{BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording};

pub(super) fn encode(recording: &Recording) -> TracesData {
    let spans = recording
        .exchanges
        .iter()
        .map(|exchange| encode_exchange(recording, exchange))
        .collect();
    TracesData {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string(resource::SERVICE_NAME, &recording.service_name),
                    string(resource::VERSION, &FormatVersion::CURRENT.to_string()),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn encode_exchange(recording: &Recording, exchange: &Exchange) -> Span {
    let request = &exchange.request;
    let mut attributes = Vec::with_capacity(16);
    attributes.push(boolean(key::BACKGROUND, recording.background));
    if exchange.kind == ExchangeKind::Database {
        attributes.push(string(key::DB_SYSTEM, "postgresql"));
    }

    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_or(Method::Other, |method| Method::of(&method));
    attributes.push(string(key::METHOD, method.attribute()));
    if method == Method::Other {
        attributes.push(string(key::METHOD_ORIGINAL, &request.method));
    }
    encode_url(exchange.kind, &request.url, &mut attributes);
    if let Some(route) = &exchange.route {
        attributes.push(string(route_key(exchange.kind), route));
    }
    attributes.push(headers(key::REQUEST_HEADERS, &request.headers));
    encode_body(
        &request.body,
        [
            key::REQUEST_BODY,
            key::REQUEST_BODY_SIZE,
            key::REQUEST_BODY_TRUNCATED,
        ],
        &mut attributes,
    );

    if let Some(response) = &exchange.response {
        attributes.push(int(key::STATUS_CODE, i64::from(response.status)));
        attributes.push(headers(key::RESPONSE_HEADERS, &response.headers));
        encode_body(
            &response.body,
            [
                key::RESPONSE_BODY,
                key::RESPONSE_BODY_SIZE,
                key::RESPONSE_BODY_TRUNCATED,
            ],
            &mut attributes,
        );
        if !response.trailers.is_empty() {
            attributes.push(headers(key::RESPONSE_TRAILERS, &response.trailers));
        }
    }
    let status = match &exchange.error {
        Some(error) => {
            attributes.push(string(key::ERROR, error));
            Status {
                message: error.clone(),
                code: StatusCode::Error as i32,
            }
        }
        None => Status::default(),
    };

    Span {
        trace_id: recording.trace_id.to_bytes().to_vec(),
        span_id: exchange.span_id.to_bytes().to_vec(),
        parent_span_id: if exchange.parent_span_id == SpanId::INVALID {
            Vec::new()
        } else {
            exchange.parent_span_id.to_bytes().to_vec()
        },
        name: exchange.name.clone(),
        kind: match exchange.kind {
            ExchangeKind::Server => SpanKind::Server,
            ExchangeKind::Client | ExchangeKind::Database => SpanKind::Client,
        } as i32,
        start_time_unix_nano: exchange.start_unix_nanos,
        end_time_unix_nano: exchange.end_unix_nanos,
        attributes,
        status: Some(status),
        ..Default::default()
    }
}

/// An origin-form target (`/path?query`) as `url.path` and `url.query`,
/// anything else (absolute URLs, `*`, authority form) as `url.full`.
fn encode_url(kind: ExchangeKind, url: &str, attributes: &mut Vec<KeyValue>) {
    if kind == ExchangeKind::Server && url.starts_with('/') {
        match url.split_once('?') {
            Some((path, query)) => {
                attributes.push(string(key::URL_PATH, path));
                attributes.push(string(key::URL_QUERY, query));
            }
            None => attributes.push(string(key::URL_PATH, url)),
        }
    } else {
        attributes.push(string(key::URL_FULL, url));
    }
}

fn encode_body(body: &BodyRecord, keys: [&'static str; 3], attributes: &mut Vec<KeyValue>) {
    let [bytes_key, size_key, truncated_key] = keys;
    attributes.push(kv(bytes_key, Value::BytesValue(body.bytes.to_vec())));
    attributes.push(int(size_key, i64::try_from(body.size).unwrap_or(i64::MAX)));
    attributes.push(boolean(truncated_key, body.truncated));
}

/// Headers as an array of `{name, value}` kvlists: order and repeats kept,
/// each kvlist's keys unique as OTLP requires.
pub(super) fn headers(key: &str, headers: &[HeaderRecord]) -> KeyValue {
    let values = headers
        .iter()
        .map(|header| {
            let value = match std::str::from_utf8(&header.value) {
                Ok(text) => Value::StringValue(text.to_owned()),
                Err(_) => Value::BytesValue(header.value.to_vec()),
            };
            any(Value::KvlistValue(KeyValueList {
                values: vec![string(header::NAME, &header.name), kv(header::VALUE, value)],
            }))
        })
        .collect();
    kv(key, Value::ArrayValue(ArrayValue { values }))
}

pub(super) fn any(value: Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

pub(super) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any(value)),
        ..Default::default()
    }
}

pub(super) fn string(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_owned()))
}

pub(super) fn int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

pub(super) fn boolean(key: &str, value: bool) -> KeyValue {
    kv(key, Value::BoolValue(value))
}
