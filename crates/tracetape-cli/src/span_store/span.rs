//! [`StoredSpan`]: a span read back from the store, as plain owned data.

use std::fmt;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};

/// A span read back from the store.
///
/// Ids are lowercase hex and attribute values are rendered as strings, so
/// the type is easy to print and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSpan {
    /// The trace id, 32 hex digits for spans from the OpenTelemetry SDK.
    pub(crate) trace_id: String,
    /// The span id, 16 hex digits for spans from the OpenTelemetry SDK.
    pub(crate) span_id: String,
    /// The parent's span id, or `None` for a root span.
    pub(crate) parent_span_id: Option<String>,
    /// The span name.
    pub(crate) name: String,
    /// The span kind.
    pub(crate) kind: SpanKind,
    /// When the span started, in nanoseconds since the Unix epoch.
    pub(crate) start_unix_nanos: u64,
    /// When the span ended, in nanoseconds since the Unix epoch.
    pub(crate) end_unix_nanos: u64,
    /// The span's attributes in recorded order, values rendered as strings.
    pub(crate) attributes: Vec<(String, String)>,
    /// The span status.
    pub(crate) status: SpanStatus,
    /// The span's events (exceptions among them) in recorded order.
    pub(crate) events: Vec<SpanEvent>,
    /// The `service.name` of the resource that produced the span.
    pub(crate) service_name: Option<String>,
}

impl StoredSpan {
    /// How long the span took (zero if it ends before it starts).
    pub(crate) fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nanos.saturating_sub(self.start_unix_nanos))
    }

    /// The value of the first attribute named `key`.
    pub(crate) fn attribute(&self, key: &str) -> Option<&str> {
        find(&self.attributes, key)
    }

    /// Converts a span as decoded from OTLP/JSON.
    pub(crate) fn from_proto(span: &Span, service_name: Option<&str>) -> Self {
        Self {
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
            name: span.name.clone(),
            kind: SpanKind::from_proto(span.kind),
            start_unix_nanos: span.start_time_unix_nano,
            end_unix_nanos: span.end_time_unix_nano,
            attributes: render_attributes(&span.attributes),
            status: SpanStatus::from_proto(span.status.as_ref()),
            events: span
                .events
                .iter()
                .map(|event| SpanEvent {
                    name: event.name.clone(),
                    time_unix_nanos: event.time_unix_nano,
                    attributes: render_attributes(&event.attributes),
                })
                .collect(),
            service_name: service_name.map(str::to_owned),
        }
    }
}

/// What a span describes, as in OTLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SpanKind {
    /// Not given, or a value this version does not know.
    Unspecified,
    /// An operation inside an application.
    Internal,
    /// The server side of a request.
    Server,
    /// The client side of a request.
    Client,
    /// The sender of an asynchronous message.
    Producer,
    /// The receiver of an asynchronous message.
    Consumer,
}

impl SpanKind {
    /// The lowercase name: `server`, `client`, and so on.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }

    fn from_proto(kind: i32) -> Self {
        match span::SpanKind::try_from(kind) {
            Ok(span::SpanKind::Internal) => Self::Internal,
            Ok(span::SpanKind::Server) => Self::Server,
            Ok(span::SpanKind::Client) => Self::Client,
            Ok(span::SpanKind::Producer) => Self::Producer,
            Ok(span::SpanKind::Consumer) => Self::Consumer,
            Ok(span::SpanKind::Unspecified) | Err(_) => Self::Unspecified,
        }
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a span ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum SpanStatus {
    /// No status was set.
    #[default]
    Unset,
    /// The operation was marked successful.
    Ok,
    /// The operation failed.
    Error {
        /// The description given with the error, possibly empty.
        message: String,
    },
}

impl SpanStatus {
    fn from_proto(status: Option<&opentelemetry_proto::tonic::trace::v1::Status>) -> Self {
        let Some(status) = status else {
            return Self::Unset;
        };
        match status::StatusCode::try_from(status.code) {
            Ok(status::StatusCode::Ok) => Self::Ok,
            Ok(status::StatusCode::Error) => Self::Error {
                message: status.message.clone(),
            },
            Ok(status::StatusCode::Unset) | Err(_) => Self::Unset,
        }
    }
}

/// Something that happened during a span, such as an `exception`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanEvent {
    /// The event name; exceptions are named `exception`.
    pub(crate) name: String,
    /// When it happened, in nanoseconds since the Unix epoch.
    pub(crate) time_unix_nanos: u64,
    /// The event's attributes, values rendered as strings.
    pub(crate) attributes: Vec<(String, String)>,
}

impl SpanEvent {
    /// The value of the first attribute named `key`.
    pub(crate) fn attribute(&self, key: &str) -> Option<&str> {
        find(&self.attributes, key)
    }
}

fn find<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

fn render_attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), render_value(kv.value.as_ref())))
        .collect()
}

/// Renders an attribute value: scalars as themselves, arrays as `[a, b]`,
/// maps as `{k=v, ...}`, bytes as hex, an empty value as the empty string.
pub(crate) fn render_value(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::BoolValue(flag)) => flag.to_string(),
        Some(Value::IntValue(number)) => number.to_string(),
        Some(Value::DoubleValue(number)) => number.to_string(),
        Some(Value::BytesValue(bytes)) => hex(bytes),
        Some(Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(render_nested).collect();
            format!("[{}]", items.join(", "))
        }
        Some(Value::KvlistValue(list)) => {
            let items: Vec<String> = list
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, render_value(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Like [`render_value`], but quotes strings so array items stay apart.
fn render_nested(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(text)) => format!("{text:?}"),
        _ => render_value(Some(value)),
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn values_render_as_strings() {
        assert_eq!(render_value(None), "");
        assert_eq!(render_value(Some(&any(Value::IntValue(-3)))), "-3");
        assert_eq!(render_value(Some(&any(Value::DoubleValue(2.5)))), "2.5");
        assert_eq!(render_value(Some(&any(Value::BoolValue(true)))), "true");
        assert_eq!(
            render_value(Some(&any(Value::BytesValue(vec![0, 255])))),
            "00ff"
        );
        let array = any(Value::ArrayValue(ArrayValue {
            values: vec![
                any(Value::StringValue("a b".into())),
                any(Value::IntValue(1)),
            ],
        }));
        assert_eq!(render_value(Some(&array)), r#"["a b", 1]"#);
        let map = any(Value::KvlistValue(KeyValueList {
            values: vec![KeyValue {
                key: "k".into(),
                value: Some(any(Value::StringValue("v".into()))),
                key_strindex: 0,
            }],
        }));
        assert_eq!(render_value(Some(&map)), "{k=v}");
    }

    #[test]
    fn unknown_kind_and_status_codes_are_tolerated() {
        assert_eq!(SpanKind::from_proto(2), SpanKind::Server);
        assert_eq!(SpanKind::from_proto(42), SpanKind::Unspecified);
        let status = opentelemetry_proto::tonic::trace::v1::Status {
            message: "boom".into(),
            code: 7,
        };
        assert_eq!(SpanStatus::from_proto(Some(&status)), SpanStatus::Unset);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x4b, 0xf9, 0x0a]), "4bf90a");
    }
}
