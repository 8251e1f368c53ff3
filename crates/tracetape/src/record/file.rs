//! A [`Recording`] as one OTLP/JSON `TracesData` document, and back.
//!
//! The document is built from, and read into, opentelemetry-proto's
//! generated types, whose serde support writes OTLP/JSON as the
//! specification asks: camel-case field names, trace and span ids in hex,
//! 64-bit integers (timestamps, `intValue`) as decimal strings, `bytesValue`
//! in base64, enums as numbers. One resource (`service.name`,
//! `tracetape.recording.version`), one scope (`tracetape.record`), one span
//! per exchange carrying the request and response as attributes. Every
//! name is in [`format`](super::format) and documented in
//! `docs/recordings.md`.
//!
//! Decoding is lenient where the format may grow (unknown fields,
//! attributes, spans of other kinds or scopes are ignored) and strict where
//! a replay would otherwise go wrong (ids, methods, URLs, value types).

use bytes::Bytes;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::{Span, TracesData, span::SpanKind};

use super::error::{DecodeError, EncodeError, ExchangeError};
use super::format::{FormatVersion, SCOPE_NAME, header, resource, span as key};
use super::segment;
use super::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RequestRecord, ResponseRecord,
};
use crate::http_attrs::Method;

impl Recording {
    /// Encodes the recording as one OTLP/JSON `TracesData` document, on one
    /// line and ending with a newline (the JSON-lines shape the
    /// OpenTelemetry Collector's `otlpjsonfile` receiver reads).
    ///
    /// The format is described in `docs/recordings.md`.
    ///
    /// ```
    /// use tracetape::opentelemetry::trace::TraceId;
    /// use tracetape::record::Recording;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let recording = Recording {
    ///     trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")?,
    ///     service_name: "checkout".into(),
    ///     background: false,
    ///     exchanges: Vec::new(),
    /// };
    /// let json = recording.to_otlp_json()?;
    /// assert!(json.starts_with(br#"{"resourceSpans":"#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_otlp_json(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.write_otlp_json(&mut out)?;
        Ok(out)
    }

    /// [`to_otlp_json`](Self::to_otlp_json), appended to `out`.
    ///
    /// Written straight into `out` (`file/write.rs`), bodies base64-encoded
    /// from where they are held: the same bytes as serializing
    /// opentelemetry-proto's messages, without building them.
    pub(crate) fn write_otlp_json(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        write::document(self, out);
        Ok(())
    }

    /// Decodes a recording from an OTLP/JSON `TracesData` document written
    /// by [`to_otlp_json`](Self::to_otlp_json), by this or any tracetape of
    /// the same major format version (see
    /// [`FormatVersion`](super::FormatVersion)), possibly after a trip
    /// through an OpenTelemetry Collector.
    ///
    /// Spans of other scopes or kinds, resources without a format version,
    /// and attributes and fields it does not know are ignored. The trace id
    /// and the background flag travel on the spans, so a recording without
    /// exchanges comes back with an invalid trace id and `background` false.
    ///
    /// ```
    /// use tracetape::opentelemetry::trace::TraceId;
    /// use tracetape::record::{DecodeError, Recording};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let recording = Recording {
    ///     trace_id: TraceId::INVALID,
    ///     service_name: "checkout".into(),
    ///     background: false,
    ///     exchanges: Vec::new(),
    /// };
    /// let json = recording.to_otlp_json()?;
    /// assert_eq!(Recording::from_otlp_json(&json)?, recording);
    ///
    /// let cut = &json[..json.len() / 2];
    /// assert!(matches!(
    ///     Recording::from_otlp_json(cut),
    ///     Err(DecodeError::Json { .. })
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_otlp_json(json: &[u8]) -> Result<Recording, DecodeError> {
        let document: TracesData = serde_json::from_slice(json).map_err(DecodeError::json)?;
        decode(&document)
    }
}

/// Where the route is kept: `http.route` inbound, `url.template` outbound.
fn route_key(kind: ExchangeKind) -> &'static str {
    match kind {
        ExchangeKind::Server => key::ROUTE,
        ExchangeKind::Client | ExchangeKind::Database => key::URL_TEMPLATE,
    }
}

// ---------------------------------------------------------------------------
// Decoding

/// What one line of a recordings file holds.
#[derive(Debug)]
pub(crate) enum Line {
    /// A segment's header, of a layout version this build reads.
    Header,
    /// The recordings of the line's document, one per trace, in the order
    /// their first spans come: one, as tracetape writes them, or several
    /// when a collector merged documents.
    Recordings(Vec<Recording>),
}

/// Decodes one line of a recordings file (see [`Line`]). A document with
/// no recording in it is [`DecodeError::NotARecording`].
pub(crate) fn decode_line(json: &[u8]) -> Result<Line, DecodeError> {
    let document: TracesData = serde_json::from_slice(json).map_err(DecodeError::json)?;
    for resource_spans in &document.resource_spans {
        let attributes = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |resource| &resource.attributes[..]);
        if let Some(version) = Attributes(attributes).get(segment::VERSION_KEY) {
            let found = match version {
                Value::StringValue(text) => FormatVersion::parse(text),
                _ => None,
            }
            .ok_or_else(|| DecodeError::InvalidVersion {
                found: format!("{version:?}"),
            })?;
            return if found.major == segment::VERSION.major {
                Ok(Line::Header)
            } else {
                Err(DecodeError::LayoutNotRead {
                    found,
                    supported: segment::VERSION,
                })
            };
        }
    }
    let mut by_trace: Vec<(Vec<u8>, String, Vec<&Span>)> = Vec::new();
    let mut first_service = None;
    for (service_name, spans) in recording_resources(&document)? {
        first_service.get_or_insert(service_name);
        for span in spans {
            match by_trace
                .iter_mut()
                .find(|(trace, ..)| *trace == span.trace_id)
            {
                Some((_, _, group)) => group.push(span),
                None => by_trace.push((span.trace_id.clone(), service_name.to_owned(), vec![span])),
            }
        }
    }
    let Some(first_service) = first_service else {
        return Err(DecodeError::NotARecording);
    };
    if by_trace.is_empty() {
        // A recording without exchanges, as `decode` reads it.
        return Ok(Line::Recordings(vec![Recording {
            trace_id: TraceId::INVALID,
            service_name: first_service.to_owned(),
            background: false,
            exchanges: Vec::new(),
        }]));
    }
    by_trace
        .into_iter()
        .map(|(_, service_name, spans)| {
            let recording = Recording {
                trace_id: TraceId::INVALID,
                service_name,
                background: false,
                exchanges: Vec::with_capacity(spans.len()),
            };
            fill(recording, &spans)
        })
        .collect::<Result<_, _>>()
        .map(Line::Recordings)
}

/// The resources of `document` that are recordings (their version
/// checked), each with its service name and its recording spans.
fn recording_resources(document: &TracesData) -> Result<Vec<(&str, Vec<&Span>)>, DecodeError> {
    let mut found = Vec::new();
    for resource_spans in &document.resource_spans {
        let attributes = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |resource| &resource.attributes[..]);
        let attributes = Attributes(attributes);
        let Some(version) = attributes.get(resource::VERSION) else {
            continue;
        };
        check_version(version)?;
        let service_name = match attributes.get(resource::SERVICE_NAME) {
            Some(Value::StringValue(name)) => name.as_str(),
            _ => "",
        };
        let spans = resource_spans
            .scope_spans
            .iter()
            .filter(|scope_spans| {
                scope_spans
                    .scope
                    .as_ref()
                    .is_some_and(|scope| scope.name == SCOPE_NAME)
            })
            .flat_map(|scope_spans| &scope_spans.spans)
            .filter(|span| {
                matches!(
                    SpanKind::try_from(span.kind),
                    Ok(SpanKind::Server | SpanKind::Client)
                )
            })
            .collect();
        found.push((service_name, spans));
    }
    Ok(found)
}

fn decode(document: &TracesData) -> Result<Recording, DecodeError> {
    // Resources that are not recordings (a collector may have merged
    // other telemetry in) are skipped.
    let resources = recording_resources(document)?;
    if resources.is_empty() {
        return Err(DecodeError::NotARecording);
    }
    let service_name = resources
        .iter()
        .map(|(name, _)| *name)
        .find(|name| !name.is_empty())
        .unwrap_or_default();
    let recording_spans: Vec<&Span> = resources
        .iter()
        .flat_map(|(_, spans)| spans.iter().copied())
        .collect();
    let recording = Recording {
        trace_id: TraceId::INVALID,
        service_name: service_name.to_owned(),
        background: false,
        exchanges: Vec::with_capacity(recording_spans.len()),
    };
    fill(recording, &recording_spans)
}

/// Adds the exchanges of `spans` (the recording's spans, in order) to
/// `recording`, with its trace id and background flag.
fn fill(mut recording: Recording, spans: &[&Span]) -> Result<Recording, DecodeError> {
    let mut trace_id = None;
    for (index, span) in spans.iter().enumerate() {
        let kind = match SpanKind::try_from(span.kind) {
            Ok(SpanKind::Server) => ExchangeKind::Server,
            Ok(SpanKind::Client) => ExchangeKind::Client,
            // Not an exchange: left for newer readers.
            _ => continue,
        };
        let wrap = |source| DecodeError::Exchange {
            index,
            name: span.name.clone(),
            source,
        };
        let span_trace = id::<16>("traceId", &span.trace_id).map_err(wrap)?;
        match trace_id {
            None => trace_id = Some(span_trace),
            Some(first) if first != span_trace => {
                return Err(DecodeError::MixedTraces {
                    first: TraceId::from_bytes(first).to_string(),
                    other: TraceId::from_bytes(span_trace).to_string(),
                });
            }
            Some(_) => {}
        }
        let attributes = Attributes(&span.attributes);
        let kind = match kind {
            ExchangeKind::Client if attributes.get(key::DB_SYSTEM).is_some() => {
                ExchangeKind::Database
            }
            kind => kind,
        };
        if attributes.bool(key::BACKGROUND).map_err(wrap)? == Some(true) {
            recording.background = true;
        }
        let exchange = decode_exchange(kind, span, attributes).map_err(wrap)?;
        recording.exchanges.push(exchange);
    }
    if let Some(trace_id) = trace_id {
        recording.trace_id = TraceId::from_bytes(trace_id);
    }
    Ok(recording)
}

fn check_version(version: &Value) -> Result<(), DecodeError> {
    let Value::StringValue(text) = version else {
        return Err(DecodeError::InvalidVersion {
            found: format!("{version:?}"),
        });
    };
    let found = FormatVersion::parse(text).ok_or_else(|| DecodeError::InvalidVersion {
        found: text.clone(),
    })?;
    let supported = FormatVersion::CURRENT;
    if found.major > supported.major {
        Err(DecodeError::TooNew { found, supported })
    } else if found.major < supported.major {
        Err(DecodeError::TooOld { found, supported })
    } else {
        Ok(())
    }
}

fn id<const N: usize>(field: &'static str, bytes: &[u8]) -> Result<[u8; N], ExchangeError> {
    bytes.try_into().map_err(|_| ExchangeError::InvalidId {
        field,
        len: bytes.len(),
        expected: N,
    })
}

fn decode_exchange(
    kind: ExchangeKind,
    span: &Span,
    attributes: Attributes<'_>,
) -> Result<Exchange, ExchangeError> {
    let span_id = SpanId::from_bytes(id::<8>("spanId", &span.span_id)?);
    let parent_span_id = if span.parent_span_id.is_empty() {
        SpanId::INVALID
    } else {
        SpanId::from_bytes(id::<8>("parentSpanId", &span.parent_span_id)?)
    };

    let method = match attributes.string(key::METHOD_ORIGINAL)? {
        Some(original) => original,
        None => attributes
            .string(key::METHOD)?
            .ok_or(ExchangeError::Missing { key: key::METHOD })?,
    };
    let url = match attributes.string(key::URL_FULL)? {
        Some(full) => full.to_owned(),
        None => {
            let path = attributes
                .string(key::URL_PATH)?
                .ok_or(ExchangeError::Missing { key: key::URL_FULL })?;
            match attributes.string(key::URL_QUERY)? {
                Some(query) => format!("{path}?{query}"),
                None => path.to_owned(),
            }
        }
    };
    let request = RequestRecord {
        method: method.to_owned(),
        url,
        headers: attributes.headers(key::REQUEST_HEADERS)?,
        body: attributes.body([
            key::REQUEST_BODY,
            key::REQUEST_BODY_SIZE,
            key::REQUEST_BODY_TRUNCATED,
        ])?,
    };

    let response = match attributes.int(key::STATUS_CODE)? {
        None => None,
        Some(code) => Some(ResponseRecord {
            status: u16::try_from(code).map_err(|_| ExchangeError::OutOfRange {
                key: key::STATUS_CODE,
                value: code,
            })?,
            headers: attributes.headers(key::RESPONSE_HEADERS)?,
            body: attributes.body([
                key::RESPONSE_BODY,
                key::RESPONSE_BODY_SIZE,
                key::RESPONSE_BODY_TRUNCATED,
            ])?,
            trailers: attributes.headers(key::RESPONSE_TRAILERS)?,
        }),
    };

    Ok(Exchange {
        kind,
        span_id,
        parent_span_id,
        name: span.name.clone(),
        route: attributes.string(route_key(kind))?.map(str::to_owned),
        start_unix_nanos: span.start_time_unix_nano,
        end_unix_nanos: span.end_time_unix_nano,
        request,
        response,
        error: attributes.string(key::ERROR)?.map(str::to_owned),
    })
}

/// Typed lookups in a list of attributes. The first of repeated keys wins;
/// an empty value counts as absent.
#[derive(Clone, Copy)]
struct Attributes<'a>(&'a [KeyValue]);

impl<'a> Attributes<'a> {
    fn get(self, key: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|value| value.value.as_ref())
    }

    fn string(self, key: &'static str) -> Result<Option<&'a str>, ExchangeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::StringValue(text)) => Ok(Some(text)),
            Some(_) => Err(ExchangeError::WrongType {
                key,
                expected: "a string",
            }),
        }
    }

    fn int(self, key: &'static str) -> Result<Option<i64>, ExchangeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::IntValue(value)) => Ok(Some(*value)),
            Some(_) => Err(ExchangeError::WrongType {
                key,
                expected: "an integer",
            }),
        }
    }

    fn bool(self, key: &'static str) -> Result<Option<bool>, ExchangeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::BoolValue(value)) => Ok(Some(*value)),
            Some(_) => Err(ExchangeError::WrongType {
                key,
                expected: "a boolean",
            }),
        }
    }

    /// Bytes, or a string taken as its UTF-8 bytes.
    fn bytes(self, key: &'static str) -> Result<Option<Bytes>, ExchangeError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => raw_bytes(value)
                .map(|bytes| Some(Bytes::from(bytes)))
                .ok_or(ExchangeError::WrongType {
                    key,
                    expected: "bytes or a string",
                }),
        }
    }

    fn body(self, keys: [&'static str; 3]) -> Result<BodyRecord, ExchangeError> {
        let [bytes_key, size_key, truncated_key] = keys;
        let bytes = self.bytes(bytes_key)?.unwrap_or_default();
        let size = match self.int(size_key)? {
            None => bytes.len() as u64,
            Some(size) => u64::try_from(size).map_err(|_| ExchangeError::OutOfRange {
                key: size_key,
                value: size,
            })?,
        };
        Ok(BodyRecord {
            bytes,
            truncated: self.bool(truncated_key)?.unwrap_or(false),
            size,
        })
    }

    fn headers(self, key: &'static str) -> Result<Vec<HeaderRecord>, ExchangeError> {
        let values = match self.get(key) {
            None => return Ok(Vec::new()),
            Some(Value::ArrayValue(array)) => &array.values,
            Some(_) => {
                return Err(ExchangeError::WrongType {
                    key,
                    expected: "an array",
                });
            }
        };
        values
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                header_entry(entry).ok_or(ExchangeError::InvalidHeader { key, index })
            })
            .collect()
    }
}

fn raw_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BytesValue(bytes) => Some(bytes.clone()),
        Value::StringValue(text) => Some(text.clone().into_bytes()),
        _ => None,
    }
}

/// One `{name, value}` kvlist; other keys are ignored.
fn header_entry(entry: &AnyValue) -> Option<HeaderRecord> {
    let Some(Value::KvlistValue(list)) = &entry.value else {
        return None;
    };
    let fields = Attributes(&list.values);
    let Some(Value::StringValue(name)) = fields.get(header::NAME) else {
        return None;
    };
    let value = raw_bytes(fields.get(header::VALUE)?)?;
    Some(HeaderRecord {
        name: name.clone(),
        value: Bytes::from(value),
    })
}

mod write;

#[cfg(test)]
mod reference;
#[cfg(test)]
use reference::{encode, headers, kv};

/// The document as the previous version wrote it, through
/// opentelemetry-proto's messages: for tests of files in the
/// one-file-per-recording layout.
#[cfg(test)]
pub(super) fn previous_version_document(recording: &Recording) -> Vec<u8> {
    let mut out = serde_json::to_vec(&encode(recording)).unwrap_or_default();
    out.push(b'\n');
    out
}
#[cfg(test)]
mod tests;
