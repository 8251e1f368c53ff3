//! `tracetape show`: the recordings of one trace (`show/recording.rs`) or,
//! when no recording has the id, the trace's spans from the span store
//! (`show/trace.rs`).

mod args;
mod body;
mod document;
mod grpc;
mod json;
mod recording;
pub(crate) mod trace;

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::anyhow;
use tracetape::record::StoredRecording;

use crate::exit::Failure;
use crate::format::chain;
use crate::output::OutputFormat;
use crate::recordings::note_skipped;
pub(crate) use args::ShowArgs;

/// Trace ids an ambiguity error names, at most.
const NAMED_MATCHES: usize = 5;

pub(crate) fn run(
    args: &ShowArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    if !args.traces
        && let Some((trace_id, recordings)) = find_recordings(args, notes)?
    {
        match args.format {
            OutputFormat::Text => {
                let layout = recording::Layout::new(args.width, args.full);
                recording::render(&trace_id, &recordings, layout, out)?;
            }
            OutputFormat::Json => document::recorded(&trace_id, &recordings, out)?,
        }
        return Ok(());
    }
    trace::run(args, out, notes)
}

/// The recordings of trace `trace_id` as `tracetape show` prints them,
/// whole (every line, none cut): for `tracetape view`.
pub(crate) fn recorded_text(trace_id: &str, recordings: &[StoredRecording]) -> String {
    let mut text = Vec::new();
    // Writing to memory cannot fail.
    let _ = recording::render(
        trace_id,
        recordings,
        recording::Layout::new(0, true),
        &mut text,
    );
    String::from_utf8_lossy(&text).into_owned()
}

/// The recording files of the one trace whose id starts with the id given,
/// with that trace id; `None` when no recording has such a trace id (or the
/// id is not one: the span store says what is wrong with it).
fn find_recordings(
    args: &ShowArgs,
    notes: &mut dyn Write,
) -> Result<Option<(String, Vec<StoredRecording>)>, Failure> {
    let prefix = args.id.trim().to_ascii_lowercase();
    if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let store = args.recordings.open();
    let loaded = match store.load() {
        Ok(loaded) => loaded,
        Err(err) => {
            writeln!(notes, "note: {}; looking in the trace store", chain(&err))?;
            return Ok(None);
        }
    };
    let mut by_trace: BTreeMap<String, Vec<StoredRecording>> = BTreeMap::new();
    for stored in loaded.recordings {
        let trace_id = stored.recording.trace_id.to_string();
        if trace_id.starts_with(&prefix) {
            by_trace.entry(trace_id).or_default().push(stored);
        }
    }
    if by_trace.len() > 1 {
        let named: Vec<&str> = by_trace
            .keys()
            .take(NAMED_MATCHES)
            .map(String::as_str)
            .collect();
        let more = by_trace.len().saturating_sub(NAMED_MATCHES);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Err(Failure::Usage(anyhow!(
            "trace id prefix {prefix} is ambiguous: the recordings in {} have {} traces that \
             start with it: {}{more}",
            store.dir().display(),
            by_trace.len(),
            named.join(", ")
        )));
    }
    let Some(found) = by_trace.into_iter().next() else {
        return Ok(None);
    };
    note_skipped(&loaded.errors, notes)?;
    Ok(Some(found))
}
