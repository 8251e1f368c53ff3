//! `tracetape list --traces`: a table of the traces in the span store,
//! newest first.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::{ListArgs, newest, note_limit};
use crate::exit::Failure;
use crate::format::{clean, millis, rfc3339};
use crate::output::{JSON_VERSION, OutputFormat, millis as json_millis, write_json};
use crate::span_store::{self, TraceList, TraceSummary};
use crate::table::{self, Align, Column};

/// Root span names and services longer than this are cut short.
const MAX_NAME: usize = 48;
const MAX_SERVICE: usize = 24;

const COLUMNS: [Column; 7] = [
    ("TIME", Align::Left),
    ("TRACE ID", Align::Left),
    ("ROOT SPAN", Align::Left),
    ("SERVICE", Align::Left),
    ("SPANS", Align::Right),
    ("DURATION", Align::Right),
    ("", Align::Left),
];

pub(crate) fn run(
    args: &ListArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let store = args.store.open();
    let list = span_store::traces(&store).map_err(|err| Failure::Failed(err.into()))?;
    match args.format {
        OutputFormat::Text => render(&list, store.dir(), args.limit, out, notes)?,
        OutputFormat::Json => render_json(&list, store.dir(), args.limit, out)?,
    }
    Ok(())
}

/// `tracetape list --traces --format json`: the document.
#[derive(Debug, Serialize)]
struct JsonList<'a> {
    version: u32,
    store_dir: String,
    /// Traces read, of which `traces` holds the newest `--limit`.
    total: usize,
    skipped_files: usize,
    traces: Vec<JsonTrace<'a>>,
}

/// One trace of the span store.
#[derive(Debug, Serialize)]
struct JsonTrace<'a> {
    trace_id: &'a str,
    start: String,
    start_unix_nanos: u64,
    end_unix_nanos: u64,
    duration_ms: f64,
    root_span: &'a str,
    service: Option<&'a str>,
    spans: usize,
    error: bool,
}

/// The newest `limit` traces of `list` as one JSON document.
fn render_json(list: &TraceList, dir: &Path, limit: usize, out: &mut dyn Write) -> io::Result<()> {
    let json = JsonList {
        version: JSON_VERSION,
        store_dir: dir.display().to_string(),
        total: list.traces.len(),
        skipped_files: list.skipped_files,
        traces: newest(&list.traces, limit)
            .iter()
            .map(|summary| JsonTrace {
                trace_id: &summary.trace_id,
                start: rfc3339(summary.start_unix_nanos),
                start_unix_nanos: summary.start_unix_nanos,
                end_unix_nanos: summary.end_unix_nanos,
                duration_ms: json_millis(
                    summary
                        .end_unix_nanos
                        .saturating_sub(summary.start_unix_nanos),
                ),
                root_span: &summary.root_name,
                service: summary.service_name.as_deref(),
                spans: summary.span_count,
                error: summary.has_error,
            })
            .collect(),
    };
    write_json(&json, out)
}

pub(crate) fn render(
    list: &TraceList,
    dir: &Path,
    limit: usize,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> io::Result<()> {
    if list.skipped_files > 0 {
        writeln!(
            notes,
            "note: skipped {} unreadable file(s) in {}",
            list.skipped_files,
            dir.display()
        )?;
    }
    if list.traces.is_empty() {
        writeln!(
            out,
            "no traces in {} yet; run `tracetape demo` to record some",
            dir.display()
        )?;
        return Ok(());
    }
    let shown = newest(&list.traces, limit);
    let rows: Vec<_> = shown.iter().map(row).collect();
    table::write(&COLUMNS, &rows, out)?;
    note_limit(notes, shown.len(), list.traces.len(), "traces")
}

/// One table row, as the strings that are printed.
fn row(summary: &TraceSummary) -> [String; 7] {
    [
        rfc3339(summary.start_unix_nanos),
        summary.trace_id.clone(),
        clean(&summary.root_name, MAX_NAME).into_owned(),
        summary
            .service_name
            .as_deref()
            .map_or_else(|| "-".to_owned(), |s| clean(s, MAX_SERVICE).into_owned()),
        summary.span_count.to_string(),
        millis(summary.duration()),
        if summary.has_error { "ERROR" } else { "" }.to_owned(),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_store_suggests_the_demo() {
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        let list = TraceList::default();
        render(&list, Path::new("x/traces"), 50, &mut out, &mut notes).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "no traces in x/traces yet; run `tracetape demo` to record some\n"
        );
        assert!(notes.is_empty());
    }
}
