//! Request bodies as the matcher compares them: decoded from their
//! `content-encoding`, read as JSON when they parse, and aware of how the
//! recording kept them (whole, cut at the size limit, or withheld by
//! redaction).

use bytes::Bytes;
use serde_json::Value;

use super::similarity::{self, Similarity};
use crate::record::RequestRecord;

/// A request body in the form the matcher compares.
#[derive(Debug, Clone)]
pub(super) struct NormalBody {
    /// The bytes with their `content-encoding` undone (as recorded when it
    /// cannot be).
    bytes: Bytes,
    /// The body as JSON, when it is whole and parses.
    json: Option<Value>,
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
            Kept::Whole => serde_json::from_slice(&bytes).ok(),
            Kept::Cut | Kept::Withheld => None,
        };
        Self { bytes, json, kept }
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
