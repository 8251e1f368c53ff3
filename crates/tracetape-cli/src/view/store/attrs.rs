//! The attribute index's keys: each `key=value` of a span, its value
//! rendered as `tracetape show` prints it, hashed to 64 bits. Values
//! longer than [`MAX_VALUE`] are not indexed (nobody searches for a whole
//! SQL statement by equality).

use opentelemetry_proto::tonic::trace::v1::Span;

use crate::span_store::render_value;

/// The longest value indexed, in bytes.
pub(super) const MAX_VALUE: usize = 256;

/// The index key of `key` = `value`.
pub(super) fn hash(key: &str, value: &str) -> i64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(key.as_bytes());
    hasher.update(&[0]);
    hasher.update(value.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    i64::from_le_bytes(first)
}

/// The index keys of a span's attributes.
pub(super) fn of_span(span: &Span) -> impl Iterator<Item = i64> + '_ {
    span.attributes.iter().filter_map(|attribute| {
        let value = render_value(attribute.value.as_ref());
        (value.len() <= MAX_VALUE).then(|| hash(&attribute.key, &value))
    })
}
