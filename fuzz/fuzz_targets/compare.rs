//! Response comparison on whatever bodies a service answers with: JSON
//! (nested, huge numbers, odd strings that look like dates, UUIDs or
//! JWTs), NDJSON, event streams, forms, text, bytes, gzip that is not, with an ignore path parsed from
//! whatever a configuration may say. It must never panic, and a response
//! compared with itself never deviates.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tracetape::record::{BodyRecord, HeaderRecord, JsonPath, ResponseRecord};
use tracetape_compare::{CompareOptions, compare};

/// The content types a body is tried with, picked by the input's first
/// byte.
const TYPES: [&str; 8] = [
    "application/json",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "application/problem+json",
    "application/x-ndjson",
    "text/event-stream",
    "application/x-www-form-urlencoded",
    "application/json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.splitn(3, |&b| b == 0);
    let first = fields.next().unwrap_or_default();
    let second = fields.next().unwrap_or(first);
    let ignore = fields
        .next()
        .and_then(|text| std::str::from_utf8(text).ok())
        .and_then(|text| text.parse::<JsonPath>().ok());
    let content_type = TYPES[usize::from(pick) % TYPES.len()];
    let gzip = pick & 0x80 != 0;
    let response = |body: &[u8]| {
        let mut headers = vec![HeaderRecord {
            name: "content-type".to_owned(),
            value: Bytes::from_static(content_type.as_bytes()),
        }];
        if gzip {
            headers.push(HeaderRecord {
                name: "content-encoding".to_owned(),
                value: Bytes::from_static(b"gzip"),
            });
        }
        ResponseRecord {
            status: 200,
            headers,
            body: BodyRecord {
                bytes: Bytes::copy_from_slice(body),
                truncated: false,
                size: body.len() as u64,
            },
            trailers: Vec::new(),
        }
    };
    let (expected, actual) = (response(first), response(second));
    let mut options = match ignore {
        Some(path) => CompareOptions::default().with_ignore(path),
        None => CompareOptions::default(),
    };
    // Half the inputs without a time window, forgiving any timestamps.
    if pick & 0x40 != 0 {
        options = options.with_time_window(None);
    }
    let _ = compare(&expected, &actual, &options);
    let itself = compare(&expected, &expected, &options);
    assert!(itself.deviations.is_empty(), "{:?}", itself.deviations);
});
