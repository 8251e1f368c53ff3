//! Which format a body is read in: what its `content-type` declares,
//! else what it looks like.

use serde::de::IgnoredAny;

use super::ndjson;
use tracetape::grpc::wire::grpc_messages;
use tracetape::record::HeaderRecord;

/// How a body is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// One JSON document, value by value.
    Json,
    /// NDJSON / JSON Lines, record by record.
    Lines,
    /// A `text/event-stream`, event by event.
    Events,
    /// `application/x-www-form-urlencoded`, field by field.
    Form,
    /// `application/grpc…`: the length-prefixed messages, field by field
    /// (`tracetape::grpc::wire`).
    Grpc,
    /// Text line by line, or bytes.
    Text,
}

impl Format {
    /// The format's name in a suggestion; `None` for text.
    pub(super) fn name(self) -> Option<&'static str> {
        match self {
            Self::Json => Some("JSON"),
            Self::Lines => Some("NDJSON"),
            Self::Events => Some("an event stream"),
            Self::Form => Some("a form"),
            Self::Grpc => Some("gRPC messages"),
            Self::Text => None,
        }
    }

    /// The format a body is read in:
    ///
    /// - declared as gRPC and framed as gRPC: that;
    /// - declared as an event stream, a form or NDJSON (and UTF-8): that;
    /// - JSON when it parses and is declared as JSON (`application/json`,
    ///   `...+json`) or starts with `{` or `[` (a bare `1.0` in a text
    ///   body stays text);
    /// - else NDJSON when it holds two lines or more, each a JSON value
    ///   (also when declared as JSON: some services stream lines under
    ///   that type);
    /// - else text.
    pub(super) fn of(headers: &[HeaderRecord], body: &[u8]) -> Self {
        let declared = declared(headers);
        if declared == Some(Self::Grpc) && grpc_messages(body, false).is_some() {
            return Self::Grpc;
        }
        let text = std::str::from_utf8(body).ok();
        match (declared, text) {
            (Some(Self::Events), Some(_)) => return Self::Events,
            (Some(Self::Form), Some(_)) => return Self::Form,
            (Some(Self::Lines), Some(_)) => return Self::Lines,
            _ => {}
        }
        let looks_like_json = declared == Some(Self::Json)
            || matches!(body.trim_ascii_start().first(), Some(b'{' | b'['));
        if looks_like_json && serde_json::from_slice::<IgnoredAny>(body).is_ok() {
            Self::Json
        } else if text.is_some_and(|text| ndjson::all_json(text, 2)) {
            Self::Lines
        } else {
            Self::Text
        }
    }

    /// The format two bodies read in `formats` are compared in: theirs
    /// when they agree; NDJSON when one is NDJSON and every line of the
    /// other is a JSON value (a stream of one line, or none); else text.
    pub(super) fn common(formats: (Self, Self), texts: (Option<&str>, Option<&str>)) -> Self {
        let as_lines = |text: Option<&str>| text.is_some_and(|text| ndjson::all_json(text, 0));
        match formats {
            (recorded, new) if recorded == new => recorded,
            (Self::Lines, _) if as_lines(texts.1) => Self::Lines,
            (_, Self::Lines) if as_lines(texts.0) => Self::Lines,
            _ => Self::Text,
        }
    }
}

/// What the `content-type` header declares, among the formats compared
/// other than as text.
fn declared(headers: &[HeaderRecord]) -> Option<Format> {
    let header = headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-type"))?;
    let value = String::from_utf8_lossy(&header.value);
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonl"
        | "application/json-lines"
        | "application/jsonlines"
        | "application/x-jsonlines" => Some(Format::Lines),
        "text/event-stream" => Some(Format::Events),
        "application/x-www-form-urlencoded" => Some(Format::Form),
        "application/json" => Some(Format::Json),
        grpc if tracetape::grpc::is_grpc_content_type(grpc.as_bytes()) => Some(Format::Grpc),
        json if json.ends_with("+json") => Some(Format::Json),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::header;

    fn of(content_type: Option<&str>, body: &str) -> Format {
        let headers: Vec<HeaderRecord> = content_type
            .map(|value| header("content-type", value))
            .into_iter()
            .collect();
        Format::of(&headers, body.as_bytes())
    }

    #[test]
    fn the_content_type_decides_then_the_body() {
        let lines = "{\"a\":1}\n{\"a\":2}\n";
        assert_eq!(of(Some("application/x-ndjson"), "{}"), Format::Lines);
        assert_eq!(
            of(Some("Application/JSONL; charset=utf-8"), ""),
            Format::Lines
        );
        assert_eq!(of(Some("application/json-lines"), lines), Format::Lines);
        assert_eq!(of(Some("application/x-jsonlines"), lines), Format::Lines);
        assert_eq!(of(Some("text/event-stream"), "data: 1\n\n"), Format::Events);
        assert_eq!(
            of(Some("application/x-www-form-urlencoded"), "a=1"),
            Format::Form
        );
        assert_eq!(of(Some("application/problem+json"), "1.0"), Format::Json);
        assert_eq!(of(Some("text/plain"), "{\"a\": [1]}"), Format::Json);
        assert_eq!(of(Some("text/plain"), "1.0"), Format::Text);
        // Undeclared NDJSON: two lines or more, each JSON.
        assert_eq!(of(None, lines), Format::Lines);
        assert_eq!(of(Some("application/json"), lines), Format::Lines);
        assert_eq!(of(Some("text/plain"), "{\"a\":1}\nnope\n"), Format::Text);
        assert_eq!(of(None, "hello\nworld\n"), Format::Text);
        // Not UTF-8: text (then bytes), whatever it is declared as.
        let headers = [header("content-type", "text/event-stream")];
        assert_eq!(Format::of(&headers, b"\xff\xfe"), Format::Text);
    }

    #[test]
    fn one_line_or_none_is_a_stream_beside_a_stream() {
        let stream = (Format::Lines, Format::Json);
        assert_eq!(
            Format::common(stream, (None, Some("{\"a\":1}"))),
            Format::Lines
        );
        assert_eq!(
            Format::common((Format::Text, Format::Lines), (Some(""), None)),
            Format::Lines
        );
        assert_eq!(
            Format::common((Format::Lines, Format::Text), (None, Some("<h1>502</h1>"))),
            Format::Text
        );
        assert_eq!(
            Format::common((Format::Json, Format::Form), (None, None)),
            Format::Text
        );
        assert_eq!(
            Format::common((Format::Form, Format::Form), (None, None)),
            Format::Form
        );
    }
}
