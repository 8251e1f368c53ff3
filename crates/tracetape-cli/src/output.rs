//! `--format` of `list` and `show`: text for people, or one JSON document
//! for programs (every field in docs/list-show-json.md), and what the JSON
//! writers share.

use std::io::{self, Write};

use serde::Serialize;
use serde::ser::Serializer;

/// The JSON documents' version: a new field keeps it, a changed or removed
/// one raises it.
pub(crate) const JSON_VERSION: u32 = 1;

/// The value of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned tables and trees.
    #[default]
    Text,
    /// One pretty-printed JSON document.
    Json,
}

/// Writes `value` as pretty-printed JSON and a newline.
pub(crate) fn write_json(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Attributes (name, value) as a JSON object, in their order.
pub(crate) fn attributes<S: Serializer>(
    attributes: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(attributes.iter().map(|(key, value)| (key, value)))
}

/// A duration in nanoseconds as milliseconds, to the microsecond.
pub(crate) fn millis(nanos: u64) -> f64 {
    (nanos / 1_000) as f64 / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_keep_microseconds() {
        assert_eq!(millis(1_234_567), 1.234);
        assert_eq!(millis(0), 0.0);
    }
}
