//! Whether a replayed response deviates from the recorded one.
//!
//! [`compare`] takes the recorded response and the one the new build of
//! the service gave for the same request, and lists every [`Deviation`]
//! between them: pure logic, no I/O, the same output for the same inputs.
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
//!   ([`ResponseRecord::decoded_body`](crate::record::ResponseRecord::decoded_body);
//!   a body that cannot be decoded is compared as sent). When both bodies
//!   are JSON (they parse, and are declared as JSON or start with `{` or
//!   `[`), value by value: object members by name, their order ignored;
//!   array elements by position; numbers by value (`1.0` equals `1`).
//!   Otherwise, when both are UTF-8, as text, with a unified diff in the
//!   [`detail`](Deviation::detail); else as bytes (`bodies differ: N bytes
//!   vs M bytes, first difference at byte K`). When either body was cut at
//!   the recording's size limit, only the bytes both kept are compared,
//!   as bytes.
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
//! | `timestamps` | RFC 3339 / ISO 8601 date-times: `2025-01-02T03:04:05Z`, with or without seconds, fraction, offset or `Z` |
//! | `dates` | `2025-01-02` |
//! | `epochs` | epoch seconds from 978307200 to 4102444800 (the years 2001 to 2100), or milliseconds in the same years, as numbers or numeric strings |
//! | `jwts` | JWTs, compared by header and claims with these same rules; `iat`, `exp`, `nbf`, `jti` and `auth_time` forgiven when both tokens have them; other claims (`sub`, `iss`, `aud`, `scope`...) and header fields (`alg`, `typ`, `kid`) must match |
//! | `redacted` | a recorded `REDACTED...` (redaction's keyed hash) or mask of `*` matches any new value; a mask that shows its last characters (`************1111`), any value of that length ending with them |
//!
//! The rules look at JSON strings and numbers and at whole header values;
//! a UUID inside a longer string, or anything inside a text body, is
//! compared as it is. A JWT's signature is never compared: it changes
//! whenever anything it signs does, so a token re-issued with a new `iat`
//! has a new signature although nothing that matters changed.
//!
//! [`CompareOptions::ignore`] lists JSON paths (`$.order.created_at`,
//! `$.items[*].id`, `$..etag`) whose values, and everything below them,
//! are never deviations, also when present on one side only.
//!
//! # The report
//!
//! A [`Comparison`] lists the deviations: the status first, then the
//! headers, then the body in document order. Each has a
//! [`kind`](Deviation::kind) (status, header, body), a
//! [`change`](Deviation::change) (changed, missing, unexpected, type
//! changed, array length), for JSON bodies the [`path`](Deviation::path)
//! where it is (`$.order.total`, `$['odd key']`, in the syntax ignore
//! rules use), both values (compact JSON or text, cut after
//! [`MAX_VALUE_CHARS`] characters), and a
//! [`suggestion`](Deviation::suggestion) for what to do next, such as
//! `add an ignore rule for $.order.created_at`.
//!
//! ```
//! use bytes::Bytes;
//! use tracetape::record::{BodyRecord, HeaderRecord, ResponseRecord};
//! use tracetape::replay::compare::{CompareOptions, compare};
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
//!         "created_at": "2025-03-04T05:06:07.890+01:00", "id": "01890a5d-ac96-774b-bcce-b302099a8057"}"#,
//! );
//!
//! // New id and timestamp: forgiven. A new confirmation code: a deviation.
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

mod body;
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
mod text;
mod tokens;

pub use deviation::{Change, Comparison, Deviation, DeviationKind, MAX_VALUE_CHARS};
pub use options::{CompareOptions, DEFAULT_TIME_WINDOW};
pub use response::compare;
