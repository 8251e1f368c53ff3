//! Bodies made of records, NDJSON lines or server-sent events, compared
//! as one JSON array of them: the record at `$[3]`, its member at
//! `$[3].id`, every record's at `$[*].id`.

use serde_json::Value;

/// What a body's records are, to name them in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// NDJSON / JSON Lines: a record per line.
    Line,
    /// `text/event-stream`: a record per event.
    Event,
}

impl Unit {
    /// `line`, `event`.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Event => "event",
        }
    }
}

/// The records of one body, in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Records {
    pub(super) unit: Unit,
    pub(super) items: Vec<Record>,
}

/// One record: its JSON value when it parses, its text as written, and
/// fields beside it that are not JSON (an event's `event:` and `id:`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    /// The record as JSON, `None` when it does not parse.
    pub(super) json: Option<Value>,
    /// The record as written.
    pub(super) text: String,
    /// Named fields, each once, compared exactly but for dynamic values.
    pub(super) fields: Vec<(&'static str, String)>,
}

impl Record {
    /// `text`, read as JSON if it is.
    pub(super) fn new(text: String) -> Self {
        Self {
            json: serde_json::from_str(&text).ok(),
            text,
            fields: Vec::new(),
        }
    }
}

/// A record as the comparison walks it: what is not its JSON value.
#[derive(Debug)]
pub(super) struct Meta {
    pub(super) json: bool,
    pub(super) text: String,
    pub(super) fields: Vec<(&'static str, String)>,
}

impl Records {
    /// The records as one JSON array (a record that is not JSON as its
    /// text, a string), and the rest of each record.
    pub(super) fn into_document(self) -> (Value, Vec<Meta>) {
        let (values, metas) = self
            .items
            .into_iter()
            .map(|record| {
                let meta = Meta {
                    json: record.json.is_some(),
                    text: record.text,
                    fields: record.fields,
                };
                let value = record
                    .json
                    .unwrap_or_else(|| Value::String(meta.text.clone()));
                (value, meta)
            })
            .unzip();
        (Value::Array(values), metas)
    }
}
