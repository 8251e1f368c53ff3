//! One response against another: status, a gRPC call's status and
//! message (from its trailers), the chosen headers, the body.

use super::{Change, CompareOptions, Comparison, Deviation, DeviationKind, body, headers, suggest};
use tracetape::record::{RequestRecord, ResponseRecord};

/// Compares the response a new build gave (`actual`) with the recorded
/// one (`expected`): the status, a gRPC call's `grpc-status` and
/// `grpc-message` (trailers, else headers), the headers `options` names,
/// and the body, with the rules described in the [module docs](super).
///
/// ```
/// use bytes::Bytes;
/// use tracetape::record::{BodyRecord, HeaderRecord, ResponseRecord};
/// use tracetape_compare::{Change, CompareOptions, DeviationKind, compare};
///
/// fn response(status: u16, json: &'static str) -> ResponseRecord {
///     ResponseRecord {
///         status,
///         headers: vec![HeaderRecord {
///             name: "content-type".to_owned(),
///             value: Bytes::from_static(b"application/json"),
///         }],
///         body: BodyRecord {
///             bytes: Bytes::from_static(json.as_bytes()),
///             truncated: false,
///             size: json.len() as u64,
///         },
///         trailers: Vec::new(),
///     }
/// }
///
/// let recorded = response(200, r#"{"id": 7, "total": 12.5, "note": "gift"}"#);
/// let replayed = response(201, r#"{"total": 13.5, "id": 7}"#);
/// let comparison = compare(&recorded, &replayed, &CompareOptions::default());
///
/// let lines: Vec<String> = comparison.deviations.iter().map(ToString::to_string).collect();
/// assert_eq!(
///     lines,
///     [
///         "status: expected 200, actual 201",
///         "body $.total: expected 12.5, actual 13.5",
///         r#"body $.note: missing (expected "gift")"#,
///     ]
/// );
/// assert_eq!(comparison.deviations[2].kind, DeviationKind::Body);
/// assert_eq!(comparison.deviations[2].change, Change::Missing);
/// ```
pub fn compare(
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    options: &CompareOptions,
) -> Comparison {
    compare_responses(None, expected, actual, options)
}

/// [`compare`], for the responses to `request`: a gRPC method's response
/// messages are compared by field name when
/// [`grpc_descriptors`](CompareOptions::grpc_descriptors) declare the
/// method `request`'s path names.
pub fn compare_answer(
    request: &RequestRecord,
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    options: &CompareOptions,
) -> Comparison {
    let path = request.url.split(['?', '#']).next().unwrap_or_default();
    // An absolute-form target keeps only its path.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => path,
    };
    compare_responses(Some(path), expected, actual, options)
}

fn compare_responses(
    path: Option<&str>,
    expected: &ResponseRecord,
    actual: &ResponseRecord,
    options: &CompareOptions,
) -> Comparison {
    let mut deviations = Vec::new();
    if expected.status != actual.status {
        let (recorded, new) = (expected.status.to_string(), actual.status.to_string());
        deviations.push(
            Deviation::new(
                DeviationKind::Status,
                Change::Changed,
                format!("expected {recorded}, actual {new}"),
            )
            .with_values(Some(&recorded), Some(&new))
            .with_suggestion(suggest::status(expected.status, actual.status)),
        );
    }
    deviations.extend(headers::compare_grpc(expected, actual, options));
    deviations.extend(headers::compare(
        &expected.headers,
        &actual.headers,
        options,
    ));
    deviations.extend(body::compare(path, expected, actual, options));
    Comparison::of(deviations)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::{grpc_receipt, header, whole};
    use crate::{MAX_DEVIATIONS, MAX_PATH_CHARS};

    fn response(status: u16, content_type: &str, body: &str) -> ResponseRecord {
        ResponseRecord {
            status,
            headers: vec![header("content-type", content_type)],
            body: whole(body),
            trailers: Vec::new(),
        }
    }

    #[test]
    fn a_grpc_status_in_trailers_or_headers_is_compared() {
        let grpc = |status: &str, in_trailers: bool| {
            let mut response = response(200, "application/grpc", "");
            let outcome = vec![header("grpc-status", status)];
            if in_trailers {
                response.trailers = outcome;
            } else {
                response.headers.extend(outcome);
            }
            response
        };
        let options = CompareOptions::default();
        assert!(compare(&grpc("0", true), &grpc("0", true), &options).is_match());
        let changed = compare(&grpc("0", true), &grpc("5", false), &options);
        let lines: Vec<String> = changed.deviations.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["header grpc-status: expected 0, actual 5"]);
        let missing = compare(
            &grpc("0", true),
            &response(200, "application/grpc", ""),
            &options,
        );
        assert_eq!(missing.deviations.len(), 1, "{missing:?}");
    }

    #[test]
    fn grpc_messages_are_compared_field_by_field_with_dynamic_values_forgiven() {
        let options = CompareOptions::default();
        let recorded = grpc_receipt("6f1c2e9a-3b4d-4c5e-8f70-112233445566", 100);
        // Another UUID in the same field: dynamic alike, no deviation.
        let same = grpc_receipt("01890a5d-ac96-774b-bcce-b302099a8057", 100);
        assert!(compare(&recorded, &same, &options).is_match());
        let changed = compare(
            &recorded,
            &grpc_receipt("01890a5d-ac96-774b-bcce-b302099a8057", 101),
            &options,
        );
        let lines: Vec<String> = changed.deviations.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("expected 100, actual 101"), "{lines:?}");
        assert!(
            changed.deviations[0]
                .path
                .as_deref()
                .is_some_and(|path| path.contains('2'))
        );
    }

    /// `grpc_receipt` with its message gzip-compressed, as
    /// `grpc-encoding: gzip` says.
    fn gzipped_receipt(id: &str, total: u8) -> ResponseRecord {
        use std::io::Write as _;

        let mut response = grpc_receipt(id, total);
        let framed = &response.body.bytes;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&framed[5..]).unwrap();
        let message = gzip.finish().unwrap();
        let mut body = vec![1];
        body.extend_from_slice(&(message.len() as u32).to_be_bytes());
        body.extend_from_slice(&message);
        response.body = whole(body);
        response.headers.push(header("grpc-encoding", "gzip"));
        response
    }

    #[test]
    fn compressed_grpc_messages_are_decompressed_and_compared_by_field() {
        let options = CompareOptions::default();
        let recorded = gzipped_receipt("6f1c2e9a-3b4d-4c5e-8f70-112233445566", 100);
        let same = gzipped_receipt("01890a5d-ac96-774b-bcce-b302099a8057", 100);
        assert!(compare(&recorded, &same, &options).is_match());
        let changed = compare(
            &recorded,
            &gzipped_receipt("01890a5d-ac96-774b-bcce-b302099a8057", 101),
            &options,
        );
        assert_eq!(changed.deviations.len(), 1, "{changed:?}");
        assert_eq!(changed.deviations[0].path.as_deref(), Some("$[0].2"));
    }

    #[test]
    fn a_matching_response_has_no_deviations() {
        let recorded = response(
            200,
            "application/json",
            r#"{"id": "6f1c2e9a-3b4d-4c5e-8f70-112233445566", "at": "2025-01-02T03:04:05Z"}"#,
        );
        let replayed = response(
            200,
            "Application/JSON",
            r#"{"at": "2025-01-02T03:04:47.890Z", "id": "01890a5d-ac96-774b-bcce-b302099a8057"}"#,
        );
        let comparison = compare(&recorded, &replayed, &CompareOptions::default());
        assert!(comparison.is_match(), "{comparison:?}");
    }

    /// A body that differs everywhere makes a bounded list: the first
    /// deviations, the rest counted.
    #[test]
    fn deviations_past_the_limit_are_counted_not_listed() {
        let numbers = |from: usize| {
            let items: Vec<String> = (from..from + MAX_DEVIATIONS + 50)
                .map(|n| n.to_string())
                .collect();
            format!("[{}]", items.join(","))
        };
        let recorded = response(200, "application/json", &numbers(0));
        let replayed = response(200, "application/json", &numbers(1));
        let comparison = compare(&recorded, &replayed, &CompareOptions::default());
        assert_eq!(comparison.deviations.len(), MAX_DEVIATIONS);
        assert_eq!(comparison.omitted, 50);
        assert_eq!(comparison.deviations[0].path.as_deref(), Some("$[0]"));
        assert!(!comparison.is_match());
    }

    #[test]
    fn a_long_path_is_cut_with_a_marker() {
        let key = "k".repeat(MAX_PATH_CHARS * 2);
        let recorded = response(200, "application/json", &format!(r#"{{"{key}": 1}}"#));
        let replayed = response(200, "application/json", &format!(r#"{{"{key}": 2}}"#));
        let comparison = compare(&recorded, &replayed, &CompareOptions::default());
        let path = comparison.deviations[0].path.as_deref().unwrap();
        assert_eq!(path.chars().count(), MAX_PATH_CHARS + 1);
        assert!(path.starts_with("$.kkk") && path.ends_with('…'), "{path}");
    }

    #[test]
    fn deviations_come_status_then_headers_then_body() {
        let recorded = response(200, "application/json", r#"{"b": 1, "a": 1}"#);
        let replayed = response(500, "text/plain", "oops");
        let comparison = compare(&recorded, &replayed, &CompareOptions::default());
        let kinds: Vec<DeviationKind> = comparison.deviations.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                DeviationKind::Status,
                DeviationKind::Header,
                DeviationKind::Body
            ]
        );
        let status = &comparison.deviations[0];
        assert_eq!(status.to_string(), "status: expected 200, actual 500");
        assert_eq!(
            (status.expected.as_deref(), status.actual.as_deref()),
            (Some("200"), Some("500"))
        );
        assert!(
            status
                .suggestion
                .starts_with("check why the service answers 500")
        );
        // The same inputs, the same output.
        assert_eq!(
            compare(&recorded, &replayed, &CompareOptions::default()),
            comparison
        );
    }
}
