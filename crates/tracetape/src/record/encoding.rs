//! Bodies as their reader meant them: a recorded body is kept exactly as
//! it crossed the layer, still compressed when its `Content-Encoding` says
//! so, and [`RequestRecord::decoded_body`] / [`ResponseRecord::decoded_body`]
//! undo that encoding for whatever compares or displays it.
//!
//! The codings are read from the record's own `content-encoding` headers
//! (a comma-separated list, possibly spread over several headers, applied
//! in the order listed, so undone in reverse). `identity` does nothing;
//! `gzip` (and its alias `x-gzip`) and `deflate` (zlib, or raw deflate as
//! some servers send it) are decoded; anything else is
//! [`DecodeBodyError::Unsupported`]. The decoded size is capped at
//! [`MAX_DECODED_BODY_BYTES`], so a small recording cannot expand into an
//! unbounded allocation.

use std::borrow::Cow;
use std::io::{self, Read};

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

use super::{BodyRecord, HeaderRecord, RequestRecord, ResponseRecord};

/// The most bytes [`RequestRecord::decoded_body`] and
/// [`ResponseRecord::decoded_body`] produce (64 MiB), after each coding;
/// past it they return [`DecodeBodyError::TooLarge`].
pub const MAX_DECODED_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Why a recorded body could not be decoded.
///
/// ```
/// use bytes::Bytes;
/// use tracetape::record::{BodyRecord, DecodeBodyError, HeaderRecord, ResponseRecord};
///
/// let response = ResponseRecord {
///     status: 200,
///     headers: vec![HeaderRecord {
///         name: "content-encoding".to_owned(),
///         value: Bytes::from_static(b"br"),
///     }],
///     body: BodyRecord {
///         bytes: Bytes::from_static(b"\x0b\x02\x80hi\x03"),
///         truncated: false,
///         size: 6,
///     },
///     trailers: Vec::new(),
/// };
/// match response.decoded_body() {
///     Err(DecodeBodyError::Unsupported { encoding }) => assert_eq!(encoding, "br"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeBodyError {
    /// The body is in a coding this build does not decode (`br`, `zstd`,
    /// `compress`...).
    #[error(
        "unsupported content-encoding {encoding:?}: only gzip, deflate and identity are decoded"
    )]
    Unsupported {
        /// The coding, as written in the header.
        encoding: String,
    },
    /// The bytes are not valid in the coding the headers name (or, for a
    /// body not marked truncated, they end before the coding does).
    #[error("the body is not valid {encoding} data")]
    Corrupt {
        /// The coding, as written in the header.
        encoding: String,
        /// What the decoder reported.
        #[source]
        source: io::Error,
    },
    /// Decoding would produce more than `limit` bytes
    /// ([`MAX_DECODED_BODY_BYTES`]).
    #[error("the decoded body is larger than {limit} bytes")]
    TooLarge {
        /// The cap that was reached.
        limit: usize,
    },
}

impl RequestRecord {
    /// The request body with its `Content-Encoding` undone: the recorded
    /// bytes themselves (borrowed) when the headers name no coding or only
    /// `identity`, else the decoded bytes. For a body marked
    /// [`truncated`](BodyRecord::truncated), what the kept prefix decodes
    /// to, without an error where it was cut.
    ///
    /// ```
    /// use std::io::Write as _;
    ///
    /// use bytes::Bytes;
    /// use flate2::{Compression, write::GzEncoder};
    /// use tracetape::record::{BodyRecord, HeaderRecord, RequestRecord};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let json = br#"{"item":"tea","qty":2}"#;
    /// let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    /// gzip.write_all(json)?;
    /// let wire = Bytes::from(gzip.finish()?);
    ///
    /// let request = RequestRecord {
    ///     method: "POST".to_owned(),
    ///     url: "/orders".to_owned(),
    ///     headers: vec![HeaderRecord {
    ///         name: "content-encoding".to_owned(),
    ///         value: Bytes::from_static(b"gzip"),
    ///     }],
    ///     body: BodyRecord { size: wire.len() as u64, bytes: wire, truncated: false },
    /// };
    /// assert_eq!(&*request.decoded_body()?, json);
    /// # Ok(())
    /// # }
    /// ```
    pub fn decoded_body(&self) -> Result<Cow<'_, [u8]>, DecodeBodyError> {
        decode(&self.headers, &self.body, MAX_DECODED_BODY_BYTES)
    }
}

impl ResponseRecord {
    /// The response body with its `Content-Encoding` undone; see
    /// [`RequestRecord::decoded_body`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tracetape::record::{BodyRecord, ResponseRecord};
    ///
    /// # fn main() -> Result<(), tracetape::record::DecodeBodyError> {
    /// // No content-encoding: the recorded bytes, not copied.
    /// let response = ResponseRecord {
    ///     status: 200,
    ///     headers: Vec::new(),
    ///     body: BodyRecord { bytes: Bytes::from_static(b"ok"), truncated: false, size: 2 },
    ///     trailers: Vec::new(),
    /// };
    /// let body = response.decoded_body()?;
    /// assert!(matches!(body, std::borrow::Cow::Borrowed(b"ok")));
    /// # Ok(())
    /// # }
    /// ```
    pub fn decoded_body(&self) -> Result<Cow<'_, [u8]>, DecodeBodyError> {
        decode(&self.headers, &self.body, MAX_DECODED_BODY_BYTES)
    }
}

/// A coding this module decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
}

/// The codings named by the `content-encoding` headers, in the order they
/// were applied, `identity` left out; the first unsupported one is an
/// error.
fn codings(headers: &[HeaderRecord]) -> Result<Vec<(Coding, String)>, DecodeBodyError> {
    let mut codings = Vec::new();
    for header in headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("content-encoding"))
    {
        let value = String::from_utf8_lossy(&header.value);
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let coding = match token.to_ascii_lowercase().as_str() {
                "identity" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                _ => {
                    return Err(DecodeBodyError::Unsupported {
                        encoding: token.to_owned(),
                    });
                }
            };
            codings.push((coding, token.to_owned()));
        }
    }
    Ok(codings)
}

/// `body` with the codings of `headers` undone, each step producing at
/// most `limit` bytes.
pub(crate) fn decode<'a>(
    headers: &[HeaderRecord],
    body: &'a BodyRecord,
    limit: usize,
) -> Result<Cow<'a, [u8]>, DecodeBodyError> {
    let codings = codings(headers)?;
    let mut bytes = Cow::Borrowed(&body.bytes[..]);
    // Nothing to decode: an empty body (a HEAD answer, a 204) may still
    // carry the headers of the content it stands for.
    if bytes.is_empty() {
        return Ok(bytes);
    }
    for (coding, name) in codings.iter().rev() {
        let decoded = match coding {
            Coding::Gzip => inflate(MultiGzDecoder::new(&bytes[..]), limit, body.truncated),
            Coding::Deflate => deflate(&bytes, limit, body.truncated),
        };
        bytes = Cow::Owned(decoded.map_err(|failure| failure.into_error(name, limit))?);
    }
    Ok(bytes)
}

/// `bytes` compressed with the gRPC message encoding `encoding` (the
/// `grpc-encoding` header: `gzip` or `deflate`), decompressed, at most
/// `limit` bytes; `None` for another encoding or bytes that do not
/// decompress.
pub(crate) fn decompress_message(encoding: &str, bytes: &[u8], limit: usize) -> Option<Vec<u8>> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "gzip" => inflate(MultiGzDecoder::new(bytes), limit, false).ok(),
        "deflate" => deflate(bytes, limit, false).ok(),
        _ => None,
    }
}

/// How one decoding step failed, before it is given its coding's name.
#[derive(Debug)]
enum Failure {
    Corrupt(io::Error),
    TooLarge,
}

impl Failure {
    fn into_error(self, encoding: &str, limit: usize) -> DecodeBodyError {
        match self {
            Failure::Corrupt(source) => DecodeBodyError::Corrupt {
                encoding: encoding.to_owned(),
                source,
            },
            Failure::TooLarge => DecodeBodyError::TooLarge { limit },
        }
    }
}

/// `deflate` as sent in practice: a zlib stream, as the HTTP specification
/// says, or a raw deflate stream, as some servers send. A stream that
/// starts with a zlib header is read as zlib first.
fn deflate(bytes: &[u8], limit: usize, truncated: bool) -> Result<Vec<u8>, Failure> {
    if !has_zlib_header(bytes) {
        return inflate(DeflateDecoder::new(bytes), limit, truncated);
    }
    match inflate(ZlibDecoder::new(bytes), limit, truncated) {
        Err(Failure::Corrupt(zlib)) => {
            // A raw stream whose first bytes happen to pass for a zlib
            // header; if it is not that either, the zlib error says more.
            inflate(DeflateDecoder::new(bytes), limit, truncated)
                .map_err(|_| Failure::Corrupt(zlib))
        }
        result => result,
    }
}

/// Whether `bytes` start with a zlib header (RFC 1950): the deflate method,
/// a window of at most 32 KiB, and the check bits.
fn has_zlib_header(bytes: &[u8]) -> bool {
    match bytes {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && ((u16::from(*cmf) << 8) | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Reads `decoder` to its end, at most `limit` bytes. When the input was
/// `truncated`, its ending early is expected: what was decoded before the
/// cut is the result.
fn inflate(decoder: impl Read, limit: usize, truncated: bool) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let read = decoder.take(cap).read_to_end(&mut out);
    // `read_to_end` keeps what it read before an error.
    if out.len() > limit {
        return Err(Failure::TooLarge);
    }
    match read {
        Ok(_) => Ok(out),
        Err(err) if truncated && err.kind() == io::ErrorKind::UnexpectedEof => Ok(out),
        Err(err) => Err(Failure::Corrupt(err)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write as _;

    use bytes::Bytes;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;
    use crate::record::testing::{header, whole};

    const JSON: &[u8] = br#"{"order_id":"o-1","items":[{"sku":"tea","qty":2}]}"#;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn raw_deflate(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Bytes that compress poorly, so that a prefix of their compressed
    /// form decodes to a prefix of them.
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    fn response(encodings: &[&str], body: BodyRecord) -> ResponseRecord {
        let mut headers = vec![header("content-type", "application/json")];
        headers.extend(encodings.iter().map(|e| header("content-encoding", e)));
        ResponseRecord {
            status: 200,
            headers,
            body,
            trailers: Vec::new(),
        }
    }

    fn request(encodings: &[&str], body: BodyRecord) -> RequestRecord {
        RequestRecord {
            method: "POST".to_owned(),
            url: "/checkout".to_owned(),
            headers: encodings
                .iter()
                .map(|e| header("Content-Encoding", e))
                .collect(),
            body,
        }
    }

    /// The first `kept` bytes of `wire`, marked truncated from `wire`'s
    /// full size.
    fn cut(wire: &[u8], kept: usize) -> BodyRecord {
        BodyRecord {
            bytes: Bytes::copy_from_slice(&wire[..kept]),
            truncated: true,
            size: wire.len() as u64,
        }
    }

    #[test]
    fn no_coding_and_identity_borrow_the_recorded_bytes() {
        for encodings in [&[][..], &["identity"], &["IDENTITY", " identity ,"]] {
            let record = response(encodings, whole(JSON));
            let decoded = record.decoded_body().unwrap();
            assert!(
                matches!(decoded, Cow::Borrowed(bytes) if bytes == JSON),
                "{encodings:?}"
            );
            assert!(matches!(
                request(encodings, whole(JSON)).decoded_body().unwrap(),
                Cow::Borrowed(bytes) if bytes == JSON
            ));
        }
        // Even gzip bytes stay as they are when no header says gzip.
        let wire = gzip(JSON);
        assert_eq!(
            &*response(&[], whole(&wire)).decoded_body().unwrap(),
            &wire[..]
        );
    }

    #[test]
    fn gzip_and_x_gzip_are_decoded() {
        for name in ["gzip", "x-gzip", "GZip"] {
            let record = response(&[name], whole(gzip(JSON)));
            let decoded = record.decoded_body().unwrap();
            assert!(matches!(decoded, Cow::Owned(_)));
            assert_eq!(&*decoded, JSON, "{name}");
        }
        let record = request(&["gzip"], whole(gzip(JSON)));
        assert_eq!(&*record.decoded_body().unwrap(), JSON);
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut wire = gzip(b"first half, ");
        wire.extend(gzip(b"second half"));
        let record = response(&["gzip"], whole(wire));
        assert_eq!(&*record.decoded_body().unwrap(), b"first half, second half");
    }

    #[test]
    fn deflate_is_zlib_or_raw_deflate() {
        let record = response(&["deflate"], whole(zlib(JSON)));
        assert_eq!(&*record.decoded_body().unwrap(), JSON);
        let record = response(&["deflate"], whole(raw_deflate(JSON)));
        assert_eq!(&*record.decoded_body().unwrap(), JSON);
        // Every byte value, through both forms.
        let every_byte: Vec<u8> = (0..=255).collect();
        for wire in [zlib(&every_byte), raw_deflate(&every_byte)] {
            let record = request(&["deflate"], whole(wire));
            assert_eq!(&*record.decoded_body().unwrap(), &every_byte[..]);
        }
    }

    #[test]
    fn several_codings_are_undone_last_first() {
        // Applied in the order listed: deflate, then gzip over it.
        let wire = gzip(&zlib(JSON));
        let record = response(&["deflate, gzip"], whole(&wire));
        assert_eq!(&*record.decoded_body().unwrap(), JSON);
        // The same list over two headers, with identity in between.
        let record = response(&["deflate", "identity", "gzip"], whole(&wire));
        assert_eq!(&*record.decoded_body().unwrap(), JSON);
        // The other order does not decode: the outer coding is not zlib.
        let record = response(&["gzip, deflate"], whole(&wire));
        let err = record.decoded_body().unwrap_err();
        assert!(
            matches!(&err, DecodeBodyError::Corrupt { encoding, .. } if encoding == "deflate"),
            "{err:?}"
        );
        // Twice the same coding.
        let wire = gzip(&gzip(JSON));
        let record = request(&["gzip", "gzip"], whole(wire));
        assert_eq!(&*record.decoded_body().unwrap(), JSON);
    }

    #[test]
    fn a_truncated_gzip_body_decodes_to_a_prefix() {
        let original = noise(64 * 1024);
        let wire = gzip(&original);
        for kept in [wire.len() / 2, wire.len() - 4, 10, 5] {
            let record = response(&["gzip"], cut(&wire, kept));
            let decoded = record.decoded_body().unwrap();
            assert!(
                original.starts_with(&decoded),
                "cut at {kept}: not a prefix"
            );
            assert!(decoded.len() < original.len() || kept == wire.len() - 4);
        }
        // Cut in the middle, most of the first half comes back.
        let record = response(&["gzip"], cut(&wire, wire.len() / 2));
        let decoded = record.decoded_body().unwrap();
        assert!(decoded.len() > original.len() / 4, "{}", decoded.len());
        // Cut within the footer: everything is there.
        let record = response(&["gzip"], cut(&wire, wire.len() - 4));
        assert_eq!(&*record.decoded_body().unwrap(), &original[..]);

        // The same bytes not marked truncated are an error.
        let mut record = response(&["gzip"], cut(&wire, wire.len() / 2));
        record.body.truncated = false;
        let err = record.decoded_body().unwrap_err();
        let DecodeBodyError::Corrupt { encoding, source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(encoding, "gzip");
        assert_eq!(source.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn truncated_deflate_and_stacked_codings_decode_to_a_prefix() {
        let original = noise(32 * 1024);
        for wire in [zlib(&original), raw_deflate(&original)] {
            let record = request(&["deflate"], cut(&wire, wire.len() / 2));
            let decoded = record.decoded_body().unwrap();
            assert!(!decoded.is_empty());
            assert!(original.starts_with(&decoded));
        }
        let wire = gzip(&zlib(&original));
        let record = response(&["deflate", "gzip"], cut(&wire, wire.len() / 2));
        let decoded = record.decoded_body().unwrap();
        assert!(!decoded.is_empty());
        assert!(original.starts_with(&decoded));
    }

    #[test]
    fn unsupported_codings_are_named() {
        for (encodings, named) in [
            (&["br"][..], "br"),
            (&["zstd"], "zstd"),
            (&["gzip, compress"], "compress"),
            (&["Br", "gzip"], "Br"),
        ] {
            let record = response(encodings, whole(gzip(JSON)));
            let err = record.decoded_body().unwrap_err();
            assert!(
                matches!(&err, DecodeBodyError::Unsupported { encoding } if encoding == named),
                "{encodings:?}: {err:?}"
            );
        }
        let err = response(&["br"], whole(b"x")).decoded_body().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unsupported content-encoding "br": only gzip, deflate and identity are decoded"#
        );
    }

    #[test]
    fn corrupt_bodies_are_errors_naming_the_coding() {
        let mut flipped = gzip(JSON);
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        let not_gzip = JSON.to_vec();
        let mut bad_crc = gzip(JSON);
        let crc = bad_crc.len() - 8;
        bad_crc[crc] ^= 0x01;
        for wire in [flipped, not_gzip, bad_crc] {
            let err = response(&["gzip"], whole(&wire))
                .decoded_body()
                .unwrap_err();
            let DecodeBodyError::Corrupt { encoding, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!(encoding, "gzip");
            assert_eq!(err.to_string(), "the body is not valid gzip data");
            assert!(std::error::Error::source(&err).is_some());
        }
        // Not deflate in either form.
        let err = request(&["deflate"], whole(b"\xff\xff\xff\xff plain"))
            .decoded_body()
            .unwrap_err();
        assert!(
            matches!(&err, DecodeBodyError::Corrupt { encoding, .. } if encoding == "deflate"),
            "{err:?}"
        );
        // Corruption is an error in a truncated body too: only the cut is
        // forgiven.
        let mut not_gzip = gzip(&noise(4096));
        not_gzip[0] = b'{';
        let kept = not_gzip.len() / 2;
        let err = response(&["gzip"], cut(&not_gzip, kept))
            .decoded_body()
            .unwrap_err();
        assert!(matches!(err, DecodeBodyError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn an_empty_body_is_empty_whatever_the_coding() {
        let record = response(&["gzip"], BodyRecord::default());
        assert!(record.decoded_body().unwrap().is_empty());
    }

    #[test]
    fn decoded_output_is_capped() {
        let zeros = vec![0_u8; 1024 * 1024];
        let wire = gzip(&zeros);
        assert!(wire.len() < 4096, "{}", wire.len());
        let body = whole(&wire);
        let headers = [header("content-encoding", "gzip")];
        let err = decode(&headers, &body, zeros.len() - 1).unwrap_err();
        assert!(
            matches!(err, DecodeBodyError::TooLarge { limit } if limit == zeros.len() - 1),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("the decoded body is larger than {} bytes", zeros.len() - 1)
        );
        // Exactly at the cap is fine.
        assert_eq!(
            decode(&headers, &body, zeros.len()).unwrap().len(),
            zeros.len()
        );
        // A truncated body past the cap is too large too, not a prefix.
        let err = decode(&headers, &cut(&wire, wire.len() - 8), 1000).unwrap_err();
        assert!(matches!(err, DecodeBodyError::TooLarge { limit: 1000 }));
        // The cap applies to each step of stacked codings.
        let stacked = gzip(&zlib(&zeros));
        let headers = [header("content-encoding", "deflate, gzip")];
        let err = decode(&headers, &whole(stacked), 1000).unwrap_err();
        assert!(matches!(err, DecodeBodyError::TooLarge { limit: 1000 }));
        // Through the public API, the cap is 64 MiB.
        assert_eq!(MAX_DECODED_BODY_BYTES, 64 * 1024 * 1024);
    }
}
