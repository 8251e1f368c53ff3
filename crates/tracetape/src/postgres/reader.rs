//! A client message's body read in place, front to back: the C strings
//! and integers of the messages that open or close an operation borrowed
//! from the frame. Nothing is copied or
//! allocated for a message the connection only needs the names of, which
//! is every Bind, Execute and Sync of a traced query; a Bind's parameters
//! are read only for an operation being recorded ([`BindParameters`]).

use bytes::Bytes;

use super::frames::FrameRef;

/// A message that ends before what it says it holds, or names something
/// in bytes that are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a client message ends before what it says it holds, or holds a name that is not UTF-8")]
pub(crate) struct Malformed;

/// Where the next field of a message's body starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    /// The message's body, after its type byte and length.
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The body of `frame`, from its first field.
    pub(crate) fn new(frame: FrameRef<'a>) -> Self {
        Self {
            bytes: frame.body(),
            at: 0,
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let end = self.at.checked_add(len).ok_or(Malformed)?;
        let taken = self.bytes.get(self.at..end).ok_or(Malformed)?;
        self.at = end;
        Ok(taken)
    }

    /// A NUL-terminated string.
    pub(crate) fn cstr(&mut self) -> Result<&'a str, Malformed> {
        let rest = self.bytes.get(self.at..).ok_or(Malformed)?;
        let len = rest.iter().position(|b| *b == 0).ok_or(Malformed)?;
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| Malformed)?;
        self.at += len + 1;
        Ok(text)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, Malformed> {
        let bytes = self.take(2)?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(self.i32()? as u32)
    }

    /// A count: an `i16` that may not be negative.
    pub(crate) fn count(&mut self) -> Result<usize, Malformed> {
        usize::try_from(self.i16()?).map_err(|_| Malformed)
    }

    /// A value: its length (`-1` for NULL), then its bytes, copied out of
    /// the message (only for an operation being recorded).
    fn value(&mut self) -> Result<Option<Bytes>, Malformed> {
        let Ok(len) = usize::try_from(self.i32()?) else {
            return Ok(None);
        };
        Ok(Some(Bytes::copy_from_slice(self.take(len)?)))
    }

    /// `count()` formats, as a Bind lists them.
    fn formats(&mut self) -> Result<Vec<i16>, Malformed> {
        let count = self.count()?;
        (0..count).map(|_| self.i16()).collect()
    }
}

/// What a Bind holds after its names, left unread until asked.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BindParameters<'a>(Option<Reader<'a>>);

/// A Bind's parameter formats and values, and its results' formats.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BindValues {
    pub(crate) formats: Vec<i16>,
    pub(crate) values: Vec<Option<Bytes>>,
    pub(crate) result_formats: Vec<i16>,
}

impl<'a> BindParameters<'a> {
    /// What `reader`, past a Bind's portal and statement names, holds.
    pub(crate) fn at(reader: Reader<'a>) -> Self {
        Self(Some(reader))
    }

    /// None at all (a Bind of a statement without parameters, in tests).
    #[cfg(test)]
    pub(crate) fn none() -> Self {
        Self(None)
    }

    /// The formats and values, read now.
    pub(crate) fn read(self) -> Result<BindValues, Malformed> {
        let Some(mut reader) = self.0 else {
            return Ok(BindValues::default());
        };
        let formats = reader.formats()?;
        let count = reader.count()?;
        let values = (0..count)
            .map(|_| reader.value())
            .collect::<Result<_, _>>()?;
        let result_formats = reader.formats()?;
        Ok(BindValues {
            formats,
            values,
            result_formats,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::postgres::frames::Frame;

    fn frame(tag: u8, body: &[u8]) -> Frame {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        bytes.extend_from_slice(body);
        Frame {
            tag: Some(tag),
            bytes: Bytes::from(bytes),
        }
    }

    #[test]
    fn a_bind_s_names_now_and_its_values_when_asked() {
        let mut body = b"p1\0s1\0".to_vec();
        body.extend_from_slice(&[0, 1, 0, 1]); // one format: binary
        body.extend_from_slice(&[0, 2]); // two values
        body.extend_from_slice(&4i32.to_be_bytes());
        body.extend_from_slice(&[0, 0, 0, 7]);
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&[0, 0]); // results: all text
        let frame = frame(b'B', &body);
        let mut reader = Reader::new(frame.view());
        assert_eq!(reader.cstr(), Ok("p1"));
        assert_eq!(reader.cstr(), Ok("s1"));
        let values = BindParameters::at(reader).read().unwrap();
        assert_eq!(
            values,
            BindValues {
                formats: vec![1],
                values: vec![Some(Bytes::from_static(&[0, 0, 0, 7])), None],
                result_formats: vec![],
            }
        );
        assert_eq!(BindParameters::none().read(), Ok(BindValues::default()));
    }

    #[test]
    fn a_message_shorter_than_it_says_is_malformed() {
        // No NUL after the name.
        let frame = self::frame(b'E', b"portal");
        assert_eq!(Reader::new(frame.view()).cstr(), Err(Malformed));
        // A value longer than what is left.
        let mut body = b"\0\0".to_vec();
        body.extend_from_slice(&[0, 0, 0, 1]);
        body.extend_from_slice(&9i32.to_be_bytes());
        body.push(1);
        let frame = self::frame(b'B', &body);
        let mut reader = Reader::new(frame.view());
        reader.cstr().unwrap();
        reader.cstr().unwrap();
        assert_eq!(BindParameters::at(reader).read(), Err(Malformed));
        // A negative count.
        let frame = self::frame(b'P', b"\0SELECT 1\0\xff\xff");
        let mut reader = Reader::new(frame.view());
        reader.cstr().unwrap();
        reader.cstr().unwrap();
        assert_eq!(reader.count(), Err(Malformed));
        // A name that is not UTF-8.
        let frame = self::frame(b'Q', b"\xff\0");
        assert_eq!(Reader::new(frame.view()).cstr(), Err(Malformed));
    }
}
