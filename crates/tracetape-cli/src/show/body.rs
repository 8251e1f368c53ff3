//! A recorded body as `show` prints it: JSON pretty-printed, gRPC
//! messages field by field (`grpc.rs`), other text as it is, anything
//! else as its size and first bytes; a heading says what was not kept and
//! what is still encoded.

use std::borrow::Cow;

use tracetape::record::{BodyRecord, DecodeBodyError, HeaderRecord};

use super::json;
use crate::format::chain;

/// Bytes of a binary body shown in hex.
const HEX_PREVIEW: usize = 16;

/// A body ready to print.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ShownBody {
    /// `body (notes): inline`, e.g. `body: <6 bytes, binary> 89 50 …` or
    /// `body (truncated: kept 10 of 90 bytes):`.
    pub(super) heading: String,
    /// The lines printed under the heading.
    pub(super) lines: Vec<String>,
}

/// How `body` is shown, given the headers that came with it and the body
/// with its `content-encoding` undone (`decoded_body()` of the request or
/// response); `None` for an empty body, which shows nothing. At most
/// `max_lines` lines, if given, and a last line that says how many more
/// there were.
pub(super) fn show(
    body: &BodyRecord,
    headers: &[HeaderRecord],
    decoded: Result<Cow<'_, [u8]>, DecodeBodyError>,
    max_lines: Option<usize>,
) -> Option<ShownBody> {
    if body.bytes.is_empty() && !body.truncated {
        return None;
    }
    let mut notes = Vec::new();
    if body.truncated {
        notes.push(format!(
            "truncated: kept {} of {} bytes",
            body.bytes.len(),
            body.size
        ));
    }
    let grpc_lines = is_grpc(headers)
        .then(|| {
            let encoding = tracetape::grpc::wire::grpc_encoding(headers);
            super::grpc::lines(&body.bytes, body.truncated, encoding.as_deref())
        })
        .flatten();
    let shown = match (grpc_lines, content_encoding(headers), decoded) {
        (Some(grpc), _, _) => (None, grpc),
        (None, None, Ok(bytes)) => content(&bytes, body.truncated),
        (None, Some(encoding), Ok(bytes)) => {
            notes.push(format!("{encoding}, {} bytes on the wire", body.size));
            content(&bytes, body.truncated)
        }
        (None, encoding, Err(err)) => {
            notes.push(format!("not decoded: {}", chain(&err)));
            let encoding = encoding.unwrap_or_else(|| "content".to_owned());
            (
                Some(format!("<{} bytes, {encoding}-encoded>", body.bytes.len())),
                Vec::new(),
            )
        }
    };
    let (inline, mut lines) = shown;
    if let Some(max) = max_lines
        && lines.len() > max
    {
        let more = lines.len() - max;
        lines.truncate(max);
        lines.push(format!("… {more} more lines (--full shows them)"));
    }
    let notes: String = notes.iter().map(|note| format!(" ({note})")).collect();
    let inline = inline.map(|text| format!(" {text}")).unwrap_or_default();
    Some(ShownBody {
        heading: format!("body{notes}:{inline}"),
        lines,
    })
}

/// The body's content: a one-line description, or its lines.
fn content(bytes: &[u8], truncated: bool) -> (Option<String>, Vec<String>) {
    if bytes.is_empty() {
        return (Some("(empty)".to_owned()), Vec::new());
    }
    if let Some(pretty) = json::pretty(bytes) {
        return (None, lines(&pretty));
    }
    match text(bytes, truncated) {
        Some(text) => (None, lines(text)),
        None => (Some(binary(bytes)), Vec::new()),
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// The body as text, if it is UTF-8; a body cut short in the middle of a
/// character still is.
fn text(bytes: &[u8], truncated: bool) -> Option<&str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(err) if truncated && err.error_len().is_none() => {
            std::str::from_utf8(&bytes[..err.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// `<N bytes, binary> 89 50 4e 47 …`
fn binary(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes
        .iter()
        .take(HEX_PREVIEW)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let more = if bytes.len() > HEX_PREVIEW {
        " …"
    } else {
        ""
    };
    format!("<{} bytes, binary> {}{more}", bytes.len(), hex.join(" "))
}

/// Whether the `content-type` is gRPC's.
fn is_grpc(headers: &[HeaderRecord]) -> bool {
    headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("content-type")
            && tracetape::grpc::is_grpc_content_type(&header.value)
    })
}

/// The codings the `content-encoding` headers name, `identity` left out:
/// `gzip`, `deflate, gzip`; `None` when there are none.
fn content_encoding(headers: &[HeaderRecord]) -> Option<String> {
    let codings: Vec<String> = headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("content-encoding"))
        .flat_map(|header| {
            String::from_utf8_lossy(&header.value)
                .split(',')
                .map(str::trim)
                .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    (!codings.is_empty()).then(|| codings.join(", "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write as _;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use tracetape::record::ResponseRecord;

    use super::*;

    /// How a response body of `bytes`, `size` bytes on the wire, shows.
    fn show_body(
        bytes: &[u8],
        size: u64,
        headers: &[(&str, &str)],
        max_lines: Option<usize>,
    ) -> Option<ShownBody> {
        let response = ResponseRecord {
            status: 200,
            headers: headers
                .iter()
                .map(|&(name, value)| HeaderRecord {
                    name: name.to_owned(),
                    value: value.as_bytes().to_vec().into(),
                })
                .collect(),
            body: BodyRecord {
                bytes: bytes.to_vec().into(),
                truncated: size > bytes.len() as u64,
                size,
            },
            trailers: Vec::new(),
        };
        show(
            &response.body,
            &response.headers,
            response.decoded_body(),
            max_lines,
        )
    }

    fn shown(heading: &str, lines: &[&str]) -> Option<ShownBody> {
        Some(ShownBody {
            heading: heading.to_owned(),
            lines: lines.iter().map(|&line| line.to_owned()).collect(),
        })
    }

    #[test]
    fn empty_bodies_show_nothing_unless_cut() {
        assert_eq!(show_body(b"", 0, &[], None), None);
        assert_eq!(
            show_body(b"", 12, &[], None),
            shown("body (truncated: kept 0 of 12 bytes): (empty)", &[])
        );
    }

    #[test]
    fn json_text_and_binary() {
        assert_eq!(
            show_body(br#"{"a":1}"#, 7, &[], None),
            shown("body:", &["{", "  \"a\": 1", "}"])
        );
        assert_eq!(
            show_body(b"one\r\ntwo\n", 9, &[], None),
            shown("body:", &["one", "two"])
        );
        let many: Vec<u8> = (0..20).map(|i| 0xe0 + i).collect();
        assert_eq!(
            show_body(&many, 20, &[], None),
            shown(
                "body: <20 bytes, binary> e0 e1 e2 e3 e4 e5 e6 e7 e8 e9 ea eb ec ed ee ef …",
                &[]
            )
        );
    }

    #[test]
    fn text_cut_inside_a_character_is_still_text() {
        // "é" is c3 a9: the body was cut after its first byte.
        assert_eq!(
            show_body(b"caf\xc3", 5, &[], None),
            shown("body (truncated: kept 4 of 5 bytes):", &["caf"])
        );
        assert_eq!(
            show_body(b"caf\xc3", 4, &[], None),
            shown("body: <4 bytes, binary> 63 61 66 c3", &[])
        );
    }

    #[test]
    fn encoded_bodies_are_decoded_or_said_to_be_encoded() {
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(br#"{"tea":2}"#).unwrap();
        let wire = gzip.finish().unwrap();
        let size = wire.len() as u64;
        assert_eq!(
            show_body(&wire, size, &[("content-encoding", "gzip")], None),
            shown(
                &format!("body (gzip, {size} bytes on the wire):"),
                &["{", "  \"tea\": 2", "}"]
            )
        );
        let Some(unsupported) = show_body(b"\x0b\x02\x80", 3, &[("content-encoding", "br")], None)
        else {
            panic!("a body shows");
        };
        assert!(
            unsupported
                .heading
                .starts_with("body (not decoded: unsupported content-encoding \"br\""),
            "{}",
            unsupported.heading
        );
        assert!(
            unsupported.heading.ends_with("): <3 bytes, br-encoded>"),
            "{}",
            unsupported.heading
        );
        assert_eq!(
            show_body(b"hi", 2, &[("Content-Encoding", " identity ")], None),
            shown("body:", &["hi"])
        );
    }

    #[test]
    fn long_bodies_stop_after_max_lines() {
        assert_eq!(
            show_body(b"1\n2\n3\n4", 7, &[], Some(2)),
            shown("body:", &["1", "2", "… 2 more lines (--full shows them)"])
        );
        assert_eq!(
            show_body(b"1\n2", 3, &[], Some(2)),
            shown("body:", &["1", "2"])
        );
    }
}
