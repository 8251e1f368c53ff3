//! What record mode keeps of an operation: its parameters, its results
//! (columns, rows, command tags) and its error, as the wire carried
//! them. Only operations that are recorded keep anything; the others
//! pass with their rows uncounted.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::value::RawValue;

/// A column of a result, as RowDescription described it, with the
/// format the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) table_id: i32,
    pub(crate) column_id: i16,
    pub(crate) type_oid: u32,
    pub(crate) type_size: i16,
    pub(crate) type_modifier: i32,
    /// `0` text, `1` binary.
    pub(crate) format: i16,
}

/// A result's columns in the formats bound: one list shared by the
/// executions of a statement bound alike, what a recording writes of it
/// made once.
#[derive(Debug, Default)]
pub(crate) struct Columns {
    pub(crate) list: Vec<Column>,
    /// Their JSON in a recording, made at the first recorded execution
    /// (`None`: it could not be, and each recording writes it again).
    #[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
    pub(crate) json: OnceLock<Option<Box<RawValue>>>,
    /// Which hold secrets, with the version of the process's keys they
    /// were worked out with.
    #[cfg_attr(not(feature = "record-replay"), allow(dead_code))]
    pub(crate) secret: OnceLock<(usize, Vec<bool>)>,
}

impl Columns {
    pub(crate) fn new(list: Vec<Column>) -> Arc<Self> {
        Arc::new(Self {
            list,
            json: OnceLock::new(),
            secret: OnceLock::new(),
        })
    }
}

impl PartialEq for Columns {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl Eq for Columns {}

/// The rows of one statement, and its command tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResultSet {
    /// `None` for a statement that returns no rows (NoData).
    pub(crate) columns: Option<Arc<Columns>>,
    pub(crate) rows: Vec<Vec<Option<Bytes>>>,
    /// `INSERT 0 1`, `SELECT 3`; `None` until the statement completes
    /// (and for an empty query).
    pub(crate) tag: Option<String>,
    /// What a `COPY … TO STDOUT` sent, in place of rows.
    pub(crate) copy_out: Option<CopyOut>,
}

/// The data of a `COPY … TO STDOUT`, as the server sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CopyOut {
    /// `0` text, `1` binary.
    pub(crate) format: i8,
    /// Each column's format.
    pub(crate) column_formats: Vec<i16>,
    /// The CopyData messages' bodies, in order.
    pub(crate) data: Vec<Bytes>,
}

/// One bound parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parameter {
    /// `0` when neither the client nor the server said.
    pub(crate) type_oid: u32,
    pub(crate) format: i16,
    pub(crate) value: Option<Bytes>,
}

/// Everything kept of one recorded operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Captured {
    pub(crate) parameters: Vec<Parameter>,
    /// One per statement: one for an Execute, one per statement of a
    /// simple query.
    pub(crate) results: Vec<ResultSet>,
    /// The ErrorResponse's fields, by their code byte.
    pub(crate) error: Option<Vec<(u8, String)>>,
}

impl Captured {
    /// The result set rows go to: the last one, opened when there is
    /// none or the last has completed.
    pub(crate) fn current(&mut self) -> &mut ResultSet {
        if self.results.last().is_none_or(|last| last.tag.is_some()) {
            self.results.push(ResultSet::default());
        }
        // Just pushed when there was none.
        let last = self.results.len() - 1;
        &mut self.results[last]
    }
}

/// The fields of an ErrorResponse by their code byte, with the names
/// PostgreSQL's documentation gives them (recordings use the names).
#[cfg(feature = "record-replay")]
pub(crate) const ERROR_FIELDS: [(u8, &str); 18] = [
    (b'S', "severity"),
    (b'V', "severity_nonlocalized"),
    (b'C', "code"),
    (b'M', "message"),
    (b'D', "detail"),
    (b'H', "hint"),
    (b'P', "position"),
    (b'p', "internal_position"),
    (b'q', "internal_query"),
    (b'W', "where"),
    (b's', "schema"),
    (b't', "table"),
    (b'c', "column"),
    (b'd', "data_type"),
    (b'n', "constraint"),
    (b'F', "file"),
    (b'L', "line"),
    (b'R', "routine"),
];

/// The format of the value at `index`, as Bind's format codes give it:
/// none means all text, one means all that one, else one each.
pub(crate) fn format_at(formats: &[i16], index: usize) -> i16 {
    match formats {
        [] => 0,
        [one] => *one,
        each => each.get(index).copied().unwrap_or(0),
    }
}

/// The cells of a DataRow's body: a count, then each value's length
/// (`-1` for NULL) and bytes. `None` for a body that does not hold what
/// it says.
pub(crate) fn cells(body: &Bytes) -> Option<Vec<Option<Bytes>>> {
    let count = u16::from_be_bytes(body.get(..2)?.try_into().ok()?);
    let mut at = 2;
    let mut cells = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let length = i32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        match usize::try_from(length) {
            Ok(length) => {
                cells.push(Some(body.slice(
                    at..at.checked_add(length).filter(|end| *end <= body.len())?,
                )));
                at += length;
            }
            Err(_) => cells.push(None),
        }
    }
    Some(cells)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_row_s_cells_and_nulls() {
        let mut body = vec![0, 3];
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"ok");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        let cells = cells(&Bytes::from(body)).unwrap();
        assert_eq!(
            cells,
            [Some(Bytes::from_static(b"ok")), None, Some(Bytes::new())]
        );
        // Shorter than it says.
        assert_eq!(
            super::cells(&Bytes::from_static(&[0, 1, 0, 0, 0, 9, 1])),
            None
        );
    }

    #[test]
    fn formats_as_bind_gives_them() {
        assert_eq!(format_at(&[], 3), 0);
        assert_eq!(format_at(&[1], 3), 1);
        assert_eq!(format_at(&[0, 1], 1), 1);
    }
}
