//! Whether a replayed response deviates from the recorded one: the
//! judgement `tracetape replay` passes on each response, kept apart from
//! the `tracetape` library, which services link, so that it can change
//! without changing theirs.
//!
//! [`compare`] takes the recorded response and the one the new build of
//! the service gave for the same request, and lists every [`Deviation`]
//! between them: pure logic, no I/O, the same output for the same inputs.
//! Run-to-run values are read with the library's matching rules
//! ([`tracetape::replay::values`]), so a value that matching takes for a
//! UUID or a JWT is one here too.
//!
//! # What is compared
//!
//! - **The status**, exactly.
//! - **The chosen headers** ([`CompareOptions::headers`], by default
//!   `content-type` only; names in any case): every value of the header,
//!   in order, exactly, except `content-type`, compared by media type and
//!   parameters in any case (and parameters in any order). A header on
//!   one side only is missing or unexpected.
//! - **The body**, after undoing each side's `content-encoding`
//!   ([`ResponseRecord::decoded_body`](tracetape::record::ResponseRecord::decoded_body);
//!   a body that cannot be decoded is compared as sent), in the format
//!   both sides are read in (below). Bodies read in two formats (JSON and
//!   an HTML error page) are compared as text or bytes, and the
//!   suggestion says what changed. When either body was cut at the
//!   recording's size limit, only the bytes both kept are compared, as
//!   bytes.
//! - **Numbers** as written: an integer that became a float (`2` → `2.0`,
//!   `100` → `1e2`) or a float that became an integer is a
//!   [`TypeChanged`](Change::TypeChanged) deviation (`type changed from
//!   integer to float: expected 2, actual 2.0`); otherwise integers are
//!   compared exactly and floats by value (`12.50` equals `12.5`).
//!   [`CompareOptions::numbers_by_value`] compares all numbers by value
//!   (`2` equals `2.0`).
//!
//! Bodies by format:
//!
//! | format | read as such when | compared | paths |
//! |---|---|---|---|
//! | JSON | it parses, and is declared as JSON (`application/json`, `...+json`) or starts with `{` or `[` | value by value: object members by name, their order ignored; array elements by position; numbers as written (above) | `$.order.total`, `$.items[0].sku` |
//! | NDJSON / JSON Lines | declared as `application/x-ndjson`, `application/jsonl`, `application/json-lines` or `application/x-jsonlines`; or, declared otherwise or not at all, two lines or more, each a JSON value | as one JSON array of its lines (blank lines skipped): a changed line count is an [`ArrayLength`](Change::ArrayLength) deviation (`line count changed from 2 to 3`); a line that is not JSON is compared as text (dynamic tokens forgiven, below), and one JSON on one side only is a [`TypeChanged`](Change::TypeChanged) deviation. A body of one JSON line, or an empty one, beside a stream is a stream too | `$[2].total` (the 3rd line's `total`), `$[*].id` (every line's) |
//! | server-sent events | declared as `text/event-stream` | as one JSON array of its events (split on blank lines; comments such as keep-alives left out): each event's `data:` lines joined with a newline, as JSON when they parse, else as text; its `event:`, `id:` and `retry:` fields exactly but for dynamic values (deviations at the event's path, `` `event:` expected "a", actual "b" ``) | `$[1]` (the 2nd event, its fields included), `$[1].total` (in its data) |
//! | form | declared as `application/x-www-form-urlencoded` | field by field, names and values decoded, the order of fields ignored; a field given more than once is an array of its values in order | `$.name`, `$.tag[1]` (the 2nd `tag`) |
//! | text | UTF-8, none of the above | line by line, lines alike when they differ only in dynamic tokens, with a unified diff in the [`detail`](Deviation::detail) | none |
//! | bytes | anything else | `bodies differ: N bytes vs M bytes, first difference at byte K` | none |
//!
//! # What is forgiven
//!
//! Values that change from run to run are not deviations when they are of
//! the same kind on **both** sides; a value of that kind on one side only
//! still is (a UUID that became `"order-1"`, epoch seconds that became
//! milliseconds). Each rule is an option, on by default:
//!
//! | option | values |
//! |---|---|
//! | `uuids` | `8-4-4-4-12` hex digits, any version, any case |
//! | `timestamps` | RFC 3339 / ISO 8601 date-times: `2025-01-02T03:04:05Z`, with or without seconds, fraction, offset or `Z`; within `time_window` of the recorded one |
//! | `dates` | `2025-01-02`; only when `time_window` is off (with a window, a date must be the recorded one) |
//! | `epochs` | epoch seconds from 978307200 to 4102444800 (the years 2001 to 2100), or milliseconds in the same years, as numbers or numeric strings; within `time_window` of the recorded one |
//! | `jwts` | JWTs, compared by header and claims with these same rules; `iat`, `exp`, `nbf`, `jti` and `auth_time` forgiven when both tokens have them; other claims (`sub`, `iss`, `aud`, `scope`...) and header fields (`alg`, `typ`, `kid`) must match |
//! | `redacted` | a recorded `REDACTED...` (redaction's keyed hash) or mask of `*` matches any new value; a mask that shows its last characters (`************1111`), any value of that length ending with them |
//!
//! **The time window.** Replay can set the service's clock to the
//! recorded time of the request it serves; then values derived from "now"
//! come out as recorded, and [`CompareOptions::time_window`] (default a
//! minute) says how far a timestamp or epoch may be from the recorded one
//! and still be forgiven, while a date must be the recorded one (so
//! `due_date = today + 30 days` changed to `+ 14` is caught). The message
//! says why: `timestamp 2026-12-06T05:00:00Z is 3 days after the recorded
//! 2026-12-03T05:00:00Z (window 60s)`. With `time_window` off (`None`),
//! for a service whose clock replay does not control, any two values of
//! the same kind are forgiven.
//!
//! The rules look at JSON strings and numbers (form values, NDJSON lines
//! and event data read as JSON included), at whole header values, and at
//! the tokens of text: a line of a text body (or a record that is not
//! JSON, or an event's `event:` or `id:`) that differs from the recorded
//! one only in values of these kinds, at the same places, is alike.
//! Tokens are cut at whitespace and at punctuation none of these values
//! holds (`"`, `,`, `=`, `/`, `(`...; `.` and `:` at either end), and a
//! date, a space and a time make one timestamp. A UUID inside a longer
//! JSON string or token (`order-6f1c...`) is compared as it is. A JWT's
//! signature is never compared: it changes whenever anything it signs
//! does, so a token re-issued with a new `iat` has a new signature
//! although nothing that matters changed.
//!
//! [`CompareOptions::ignore`] lists JSON paths (`$.order.created_at`,
//! `$.items[*].id`, `$..etag`, `$[*].request_id` for every line of a
//! stream) whose values, and everything below them, are never deviations,
//! also when present on one side only.
//!
//! # The report
//!
//! A [`Comparison`] lists the deviations: the status first, then the
//! headers, then the body in document order. Each has a
//! [`kind`](Deviation::kind) (status, header, body), a
//! [`change`](Deviation::change) (changed, missing, unexpected, type
//! changed, array length), for JSON, NDJSON, event stream and form bodies
//! the [`path`](Deviation::path) where it is (`$.order.total`, `$['odd
//! key']`, `$[2].total`, in the syntax ignore rules use), both values (compact JSON or text, cut after
//! [`MAX_VALUE_CHARS`] characters), and a
//! [`suggestion`](Deviation::suggestion) for what to do next, such as
//! `add an ignore rule for $.order.created_at`. The first
//! [`MAX_DEVIATIONS`] are listed and the rest counted
//! ([`Comparison::omitted`]), so a report stays small when a body differs
//! everywhere.
//!
//! ```
//! use bytes::Bytes;
//! use tracetape::record::{BodyRecord, HeaderRecord, ResponseRecord};
//! use tracetape_compare::{CompareOptions, compare};
//!
//! fn json(body: &'static str) -> ResponseRecord {
//!     ResponseRecord {
//!         status: 200,
//!         headers: vec![HeaderRecord {
//!             name: "content-type".to_owned(),
//!             value: Bytes::from_static(b"application/json"),
//!         }],
//!         body: BodyRecord {
//!             bytes: Bytes::from_static(body.as_bytes()),
//!             truncated: false,
//!             size: body.len() as u64,
//!         },
//!         trailers: Vec::new(),
//!     }
//! }
//!
//! # fn main() -> Result<(), tracetape::record::JsonPathError> {
//! let recorded = json(
//!     r#"{"id": "6f1c2e9a-3b4d-4c5e-8f70-112233445566", "created_at": "2025-01-02T03:04:05Z",
//!         "confirmation": "C-1234", "total": 12.5}"#,
//! );
//! let replayed = json(
//!     r#"{"total": 12.50, "confirmation": "C-9876",
//!         "created_at": "2025-01-02T04:04:35.890+01:00", "id": "01890a5d-ac96-774b-bcce-b302099a8057"}"#,
//! );
//!
//! // A new id, and a timestamp 30.89 s later: forgiven. A new confirmation
//! // code: a deviation.
//! let comparison = compare(&recorded, &replayed, &CompareOptions::default());
//! let deviation = &comparison.deviations[0];
//! assert_eq!(comparison.deviations.len(), 1);
//! assert_eq!(deviation.to_string(), r#"body $.confirmation: expected "C-1234", actual "C-9876""#);
//!
//! // Unless it is ignored.
//! let options = CompareOptions::default().with_ignore("$.confirmation".parse()?);
//! assert!(compare(&recorded, &replayed, &options).is_match());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod body;
mod descriptors;
mod deviation;
mod dynamic;
mod form;
mod format;
mod headers;
mod json;
mod jwt;
mod ndjson;
mod options;
mod records;
mod response;
mod sse;
mod suggest;
#[cfg(test)]
mod testing;
mod text;
mod tokens;

pub use descriptors::{DescriptorsError, GrpcDescriptors};
pub use deviation::{
    Change, Comparison, Deviation, DeviationKind, MAX_DEVIATIONS, MAX_PATH_CHARS, MAX_VALUE_CHARS,
};
pub use options::{CompareOptions, DEFAULT_TIME_WINDOW};
pub use response::{compare, compare_answer};
