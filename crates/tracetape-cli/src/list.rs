//! `tracetape list`: a table of the stored traces, newest first.

use std::io::{self, Write};
use std::path::Path;

use tracetape::store::{TraceList, TraceSummary};

use crate::cli::ListArgs;
use crate::exit::Failure;
use crate::format::{clean, millis, rfc3339, width};

/// Root span names and services longer than this are cut short.
const MAX_NAME: usize = 48;
const MAX_SERVICE: usize = 24;

pub(crate) fn run(
    args: &ListArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let store = args.store.open();
    let list = store.traces().map_err(|err| Failure::Failed(err.into()))?;
    render(&list, store.dir(), args.limit, out, notes)?;
    Ok(())
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
    let shown = if limit == 0 {
        &list.traces[..]
    } else {
        &list.traces[..limit.min(list.traces.len())]
    };
    let rows: Vec<Row> = shown.iter().map(Row::new).collect();
    write_table(&rows, out)?;
    if shown.len() < list.traces.len() {
        writeln!(
            notes,
            "note: showing the newest {} of {} traces; use --limit to see more",
            shown.len(),
            list.traces.len()
        )?;
    }
    Ok(())
}

/// One table row, as the strings that are printed.
struct Row {
    time: String,
    trace_id: String,
    root: String,
    service: String,
    spans: String,
    duration: String,
    error: &'static str,
}

impl Row {
    fn new(summary: &TraceSummary) -> Self {
        Self {
            time: rfc3339(summary.start_unix_nanos),
            trace_id: summary.trace_id.clone(),
            root: clean(&summary.root_name, MAX_NAME).into_owned(),
            service: summary
                .service_name
                .as_deref()
                .map_or_else(|| "-".to_owned(), |s| clean(s, MAX_SERVICE).into_owned()),
            spans: summary.span_count.to_string(),
            duration: millis(summary.duration()),
            error: if summary.has_error { "ERROR" } else { "" },
        }
    }
}

fn write_table(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    let header = Row {
        time: "TIME".into(),
        trace_id: "TRACE ID".into(),
        root: "ROOT SPAN".into(),
        service: "SERVICE".into(),
        spans: "SPANS".into(),
        duration: "DURATION".into(),
        error: "",
    };
    let column = |field: fn(&Row) -> &str| {
        rows.iter()
            .chain([&header])
            .map(|row| width(field(row)))
            .max()
            .unwrap_or(0)
    };
    let widths = [
        column(|r| &r.time),
        column(|r| &r.trace_id),
        column(|r| &r.root),
        column(|r| &r.service),
        column(|r| &r.spans),
        column(|r| &r.duration),
    ];
    for row in [&header].into_iter().chain(rows) {
        let line = format!(
            "{}  {}  {}  {}  {}  {}  {}",
            pad_right(&row.time, widths[0]),
            pad_right(&row.trace_id, widths[1]),
            pad_right(&row.root, widths[2]),
            pad_right(&row.service, widths[3]),
            pad_left(&row.spans, widths[4]),
            pad_left(&row.duration, widths[5]),
            row.error,
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn pad_right(text: &str, to: usize) -> String {
    format!("{text}{}", " ".repeat(to.saturating_sub(width(text))))
}

fn pad_left(text: &str, to: usize) -> String {
    format!("{}{text}", " ".repeat(to.saturating_sub(width(text))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn padding_counts_characters() {
        assert_eq!(pad_right("é", 3), "é  ");
        assert_eq!(pad_left("7", 5), "    7");
        assert_eq!(pad_left("too long", 2), "too long");
    }

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
