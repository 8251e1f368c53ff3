//! JSON paths applied to a recorded body. A body is rewritten only when
//! a path names something in it; a body that should be JSON but cannot be
//! read as such (cut at the size limit, or in an encoding that cannot be
//! undone) is withheld rather than written with a secret in it.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::Value;

use super::{JsonPath, RedactAction, RedactionKey};
use crate::record::encoding::decode;
use crate::record::{BodyRecord, HeaderRecord, MAX_DECODED_BODY_BYTES};

/// What applying a path to a body found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The path names nothing (or the body is not JSON at all).
    Nothing,
    /// The path named values; unless dropping, they were rewritten.
    Values,
    /// The body looked like JSON but could not be read; it was withheld.
    Unreadable,
}

/// Applies `path` with `action` to one body and the headers that describe
/// it.
pub(crate) fn apply(
    path: &JsonPath,
    action: &RedactAction,
    key: &RedactionKey,
    headers: &mut Vec<HeaderRecord>,
    body: &mut BodyRecord,
) -> Found {
    let found = |document: &mut Value, visit: &mut dyn FnMut(&mut Value)| {
        path.for_each_mut(document, visit)
    };
    apply_where(found, (action, key), headers, body)
}

/// Applies `action` (hashing with `key`) to the values `find` visits in
/// one JSON body (it returns how many it visited), and to the headers
/// that describe the body.
pub(super) fn apply_where(
    find: impl FnOnce(&mut Value, &mut dyn FnMut(&mut Value)) -> usize,
    (action, key): (&RedactAction, &RedactionKey),
    headers: &mut Vec<HeaderRecord>,
    body: &mut BodyRecord,
) -> Found {
    if body.bytes.is_empty() {
        return Found::Nothing;
    }
    let decoded = decode(headers, body, MAX_DECODED_BODY_BYTES);
    let parsed = decoded
        .as_ref()
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok());
    let Some(mut document) = parsed else {
        // Complete and decodable, but not JSON: nothing to find. Cut, or
        // not decodable, and looking like JSON: it may hold the secret.
        let readable = decoded.is_ok() && !body.truncated;
        let looks_like_json = match &decoded {
            Ok(bytes) => looks_like_json(headers, bytes),
            Err(_) => declared_json(headers),
        };
        drop(decoded);
        if !readable && looks_like_json {
            if *action != RedactAction::Drop {
                withhold(body);
            }
            return Found::Unreadable;
        }
        return Found::Nothing;
    };
    let mut rewritten = false;
    let count = find(&mut document, &mut |value| {
        rewritten |= rewrite(value, action, key);
    });
    if count == 0 {
        return Found::Nothing;
    }
    if rewritten {
        store(&document, headers, body);
    }
    Found::Values
}

/// Rewrites one value found (a string by its text, anything else by its
/// JSON); whether it changed.
fn rewrite(value: &mut Value, action: &RedactAction, key: &RedactionKey) -> bool {
    let text = match &*value {
        Value::String(text) => Cow::Borrowed(text.as_bytes()),
        other => Cow::Owned(other.to_string().into_bytes()),
    };
    match action.rewrite(&text, key) {
        Some(replacement) => {
            *value = Value::String(replacement);
            true
        }
        None => false,
    }
}

/// Makes `document` the body: plain JSON of a new length.
fn store(document: &Value, headers: &mut Vec<HeaderRecord>, body: &mut BodyRecord) {
    match serde_json::to_vec(document) {
        Ok(json) => {
            let json = Bytes::from(json);
            headers.retain(|header| header.name != "content-encoding");
            for header in headers
                .iter_mut()
                .filter(|header| header.name == "content-length")
            {
                header.value = Bytes::from(json.len().to_string());
            }
            body.size = json.len() as u64;
            body.truncated = false;
            body.bytes = json;
        }
        Err(_) => withhold(body),
    }
}

/// Declared as JSON, or starting like a JSON object or array.
fn looks_like_json(headers: &[HeaderRecord], decoded: &[u8]) -> bool {
    declared_json(headers) || matches!(decoded.trim_ascii_start().first(), Some(b'{' | b'['))
}

fn declared_json(headers: &[HeaderRecord]) -> bool {
    headers.iter().any(|header| {
        header.name == "content-type"
            && String::from_utf8_lossy(&header.value)
                .to_ascii_lowercase()
                .contains("json")
    })
}

/// Keeps none of the body's bytes, marking it cut.
fn withhold(body: &mut BodyRecord) {
    body.bytes = Bytes::new();
    body.truncated = true;
}
