//! Bodies compared by what they hold: `content-encoding` undone first,
//! then in the format both sides are read in (`format.rs`): JSON value by
//! value, NDJSON line by line and event streams event by event as JSON,
//! forms field by field, text line by line (dynamic values in a line
//! forgiven alike), bytes otherwise.

use serde_json::Value;

use super::dynamic::Verdict;
use super::format::Format;
use super::text::LineDiff;
use super::tokens::{self, Line};
use super::{
    Change, CompareOptions, Deviation, DeviationKind, form, json, ndjson, sse, suggest, text,
};
use tracetape::grpc::wire;
use tracetape::record::{DecodeBodyError, ResponseRecord};

/// The deviations between two response bodies, answering the request
/// for `path` when it is known.
pub(super) fn compare(
    path: Option<&str>,
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    options: &CompareOptions,
) -> Vec<Deviation> {
    let (recorded, new) = match (expected.decoded_body(), actual.decoded_body()) {
        (Ok(recorded), Ok(new)) => (recorded, new),
        (Err(err), _) => return as_sent(expected, actual, "recorded", &err),
        (_, Err(err)) => return as_sent(expected, actual, "new", &err),
    };
    if expected.body.truncated || actual.body.truncated {
        return truncated(expected, actual, &recorded, &new)
            .into_iter()
            .collect();
    }
    if recorded == new {
        return Vec::new();
    }
    let texts = (
        std::str::from_utf8(&recorded).ok(),
        std::str::from_utf8(&new).ok(),
    );
    let formats = (
        Format::of(&expected.headers, &recorded),
        Format::of(&actual.headers, &new),
    );
    let ignore = &options.ignore;
    match (Format::common(formats, texts), texts) {
        (Format::Json, _) => {
            if let (Ok(recorded), Ok(new)) = (
                serde_json::from_slice::<Value>(&recorded),
                serde_json::from_slice::<Value>(&new),
            ) {
                return json::compare_values(recorded, new, options, ignore);
            }
        }
        (Format::Lines, (Some(recorded), Some(new))) => {
            let (recorded, new) = (ndjson::records(recorded), ndjson::records(new));
            return json::compare_records(recorded, new, options, ignore);
        }
        (Format::Events, (Some(recorded), Some(new))) => {
            let (recorded, new) = (sse::records(recorded), sse::records(new));
            return json::compare_records(recorded, new, options, ignore);
        }
        (Format::Grpc, _) => {
            let read = |response: &ResponseRecord, bytes: &[u8]| {
                let encoding = wire::grpc_encoding(&response.headers);
                wire::grpc_messages_encoded(bytes, false, encoding.as_deref())
            };
            if let (Some(recorded), Some(new)) = (read(expected, &recorded), read(actual, &new)) {
                // By field name when the descriptors declare the method,
                // else by number.
                let named = |messages: &[wire::GrpcMessage]| {
                    let descriptors = options.grpc_descriptors.as_ref()?;
                    descriptors.response_json(path?, messages)
                };
                let (recorded, new) = match (named(&recorded), named(&new)) {
                    (Some(recorded), Some(new)) => (recorded, new),
                    _ => (wire::messages_json(&recorded), wire::messages_json(&new)),
                };
                return json::compare_values(recorded, new, options, ignore);
            }
        }
        (Format::Form, (Some(recorded), Some(new))) => {
            let (recorded, new) = (form::fields(recorded), form::fields(new));
            return json::compare_values(recorded, new, options, ignore);
        }
        _ => {}
    }
    let deviation = match texts {
        (Some(recorded), Some(new)) => lines(recorded, new, options),
        _ => bytes(&recorded, &new),
    };
    deviation
        .map(|deviation| {
            if formats.0 == formats.1 {
                deviation
            } else {
                deviation
                    .with_suggestion(suggest::format_changed(formats.0.name(), formats.1.name()))
            }
        })
        .into_iter()
        .collect()
}

/// Bodies one of which could not be decoded: compared as they were sent.
fn as_sent(
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    side: &str,
    err: &DecodeBodyError,
) -> Vec<Deviation> {
    let reason = format!("the {side} body could not be decoded ({err})");
    bytes(&expected.body.bytes, &actual.body.bytes)
        .map(|deviation| deviation.with_suggestion(suggest::undecodable(&reason)))
        .into_iter()
        .collect()
}

/// When either body was cut at the size limit, only what both kept: the
/// bytes up to the shorter cut (all of a side that was not cut, as far as
/// that).
fn truncated(
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    recorded: &[u8],
    new: &[u8],
) -> Option<Deviation> {
    let cut = [(expected, recorded), (actual, new)]
        .iter()
        .filter(|(record, _)| record.body.truncated)
        .map(|(_, bytes)| bytes.len())
        .min()
        .unwrap_or(usize::MAX);
    let (recorded, new) = (
        &recorded[..recorded.len().min(cut)],
        &new[..new.len().min(cut)],
    );
    if recorded == new {
        return None;
    }
    let at = text::first_difference(recorded, new);
    Some(
        Deviation::new(
            DeviationKind::Body,
            Change::Changed,
            format!("the first {cut} bytes, all a recording kept, differ at byte {at}"),
        )
        .with_values(Some(&size(recorded)), Some(&size(new)))
        .with_suggestion(suggest::truncated()),
    )
}

/// Text bodies: lines alike when equal but for dynamic values the rules
/// forgive; the first line that differs in the message (and why, when a
/// value from the clock is outside the time window), a unified diff in
/// the detail.
fn lines(recorded: &str, new: &str, options: &CompareOptions) -> Option<Deviation> {
    if recorded == new {
        return None;
    }
    let (old_lines, new_lines) = (LineDiff::lines(recorded), LineDiff::lines(new));
    let old_scanned: Vec<Line<'_>> = old_lines.iter().map(|line| Line::scan(line)).collect();
    let new_scanned: Vec<Line<'_>> = new_lines.iter().map(|line| Line::scan(line)).collect();
    let same = |i: usize, j: usize| {
        old_lines[i] == new_lines[j]
            || tokens::compare(&old_scanned[i], &new_scanned[j], options).forgiven()
    };
    let diff = LineDiff::new(old_lines.clone(), new_lines.clone(), &same);
    if diff.is_same() {
        return None;
    }
    let first = diff.common_prefix();
    let why = match (old_scanned.get(first), new_scanned.get(first)) {
        (Some(e), Some(a)) => match tokens::compare(e, a, options) {
            Verdict::Clock(why) => Some(why),
            _ => None,
        },
        _ => None,
    };
    let line = first + 1;
    let (message, suggestion) = match why {
        Some(why) => (
            format!("the text differs from line {line}: {why}"),
            suggest::clock(None, options),
        ),
        None => (
            format!("the text differs from line {line}"),
            suggest::body(),
        ),
    };
    Some(
        Deviation::new(DeviationKind::Body, Change::Changed, message)
            .with_values(Some(recorded), Some(new))
            .with_detail(diff.unified())
            .with_suggestion(suggestion),
    )
}

/// Binary bodies: sizes and where they first differ.
fn bytes(recorded: &[u8], new: &[u8]) -> Option<Deviation> {
    (recorded != new).then(|| {
        Deviation::new(
            DeviationKind::Body,
            Change::Changed,
            text::bytes_differ(recorded, new),
        )
        .with_values(Some(&size(recorded)), Some(&size(new)))
        .with_suggestion(suggest::body())
    })
}

fn size(bytes: &[u8]) -> String {
    format!("{} bytes", bytes.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write as _;

    use bytes::Bytes;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::testing::{header, whole};
    use tracetape::record::BodyRecord;

    fn response(headers: &[(&str, &str)], body: BodyRecord) -> ResponseRecord {
        ResponseRecord {
            status: 200,
            headers: headers.iter().map(|(n, v)| header(n, v)).collect(),
            body,
            trailers: Vec::new(),
        }
    }

    fn json_response(body: &str) -> ResponseRecord {
        response(&[("content-type", "application/json")], whole(body))
    }

    fn text_response(body: &[u8]) -> ResponseRecord {
        response(&[("content-type", "text/plain")], whole(body))
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn check(expected: &ResponseRecord, actual: &ResponseRecord) -> Vec<Deviation> {
        compare(None, expected, actual, &CompareOptions::default())
    }

    #[test]
    fn json_bodies_compare_as_json() {
        let deviations = check(
            &json_response(r#"{"a": 1.5, "b": [1, 2]}"#),
            &json_response(r#"{"b":[1,2],"a":1.50}"#),
        );
        assert!(deviations.is_empty(), "{deviations:?}");
        let deviations = check(&json_response(r#"{"a": 1}"#), &json_response(r#"{"a": 2}"#));
        assert_eq!(deviations[0].to_string(), "body $.a: expected 1, actual 2");
        // Undeclared, but an object or array: JSON all the same.
        let deviations = check(
            &text_response(br#"{"a": 1, "b": 2}"#),
            &response(&[], whole(r#"{"b": 2, "a": 1}"#)),
        );
        assert!(deviations.is_empty(), "{deviations:?}");
    }

    #[test]
    fn gzip_bodies_are_compared_decoded() {
        let recorded = response(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            whole(gzip(br#"{"order": {"id": 7, "total": 12.5}}"#)),
        );
        // The same document, plain and in another order.
        let plain = json_response(r#"{"order": {"total": 12.5, "id": 7}}"#);
        assert!(check(&recorded, &plain).is_empty());
        assert!(check(&plain, &recorded).is_empty());
        let changed = response(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            whole(gzip(br#"{"order": {"id": 7, "total": 13}}"#)),
        );
        let deviations = check(&recorded, &changed);
        assert_eq!(deviations.len(), 1);
        assert_eq!(deviations[0].path.as_deref(), Some("$.order.total"));
    }

    #[test]
    fn text_bodies_get_a_unified_diff() {
        let deviations = check(
            &text_response(b"hello\nworld\n"),
            &text_response(b"hello\nthere\n"),
        );
        assert_eq!(deviations.len(), 1);
        let deviation = &deviations[0];
        assert_eq!(deviation.to_string(), "body: the text differs from line 2");
        assert_eq!(deviation.path, None);
        assert_eq!(deviation.expected.as_deref(), Some("hello\nworld\n"));
        assert_eq!(
            deviation.detail.as_deref(),
            Some("--- expected\n+++ actual\n@@ -1,2 +1,2 @@\n hello\n-world\n+there")
        );
        // A number in a text body is text: `1.0` is not `1`.
        assert_eq!(check(&text_response(b"1.0"), &text_response(b"1")).len(), 1);
        assert!(check(&text_response(b"same"), &text_response(b"same")).is_empty());
    }

    #[test]
    fn a_body_json_on_one_side_only_is_compared_as_text() {
        let deviations = check(
            &json_response(r#"{"ok": true}"#),
            &response(&[("content-type", "text/html")], whole("<h1>502</h1>")),
        );
        assert_eq!(deviations.len(), 1);
        assert!(
            deviations[0]
                .suggestion
                .starts_with("the body was JSON and is not"),
            "{}",
            deviations[0].suggestion
        );
        assert!(
            deviations[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("+<h1>502</h1>")
        );
    }

    #[test]
    fn binary_bodies_report_sizes_and_the_first_difference() {
        let png = [0x89, b'P', b'N', b'G', 0, 0xff, 0xfe];
        let other = [0x89, b'P', b'N', b'G', 0, 0xff];
        assert!(check(&text_response(&png), &text_response(&png)).is_empty());
        let deviations = check(&text_response(&png), &text_response(&other));
        assert_eq!(
            deviations[0].to_string(),
            "body: bodies differ: 7 bytes vs 6 bytes, first difference at byte 6"
        );
        assert_eq!(deviations[0].expected.as_deref(), Some("7 bytes"));
        assert_eq!(deviations[0].actual.as_deref(), Some("6 bytes"));
    }

    #[test]
    fn a_truncated_recording_compares_what_it_kept() {
        let kept = BodyRecord {
            bytes: Bytes::from_static(b"{\"items\": [1, 2"),
            truncated: true,
            size: 1000,
        };
        let recorded = response(&[("content-type", "application/json")], kept);
        assert!(check(&recorded, &json_response(r#"{"items": [1, 2, 3]}"#)).is_empty());
        let deviations = check(&recorded, &json_response(r#"{"items": [1, 3, 3]}"#));
        assert_eq!(deviations.len(), 1);
        assert_eq!(
            deviations[0].message,
            "the first 15 bytes, all a recording kept, differ at byte 14"
        );
        assert!(
            deviations[0]
                .suggestion
                .contains("TRACETAPE_RECORD_MAX_BODY_BYTES")
        );
        // A new body shorter than what was kept differs where it ends.
        let deviations = check(&recorded, &json_response("{}"));
        assert_eq!(deviations.len(), 1);
        // A body withheld by redaction (nothing kept) matches anything.
        let withheld = BodyRecord {
            bytes: Bytes::new(),
            truncated: true,
            size: 0,
        };
        let withheld = response(&[("content-type", "application/json")], withheld);
        assert!(check(&withheld, &json_response(r#"{"secret": 1}"#)).is_empty());
    }

    #[test]
    fn undecodable_bodies_are_compared_as_sent() {
        let br = |bytes: &'static [u8]| response(&[("content-encoding", "br")], whole(bytes));
        assert!(check(&br(b"\x0b\x02\x80hi\x03"), &br(b"\x0b\x02\x80hi\x03")).is_empty());
        let deviations = check(&br(b"\x0b\x02\x80hi\x03"), &br(b"\x0b\x02\x80ho\x03"));
        assert_eq!(deviations.len(), 1);
        assert!(
            deviations[0].suggestion.starts_with(
                r#"the recorded body could not be decoded (unsupported content-encoding "br""#
            ),
            "{}",
            deviations[0].suggestion
        );
    }

    #[test]
    fn empty_bodies_are_equal() {
        assert!(check(&text_response(b""), &json_response("")).is_empty());
    }
    fn typed(content_type: &str, body: &str) -> ResponseRecord {
        response(&[("content-type", content_type)], whole(body))
    }

    fn with(options: &CompareOptions, e: &ResponseRecord, a: &ResponseRecord) -> Vec<Deviation> {
        compare(None, e, a, options)
    }

    /// Each deviation as `path change`.
    fn places(deviations: &[Deviation]) -> Vec<String> {
        deviations
            .iter()
            .map(|d| format!("{} {:?}", d.path.as_deref().unwrap_or("-"), d.change))
            .collect()
    }

    const ORDERS: &str = concat!(
        r#"{"id": "6f1c2e9a-3b4d-4c5e-8f70-112233445566", "total": 12.5, "request_id": "a1b2c3d4e5"}"#,
        "\n",
        r#"{"id": "7a2d3f0b-4c5e-4d6f-9a81-223344556677", "total": 7.25, "request_id": "b1b2c3d4e5"}"#,
        "\n"
    );

    /// Guards against NDJSON compared as text: a new UUID in a line was a
    /// deviation, and no ignore rule could reach inside a line.
    #[test]
    fn ndjson_lines_compare_as_json_records() {
        let recorded = typed("application/x-ndjson", ORDERS);
        let same = typed(
            "application/x-ndjson",
            concat!(
                r#"{"total": 12.5, "request_id": "a1b2c3d4e5", "id": "01890a5d-ac96-774b-bcce-b302099a8057"}"#,
                "\n\n",
                r#"{"id": "01890a5d-ac96-774b-bcce-b302099a8058", "request_id": "b1b2c3d4e5", "total": 7.25}"#,
            ),
        );
        assert!(check(&recorded, &same).is_empty());
        let changed = typed(
            "application/x-ndjson",
            &ORDERS
                .replace("7.25", "8.25")
                .replace("b1b2c3d4e5", "c1b2c3d4e5"),
        );
        let deviations = check(&recorded, &changed);
        assert_eq!(
            places(&deviations),
            ["$[1].total Changed", "$[1].request_id Changed"]
        );
        assert_eq!(
            deviations[0].to_string(),
            "body $[1].total: expected 7.25, actual 8.25"
        );
        // The suggestion names the member in every line.
        assert_eq!(
            deviations[1].suggestion,
            "add an ignore rule for $[*].request_id"
        );
        // Ignore rules address lines as array elements.
        let options = CompareOptions::default()
            .with_ignore("$[*].request_id".parse().unwrap())
            .with_ignore("$[1].total".parse().unwrap());
        assert!(with(&options, &recorded, &changed).is_empty());
        let options = CompareOptions::default().with_ignore("$[0].total".parse().unwrap());
        assert_eq!(with(&options, &recorded, &changed).len(), 2);
    }

    #[test]
    fn an_ndjson_line_count_change_is_an_array_length_deviation() {
        let recorded = typed("application/jsonl", ORDERS);
        let more = typed("application/jsonl", &format!("{ORDERS}{{\"id\": 3}}\n"));
        let deviations = check(&recorded, &more);
        assert_eq!(places(&deviations), ["$ ArrayLength"]);
        assert_eq!(deviations[0].message, "line count changed from 2 to 3");
        assert_eq!(
            deviations[0].detail.as_deref(),
            Some(r#"2 lines expected, 3 found; added: [{"id":3}]"#)
        );
        assert!(
            deviations[0]
                .suggestion
                .starts_with("check why there are 3 lines instead of 2")
        );
        // An empty stream, or a stream of one line sent as JSON, is a
        // stream all the same.
        let empty = typed("application/jsonl", "");
        assert_eq!(places(&check(&recorded, &empty)), ["$ ArrayLength"]);
        let one = json_response(
            r#"{"id": "6f1c2e9a-3b4d-4c5e-8f70-112233445566", "total": 12.5, "request_id": "a1b2c3d4e5"}"#,
        );
        assert_eq!(places(&check(&recorded, &one)), ["$ ArrayLength"]);
    }

    #[test]
    fn an_ndjson_line_that_is_not_json_is_compared_as_text() {
        let recorded = typed(
            "application/x-ndjson",
            "{\"a\": 1}\nstarted 6f1c2e9a-3b4d-4c5e-8f70-112233445566\n{\"a\": 2}\n",
        );
        // A new UUID in the text line: alike.
        let same = typed(
            "application/x-ndjson",
            "{\"a\": 1}\nstarted 01890a5d-ac96-774b-bcce-b302099a8057\n{\"a\": 2}\n",
        );
        assert!(check(&recorded, &same).is_empty());
        let other = typed(
            "application/x-ndjson",
            "{\"a\": 1}\nstopped 01890a5d-ac96-774b-bcce-b302099a8057\n{oops\n",
        );
        let deviations = check(&recorded, &other);
        assert_eq!(places(&deviations), ["$[1] Changed", "$[2] TypeChanged"]);
        assert_eq!(
            deviations[0].message,
            r#"expected "started 6f1c2e9a-3b4d-4c5e-8f70-112233445566", actual "stopped 01890a5d-ac96-774b-bcce-b302099a8057""#
        );
        assert_eq!(
            deviations[1].to_string(),
            r#"body $[2]: the line was JSON and is not: expected {"a": 2}, actual {oops"#
        );
        assert_eq!(deviations[1].actual.as_deref(), Some("{oops"));
    }

    #[test]
    fn undeclared_ndjson_is_recognised_by_its_lines() {
        let recorded = typed("text/plain", ORDERS);
        let changed = response(&[], whole(ORDERS.replace("12.5", "13.5")));
        assert_eq!(places(&check(&recorded, &changed)), ["$[0].total Changed"]);
        // Lines that are not all JSON: text.
        let text = typed("text/plain", "{\"a\": 1}\nplain\n");
        let deviations = check(&text, &typed("text/plain", "{\"a\": 2}\nplain\n"));
        assert_eq!(places(&deviations), ["- Changed"]);
    }

    /// Guards against server-sent events compared as text.
    #[test]
    fn event_streams_compare_event_by_event() {
        let recorded = typed(
            "text/event-stream",
            "event: created\nid: 1\ndata: {\"id\": \"6f1c2e9a-3b4d-4c5e-8f70-112233445566\", \"total\": 12.5}\n\n\
             : keep-alive\n\n\
             event: progress\nid: 2\ndata: step one\n\n\
             event: done\ndata: {\"total\": 12.5,\ndata:  \"items\": 2}\n\n",
        );
        // New ids, no keep-alive, a data object on one line: alike.
        let same = typed(
            "text/event-stream; charset=utf-8",
            "event: created\nid: 1\ndata: {\"total\": 12.5, \"id\": \"01890a5d-ac96-774b-bcce-b302099a8057\"}\n\n\
             event: progress\nid: 2\ndata: step one\n\n\
             event: done\ndata: {\"items\": 2, \"total\": 12.5}\n\n",
        );
        assert!(check(&recorded, &same).is_empty());
        let changed = typed(
            "text/event-stream",
            "event: created\nid: 1\ndata: {\"id\": \"01890a5d-ac96-774b-bcce-b302099a8057\", \"total\": 13.5}\n\n\
             event: step\nid: 2\ndata: step two\n\n\
             event: done\nid: 3\ndata: {\"items\": 2, \"total\": 12.5}\n\n\
             data: {}\n\n",
        );
        let deviations = check(&recorded, &changed);
        assert_eq!(
            places(&deviations),
            [
                "$ ArrayLength",
                "$[0].total Changed",
                "$[1] Changed",
                "$[1] Changed",
                "$[2] Unexpected"
            ]
        );
        assert_eq!(deviations[0].message, "event count changed from 3 to 4");
        assert_eq!(
            deviations[2].to_string(),
            r#"body $[1]: `event:` expected "progress", actual "step""#
        );
        assert_eq!(
            deviations[3].message,
            r#"expected "step one", actual "step two""#
        );
        assert_eq!(deviations[4].message, r#"`id:` unexpected (actual "3")"#);
        // Ignoring an event ignores its fields too.
        let options = CompareOptions::default()
            .with_ignore("$[1]".parse().unwrap())
            .with_ignore("$[3]".parse().unwrap())
            .with_ignore("$[*].total".parse().unwrap());
        assert_eq!(
            places(&with(&options, &recorded, &changed)),
            ["$[2] Unexpected"]
        );
    }

    #[test]
    fn event_data_that_is_no_longer_json_changed_type() {
        let recorded = typed("text/event-stream", "data: {\"a\": 1}\n\n");
        let text = typed("text/event-stream", "data: oops\ndata: again\n\n");
        let deviations = check(&recorded, &text);
        assert_eq!(places(&deviations), ["$[0] TypeChanged"]);
        assert_eq!(
            deviations[0].message,
            r#"the event was JSON and is not: expected {"a": 1}, actual "oops\nagain""#
        );
        assert!(
            deviations[0]
                .suggestion
                .starts_with("the event was JSON and is not"),
            "{}",
            deviations[0].suggestion
        );
    }

    #[test]
    fn event_fields_forgive_dynamic_values() {
        let recorded = typed(
            "text/event-stream",
            "id: 6f1c2e9a-3b4d-4c5e-8f70-112233445566\ndata: 1\n\n",
        );
        let same = typed(
            "text/event-stream",
            "id: 01890a5d-ac96-774b-bcce-b302099a8057\ndata: 1\n\n",
        );
        assert!(check(&recorded, &same).is_empty());
        let other = typed("text/event-stream", "id: 7\ndata: 1\n\n");
        assert_eq!(places(&check(&recorded, &other)), ["$[0] Changed"]);
    }

    #[test]
    fn forms_compare_field_by_field() {
        let form = |body: &str| typed("application/x-www-form-urlencoded", body);
        let recorded =
            form("name=Jo+Doe&id=6f1c2e9a-3b4d-4c5e-8f70-112233445566&tag=a&tag=b&qty=2");
        let same = form("qty=2&tag=a&tag=b&id=01890a5d-ac96-774b-bcce-b302099a8057&name=Jo%20Doe");
        assert!(check(&recorded, &same).is_empty());
        let changed = form("name=Jo+Doe&id=x&tag=a&tag=c&qty=2.0&new=1");
        let deviations = check(&recorded, &changed);
        assert_eq!(
            places(&deviations),
            [
                "$.id Changed",
                "$.tag[1] Changed",
                "$.qty Changed",
                "$.new Unexpected"
            ]
        );
        assert_eq!(
            deviations[2].to_string(),
            r#"body $.qty: expected "2", actual "2.0""#
        );
        // A field given once more: the array grows.
        let deviations = check(
            &recorded,
            &form("name=Jo+Doe&id=6f1c2e9a-3b4d-4c5e-8f70-112233445566&tag=a&tag=b&tag=c&qty=2"),
        );
        assert_eq!(places(&deviations), ["$.tag ArrayLength"]);
        let options = CompareOptions::default()
            .with_ignore("$.tag".parse().unwrap())
            .with_ignore("$.id".parse().unwrap())
            .with_ignore("$.new".parse().unwrap());
        assert_eq!(
            places(&with(&options, &recorded, &changed)),
            ["$.qty Changed"]
        );
    }

    /// Guards against a text body deviating for a new id or timestamp.
    #[test]
    fn text_bodies_forgive_dynamic_tokens() {
        let recorded = text_response(
            b"order 6f1c2e9a-3b4d-4c5e-8f70-112233445566 created at 2026-12-03T05:00:00Z\ntotal 12.50\n",
        );
        let same = text_response(
            b"order 01890a5d-ac96-774b-bcce-b302099a8057 created at 2026-12-03T05:00:20.5Z\ntotal 12.50\n",
        );
        assert!(check(&recorded, &same).is_empty());
        // Anything else still makes a diff, lines alike shown as context.
        let changed = text_response(
            b"order 01890a5d-ac96-774b-bcce-b302099a8057 created at 2026-12-03T05:00:20Z\ntotal 13.50\n",
        );
        let deviations = check(&recorded, &changed);
        assert_eq!(deviations.len(), 1);
        assert_eq!(deviations[0].message, "the text differs from line 2");
        assert!(
            deviations[0]
                .detail
                .as_deref()
                .unwrap()
                .ends_with(" order 6f1c2e9a-3b4d-4c5e-8f70-112233445566 created at 2026-12-03T05:00:00Z\n-total 12.50\n+total 13.50"),
            "{:?}",
            deviations[0].detail
        );
        // A timestamp days away: the message says why.
        let later = text_response(
            b"order 01890a5d-ac96-774b-bcce-b302099a8057 created at 2026-12-06T05:00:00Z\ntotal 12.50\n",
        );
        let deviations = check(&recorded, &later);
        assert_eq!(
            deviations[0].message,
            "the text differs from line 1: timestamp 2026-12-06T05:00:00Z is 3 days after the \
             recorded 2026-12-03T05:00:00Z (window 60s)"
        );
        assert!(deviations[0].suggestion.contains("time_window = \"off\""));
        let loose = CompareOptions::default().with_time_window(None);
        assert!(with(&loose, &recorded, &later).is_empty());
    }

    #[test]
    fn a_body_in_another_format_says_so() {
        let deviations = check(
            &typed("application/x-ndjson", ORDERS),
            &typed("text/html", "<h1>502</h1>\n<p>bad gateway</p>"),
        );
        assert_eq!(deviations.len(), 1);
        assert!(
            deviations[0]
                .suggestion
                .starts_with("the body was NDJSON and is not"),
            "{}",
            deviations[0].suggestion
        );
        let deviations = check(
            &json_response(r#"{"a": "1"}"#),
            &typed("application/x-www-form-urlencoded", "a=1"),
        );
        assert!(
            deviations[0]
                .suggestion
                .starts_with("the body was JSON and is a form"),
            "{}",
            deviations[0].suggestion
        );
    }
}
