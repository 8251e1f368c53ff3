//! `text/event-stream` bodies: server-sent events.
//!
//! Events are separated by blank lines. Each event's `data:` lines are
//! joined with `\n`, as a browser's `EventSource` does, and are the
//! record compared (as JSON when they parse); its `event:`, `id:` and
//! `retry:` fields are compared beside it. Comments (lines starting with
//! `:`, often keep-alives sent on a timer) and fields of other names are
//! left out, and so are blocks holding nothing else.

use super::records::{Record, Records, Unit};

/// The fields compared beside an event's data, in this order.
const FIELDS: [&str; 3] = ["event", "id", "retry"];

/// The events of an event stream.
pub(super) fn records(text: &str) -> Records {
    let mut items = Vec::new();
    let mut event = Event::default();
    for line in lines(text) {
        if line.is_empty() {
            items.extend(event.take());
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        if name == "data" {
            event.data.push(value);
            event.any = true;
        } else if let Some(at) = FIELDS.iter().position(|field| *field == name) {
            event.fields[at] = Some(value);
            event.any = true;
        }
    }
    items.extend(event.take());
    Records {
        unit: Unit::Event,
        items,
    }
}

/// An event being read.
#[derive(Debug, Default)]
struct Event<'t> {
    data: Vec<&'t str>,
    /// The last value of each of [`FIELDS`].
    fields: [Option<&'t str>; 3],
    /// Whether any field was read.
    any: bool,
}

impl Event<'_> {
    /// The event read so far, if it has a field, and a fresh one to read
    /// the next.
    fn take(&mut self) -> Option<Record> {
        let event = std::mem::take(self);
        if !event.any {
            return None;
        }
        let mut record = Record::new(event.data.join("\n"));
        record.fields = FIELDS
            .iter()
            .zip(event.fields)
            .filter_map(|(name, value)| Some((*name, value?.to_owned())))
            .collect();
        Some(record)
    }
}

/// Lines ended by `\r\n`, `\n` or `\r`.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_are_split_on_blank_lines_and_data_joined() {
        let records = records(
            ": keep-alive\n\n\
             event: order\nid: 7\ndata: {\"id\": 1,\ndata: \"total\": 2}\n\n\
             data:plain\r\ndata: text\r\n\r\n\
             retry: 3000\nunknown: x\n\n\
             : only a comment\n\n\
             data: {\"last\": true}",
        );
        let shown: Vec<_> = records
            .items
            .iter()
            .map(|r| (r.json.clone(), r.text.as_str(), r.fields.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    Some(json!({"id": 1, "total": 2})),
                    "{\"id\": 1,\n\"total\": 2}",
                    vec![("event", "order".to_owned()), ("id", "7".to_owned())]
                ),
                (None, "plain\ntext", vec![]),
                (None, "", vec![("retry", "3000".to_owned())]),
                (Some(json!({"last": true})), "{\"last\": true}", vec![]),
            ]
        );
        assert_eq!(records.unit, Unit::Event);
        assert!(super::records("").items.is_empty());
        assert!(super::records(": ping\n\n: ping\n\n").items.is_empty());
    }
}
