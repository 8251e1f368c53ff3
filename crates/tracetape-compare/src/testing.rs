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

/// A gRPC response (status OK in its trailers) with one message
/// `{1: id, 2: total}`: a `Receipt` of the tests' descriptors.
pub(crate) fn grpc_receipt(id: &str, total: u8) -> tracetape::record::ResponseRecord {
    let mut message = vec![0x0a, id.len() as u8];
    message.extend_from_slice(id.as_bytes());
    message.extend_from_slice(&[0x10, total]);
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    tracetape::record::ResponseRecord {
        status: 200,
        headers: vec![header("content-type", "application/grpc")],
        body: whole(body),
        trailers: vec![header("grpc-status", "0")],
    }
}
