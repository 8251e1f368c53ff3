//! The segment layout: recordings appended, one OTLP/JSON `TracesData`
//! document per line, to files named by the time they were opened.
//!
//! A segment starts with a header line, itself a `TracesData` document
//! (one resource, no spans) whose resource attribute
//! `tracetape.segment.version` is the layout's version, so every line of a
//! segment is OTLP/JSON and a collector's `otlpjsonfile` receiver reads
//! the file as it is. Each following line is one recording, exactly as
//! [`Recording::to_otlp_json`](super::Recording::to_otlp_json) writes it.
//!
//! Lines are written whole, in order, by one writer and never changed in
//! place (`tracetape accept` writes a new file and renames it over the old
//! one), so the only damage a crash can do is a last line cut short: bytes
//! after the last newline. Readers skip that tail and read every line
//! before it.

use std::io::{self, BufRead};

use super::FormatVersion;

/// The extension of segment files (JSON lines).
pub(crate) const EXTENSION: &str = "jsonl";

/// The resource attribute of a segment's header line holding the layout
/// version (string, `MAJOR.MINOR`).
pub(crate) const VERSION_KEY: &str = "tracetape.segment.version";

/// The layout version this build writes and reads: `1.0`. A reader refuses
/// a segment of a newer major version and reads any minor one.
pub(crate) const VERSION: FormatVersion = FormatVersion::new(1, 0);

/// How the header line starts, up to the version's digits: what counting
/// lines without decoding them looks for.
const HEADER_START: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"tracetape.segment.version","value":{"stringValue":""#;

/// The header line of a new segment, newline included.
pub(crate) fn header() -> Vec<u8> {
    format!(r#"{HEADER_START}{VERSION}"}}}}]}},"scopeSpans":[]}}]}}"#)
        .into_bytes()
        .into_iter()
        .chain([b'\n'])
        .collect()
}

/// Whether `line` is a segment header as this layout writes it.
pub(crate) fn looks_like_header(line: &[u8]) -> bool {
    line.starts_with(HEADER_START.as_bytes())
}

/// The name of a new segment: like every file of a store, the time in
/// nanoseconds (so names sort by time), the process id and a sequence
/// number, here with the segment extension.
pub(crate) fn next_name() -> String {
    crate::store::files::next_name("", EXTENSION)
}

/// One line read by [`read_line`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A whole line (its newline left out) is in the buffer.
    Whole,
    /// The file ended after bytes that no newline closed: a torn tail,
    /// this many bytes long (the buffer holds at most `limit` of them).
    Torn(u64),
    /// The line is longer than the limit; this many bytes of it were
    /// skipped, newline included, and the buffer is empty.
    TooLong(u64),
    /// The file is over.
    End,
}

/// Reads the next line of `reader` into `buf` (cleared first), keeping at
/// most `limit` bytes: a longer line is skipped whole, read but not kept,
/// so no line can take more memory than that.
pub(crate) fn read_line(
    reader: &mut impl BufRead,
    limit: u64,
    buf: &mut Vec<u8>,
) -> io::Result<Line> {
    buf.clear();
    let mut seen: u64 = 0;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(match (seen, too_long) {
                (0, _) => Line::End,
                (seen, true) => Line::TooLong(seen),
                (seen, false) => Line::Torn(seen),
            });
        }
        let (piece, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], Some(at + 1)),
            None => (available, None),
        };
        seen += piece.len() as u64;
        if !too_long && seen > limit {
            too_long = true;
            buf.clear();
            buf.shrink_to(0);
        }
        if !too_long {
            buf.extend_from_slice(piece);
        }
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            return Ok(if too_long {
                Line::TooLong(seen + 1)
            } else {
                Line::Whole
            });
        }
    }
}

/// Whether a line holds nothing but white space or NUL bytes (what a file
/// system may leave where a write was lost): skipped, not an error.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == 0 || b.is_ascii_whitespace())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lines(input: &[u8], limit: u64) -> Vec<(Line, Vec<u8>)> {
        let mut reader = io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let line = read_line(&mut reader, limit, &mut buf).unwrap();
            if line == Line::End {
                return out;
            }
            out.push((line, buf.clone()));
        }
    }

    #[test]
    fn whole_lines_a_torn_tail_and_a_line_too_long() {
        let got = lines(b"one\n\ntoo long here\nthree\ntor", 8);
        assert_eq!(
            got,
            [
                (Line::Whole, b"one".to_vec()),
                (Line::Whole, Vec::new()),
                (Line::TooLong(14), Vec::new()),
                (Line::Whole, b"three".to_vec()),
                (Line::Torn(3), b"tor".to_vec()),
            ]
        );
        assert_eq!(lines(b"x\n", 8), [(Line::Whole, b"x".to_vec())]);
        assert_eq!(lines(b"", 8), []);
        assert_eq!(lines(b"far too long", 4), [(Line::TooLong(12), Vec::new())]);
    }

    #[test]
    fn the_header_is_one_otlp_document_with_the_version() {
        let header = header();
        assert_eq!(header.last(), Some(&b'\n'));
        assert!(looks_like_header(&header));
        let document: opentelemetry_proto::tonic::trace::v1::TracesData =
            serde_json::from_slice(&header).unwrap();
        let resource = document.resource_spans[0].resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, VERSION_KEY);
        assert!(String::from_utf8(header).unwrap().contains(r#""1.0""#));
        assert!(is_blank(b" \0\t"));
        assert!(!is_blank(b" {"));
        assert!(next_name().ends_with(".jsonl"));
    }
}
