//! Request bodies as the matcher compares them: decoded from their
//! `content-encoding`, read as JSON when they parse (a gRPC call's
//! messages as the JSON of their fields), and aware of how the recording
//! kept them (whole, cut at the size limit, or withheld by redaction).

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use serde_json::Value;

use super::difference::{CallDifference, CallPart};
use super::dynamic::{alike_json, alike_text};
use super::pairs;
use super::similarity::{self, Similarity, member_path};
use super::url::pairs as parse_pairs;
use crate::http_attrs::interned::Fnv;
use crate::record::RequestRecord;

/// Hashes `value` so that equal values (objects equal whatever the order
/// of their keys) hash alike.
fn hash_json(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(value) => {
            hasher.write_u8(1);
            value.hash(hasher);
        }
        Value::Number(number) => {
            hasher.write_u8(2);
            number.hash(hasher);
        }
        Value::String(text) => {
            hasher.write_u8(3);
            text.hash(hasher);
        }
        Value::Array(items) => {
            hasher.write_u8(4);
            hasher.write_usize(items.len());
            items.iter().for_each(|item| hash_json(item, hasher));
        }
        Value::Object(members) => {
            hasher.write_u8(5);
            hasher.write_usize(members.len());
            // Each member hashed on its own, the hashes added up: the
            // same sum in any order.
            let sum = members.iter().fold(0u64, |sum, (key, value)| {
                let mut member = Fnv::default();
                key.hash(&mut member);
                hash_json(value, &mut member);
                sum.wrapping_add(member.finish())
            });
            hasher.write_u64(sum);
        }
    }
}

/// A request body in the form the matcher compares.
#[derive(Debug, Clone)]
pub(super) struct NormalBody {
    /// The bytes with their `content-encoding` undone (as recorded when it
    /// cannot be).
    bytes: Bytes,
    /// The body as JSON, when it is whole and parses.
    json: Option<Value>,
    /// The body's fields, when it is whole and declared
    /// `application/x-www-form-urlencoded`.
    form: Option<Vec<(String, String)>>,
    /// How much of it the recording kept.
    kept: Kept,
}

/// How much of a body there is to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// Every byte (always, for a live call).
    Whole,
    /// The first bytes, cut at the recording's size limit.
    Cut,
    /// None: redaction withheld a body it could not read.
    Withheld,
}

impl NormalBody {
    /// The body of a recorded request.
    pub(super) fn recorded(request: &RequestRecord) -> Self {
        let kept = match (request.body.truncated, request.body.bytes.is_empty()) {
            (false, _) => Kept::Whole,
            (true, false) => Kept::Cut,
            (true, true) => Kept::Withheld,
        };
        Self::new(request, kept)
    }

    /// The body of a live call, which is always whole.
    pub(super) fn live(request: &RequestRecord) -> Self {
        Self::new(request, Kept::Whole)
    }

    fn new(request: &RequestRecord, kept: Kept) -> Self {
        let bytes = match request.decoded_body() {
            Ok(std::borrow::Cow::Owned(decoded)) => Bytes::from(decoded),
            Ok(std::borrow::Cow::Borrowed(_)) | Err(_) => request.body.bytes.clone(),
        };
        let json = match kept {
            // A gRPC call's messages, field by field (`grpc::wire`).
            Kept::Whole if declares_grpc(request) => {
                let encoding = crate::grpc::wire::grpc_encoding(&request.headers);
                crate::grpc::wire::grpc_messages_encoded(&bytes, false, encoding.as_deref())
                    .map(|messages| crate::grpc::wire::messages_json(&messages))
            }
            Kept::Whole => serde_json::from_slice(&bytes).ok(),
            Kept::Cut | Kept::Withheld => None,
        };
        let form = match kept {
            Kept::Whole if declares_form(request) => std::str::from_utf8(&bytes)
                .ok()
                .map(|text| parse_pairs(text, true)),
            _ => None,
        };
        Self {
            bytes,
            json,
            form,
            kept,
        }
    }

    /// Hashes what [`exact`](Self::exact) compares of a whole JSON body,
    /// so that two bodies it finds equal as JSON hash alike (object keys
    /// in any order); `false`, hashing nothing, for a body that is not
    /// whole JSON, which only a comparison can match.
    pub(super) fn hash_exact(&self, hasher: &mut impl Hasher) -> bool {
        match (self.kept, &self.json) {
            (Kept::Whole, Some(json)) => {
                hash_json(json, hasher);
                true
            }
            _ => false,
        }
    }

    /// Whether `live` is this recorded body: equal JSON values (key order
    /// ignored), else equal bytes; a cut recording equals a live body
    /// that starts with the bytes kept; a withheld one equals nothing here.
    pub(super) fn exact(&self, live: &Self) -> bool {
        match self.kept {
            Kept::Whole => match (&self.json, &live.json) {
                (Some(recorded), Some(live)) => recorded == live,
                _ => self.bytes == live.bytes,
            },
            Kept::Cut => live.bytes.starts_with(&self.bytes),
            Kept::Withheld => false,
        }
    }

    /// Whether `live` is this recorded body once redacted values stand
    /// for anything: JSON compared leaf by leaf with them as wildcards,
    /// and a withheld body equal to any.
    pub(super) fn redacted(&self, live: &Self) -> bool {
        match (self.kept, &self.json, &live.json) {
            (Kept::Withheld, _, _) => true,
            (Kept::Whole, Some(recorded), Some(live)) => similarity::json(recorded, live).is_full(),
            _ => self.exact(live),
        }
    }

    /// How alike `live` is to this recorded body (see [`Similarity`]); a
    /// cut body by its kept prefix, and a withheld one not at all, so that
    /// a known body that is alike ranks first.
    pub(super) fn similarity(&self, live: &Self) -> Similarity {
        match (self.kept, &self.json, &live.json) {
            (Kept::Withheld, _, _) => Similarity::new(0, 1),
            (Kept::Cut, _, _) => similarity::prefix(&self.bytes, &live.bytes),
            (Kept::Whole, Some(recorded), Some(live)) => similarity::json(recorded, live),
            (Kept::Whole, _, _) => similarity::bytes(&self.bytes, &live.bytes),
        }
    }

    /// Whether `live` is this recorded body but for its run-to-run values
    /// (the [`Dynamic`](super::Level::Dynamic) level): JSON leaf by leaf,
    /// form fields pair by pair, text word by word, each recorded value
    /// standing for a live one of its kind; other bodies as at
    /// [`redacted`](Self::redacted).
    pub(super) fn dynamic(&self, live: &Self) -> bool {
        if self.kept != Kept::Whole {
            return self.redacted(live);
        }
        if let (Some(recorded), Some(live)) = (&self.json, &live.json) {
            return similarity::json_fit(recorded, live, &alike_json)
                .differences
                .is_empty();
        }
        if let (Some(recorded), Some(live)) = (&self.form, &live.form) {
            return pairs::pair(recorded, live).all_alike();
        }
        match (
            std::str::from_utf8(&self.bytes),
            std::str::from_utf8(&live.bytes),
        ) {
            (Ok(recorded), Ok(live)) => alike_text(recorded, live),
            _ => self.bytes == live.bytes,
        }
    }

    /// How alike `live` is to this recorded body, its parts counted alike
    /// as at the [`Dynamic`](super::Level::Dynamic) level, and what
    /// differs.
    pub(super) fn fit(&self, live: &Self) -> BodyFit {
        match (self.kept, &self.json, &live.json) {
            (Kept::Whole, Some(recorded), Some(live)) => {
                let fit = similarity::json_fit(recorded, live, &alike_json);
                return BodyFit {
                    similarity: Similarity::new(fit.alike, fit.total),
                    differences: fit
                        .differences
                        .iter()
                        .map(|(at, expected, actual)| {
                            CallDifference::new(
                                CallPart::Body,
                                at.as_str(),
                                expected.as_deref(),
                                actual.as_deref(),
                            )
                        })
                        .collect(),
                };
            }
            (Kept::Withheld, _, _) => {
                return BodyFit {
                    similarity: Similarity::FULL,
                    differences: Vec::new(),
                };
            }
            _ => {}
        }
        if let (Kept::Whole, Some(recorded), Some(live)) = (self.kept, &self.form, &live.form) {
            let paired = pairs::pair(recorded, live);
            return BodyFit {
                similarity: Similarity::new(paired.alike, paired.total()),
                differences: paired.differences(CallPart::Body, |key| member_path("$", key)),
            };
        }
        let similarity = self.similarity(live);
        let same = match self.kept {
            Kept::Whole => self.dynamic(live),
            _ => self.exact(live),
        };
        let differences = if same {
            Vec::new()
        } else {
            vec![CallDifference::new(
                CallPart::Body,
                "bytes",
                Some(&shown(&self.bytes)),
                Some(&shown(&live.bytes)),
            )]
        };
        BodyFit {
            similarity,
            differences,
        }
    }
}

/// How a live body lines up with a recorded one ([`NormalBody::fit`]).
#[derive(Debug)]
pub(super) struct BodyFit {
    pub(super) similarity: Similarity,
    pub(super) differences: Vec<CallDifference>,
}

/// A body as a difference shows it: its text, else its size.
fn shown(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("{} bytes", bytes.len()),
    }
}

/// Whether the request declares a form body.
/// Whether `request` says its body is gRPC's.
fn declares_grpc(request: &RequestRecord) -> bool {
    request.headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("content-type")
            && crate::grpc::is_grpc_content_type(&header.value)
    })
}

fn declares_form(request: &RequestRecord) -> bool {
    request.headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("content-type")
            && header
                .value
                .split(|&b| b == b';')
                .next()
                .is_some_and(|media| {
                    media
                        .trim_ascii()
                        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::testing::{header, whole};
    use crate::record::{BodyRecord, HeaderRecord};

    fn request(headers: Vec<HeaderRecord>, body: BodyRecord) -> RequestRecord {
        RequestRecord {
            method: "POST".to_owned(),
            url: "http://h/p".to_owned(),
            headers,
            body,
        }
    }

    fn live(text: &str) -> NormalBody {
        NormalBody::live(&request(Vec::new(), whole(text)))
    }

    #[test]
    fn cut_bodies_match_by_prefix_and_withheld_ones_only_when_redacted() {
        let cut = NormalBody::recorded(&request(
            Vec::new(),
            BodyRecord {
                bytes: Bytes::from_static(b"{\"items\":[1,2"),
                truncated: true,
                size: 4096,
            },
        ));
        assert!(cut.exact(&live("{\"items\":[1,2,3]}")));
        assert!(!cut.exact(&live("{\"items\":[2]}")));
        assert!(cut.redacted(&live("{\"items\":[1,2,3]}")));
        assert_eq!(
            cut.similarity(&live("{\"items\":[1,3]}")),
            Similarity::new(12, 13)
        );

        let withheld = NormalBody::recorded(&request(
            vec![header("content-type", "application/json")],
            BodyRecord {
                bytes: Bytes::new(),
                truncated: true,
                size: 100,
            },
        ));
        assert!(!withheld.exact(&live("")));
        assert!(withheld.redacted(&live("{\"anything\":1}")));
        assert_eq!(withheld.similarity(&live("")), Similarity::new(0, 1));
    }

    #[test]
    fn a_body_that_does_not_decode_is_compared_as_recorded() {
        let recorded = NormalBody::recorded(&request(
            vec![header("content-encoding", "br")],
            whole(b"\x0b\x02\x80hi\x03"),
        ));
        let same = NormalBody::live(&request(
            vec![header("content-encoding", "br")],
            whole(b"\x0b\x02\x80hi\x03"),
        ));
        assert!(recorded.exact(&same));
        assert!(!recorded.exact(&live("hi")));
    }
}
