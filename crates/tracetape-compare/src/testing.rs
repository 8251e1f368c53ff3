//! Records for the tests.

use bytes::Bytes;
use tracetape::record::{BodyRecord, HeaderRecord};

/// A header with the bytes of `value`.
pub(crate) fn header(name: &str, value: impl AsRef<[u8]>) -> HeaderRecord {
    HeaderRecord {
        name: name.to_owned(),
        value: Bytes::copy_from_slice(value.as_ref()),
    }
}

/// A body kept whole: every byte, not truncated.
pub(crate) fn whole(bytes: impl AsRef<[u8]>) -> BodyRecord {
    let bytes = bytes.as_ref();
    BodyRecord {
        bytes: Bytes::copy_from_slice(bytes),
        truncated: false,
        size: bytes.len() as u64,
    }
}
