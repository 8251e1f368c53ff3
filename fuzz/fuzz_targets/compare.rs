//! Response comparison on whatever bodies a service answers with: JSON
//! (nested, huge numbers, odd strings that look like dates, UUIDs or
//! JWTs), text, bytes, gzip that is not. It must never panic, and a
//! response compared with itself never deviates.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tracetape::record::{BodyRecord, HeaderRecord, ResponseRecord};
use tracetape::replay::compare::{CompareOptions, compare};

/// The content types a body is tried with, picked by the input's first
/// byte.
const TYPES: [&str; 5] = [
    "application/json",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "application/problem+json",
    "application/json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (first, second) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, rest),
    };
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
        }
    };
    let (expected, actual) = (response(first), response(second));
    let options = CompareOptions::default();
    let _ = compare(&expected, &actual, &options);
    let itself = compare(&expected, &expected, &options);
    assert!(itself.deviations.is_empty(), "{:?}", itself.deviations);
});
