//! `tracetape list`: a table of the recordings, one row per recording
//! (a line of a segment, or a file of the earlier layout), newest first.

use std::io::Write;

use anyhow::anyhow;
use serde::Serialize;
use tracetape::record::{Exchange, ReadRecordingError, Recording, RecordingStore, StoredRecording};
use tracetape::replay::ReplayId;

use super::{ListArgs, note_limit};
use crate::exit::Failure;
use crate::format::{clean, rfc3339};
use crate::output::{JSON_VERSION, OutputFormat, write_json};
use crate::recordings::{note_skipped, start_unix_nanos};
use crate::table::{self, Align, Column};

/// Services and request lines longer than this are cut short.
const MAX_SERVICE: usize = 24;
const MAX_REQUEST: usize = 64;

const COLUMNS: [Column; 6] = [
    ("TIME", Align::Left),
    ("SERVICE", Align::Left),
    ("REQUEST", Align::Left),
    ("STATUS", Align::Right),
    ("CALLS", Align::Right),
    ("TRACE", Align::Left),
];

pub(crate) fn run(
    args: &ListArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let store = args.recordings.open();
    match args.format {
        OutputFormat::Text => render(&store, args.limit, out, notes),
        OutputFormat::Json => render_json(&store, args.limit, out, notes),
    }
}

/// The table of the newest `limit` recordings in `store` (all of them
/// when `limit` is 0), with notes for the files that could not be read.
pub(crate) fn render(
    store: &RecordingStore,
    limit: usize,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let loaded = read_newest(store, limit)?;
    note_skipped(&loaded.errors, notes)?;
    let dir = store.dir().display();
    if loaded.recordings.is_empty() {
        if !loaded.errors.is_empty() {
            return Err(Failure::Failed(anyhow!(
                "none of the {} recording file(s) in {dir} could be read",
                loaded.errors.len()
            )));
        }
        writeln!(
            notes,
            "no recordings in {dir}; run your service with TRACETAPE_MODE=record to record \
             its requests there (`tracetape list --traces` lists the traces)"
        )?;
        return Ok(());
    }
    let rows: Vec<_> = (loaded.recordings.iter())
        .map(|stored| row(&stored.recording))
        .collect();
    table::write(&COLUMNS, &rows, out)?;
    note_limit(notes, loaded.recordings.len(), loaded.total(), "recordings")?;
    Ok(())
}

/// The newest `limit` recordings of `store` (all when 0), read newest
/// first until that many could be read: the files past them are counted,
/// never decoded, so `list` costs what it shows.
struct Newest {
    /// Each with where it is.
    recordings: Vec<StoredRecording>,
    /// The files or lines read that could not be.
    errors: Vec<ReadRecordingError>,
    /// Recordings in the directory, as far as known: those read, and
    /// those counted in the files not read.
    total: usize,
}

impl Newest {
    fn total(&self) -> usize {
        self.total
    }
}

fn read_newest(store: &RecordingStore, limit: usize) -> Result<Newest, Failure> {
    let paths = store.paths().map_err(|err| Failure::Failed(err.into()))?;
    let mut newest = Newest {
        recordings: Vec::new(),
        errors: Vec::new(),
        total: 0,
    };
    for path in paths {
        if limit != 0 && newest.recordings.len() >= limit {
            let counted = RecordingStore::count_in_file(&path).unwrap_or(0);
            newest.total += usize::try_from(counted).unwrap_or(usize::MAX);
            continue;
        }
        let file = RecordingStore::read_file(&path);
        newest.total += file.recordings.len();
        newest.errors.extend(file.errors);
        for stored in file.recordings.into_iter().rev() {
            if limit != 0 && newest.recordings.len() == limit {
                break;
            }
            newest.recordings.push(stored);
        }
    }
    Ok(newest)
}

/// `tracetape list --format json`: the document.
#[derive(Debug, Serialize)]
struct JsonList<'a> {
    version: u32,
    recordings_dir: String,
    /// Recording files but those that could not be read, of which
    /// `recordings` holds the newest `--limit`.
    total: usize,
    recordings: Vec<JsonRecording<'a>>,
    skipped: Vec<JsonSkipped>,
}

/// One recording file.
#[derive(Debug, Serialize)]
struct JsonRecording<'a> {
    /// `{trace id}-{span id}` of the inbound request (the replay report's
    /// `id`); `null` for calls made outside any request.
    id: Option<String>,
    trace_id: String,
    service: &'a str,
    background: bool,
    start: Option<String>,
    start_unix_nanos: Option<u64>,
    /// Of the inbound request, else of the first call.
    method: Option<&'a str>,
    route: Option<&'a str>,
    url: Option<&'a str>,
    status: Option<u16>,
    calls: usize,
    file: String,
    /// The line of `file` holding it (1 in a file of the
    /// one-file-per-recording layout).
    line: u64,
}

/// A file that could not be read.
#[derive(Debug, Serialize)]
struct JsonSkipped {
    file: String,
    reason: String,
}

/// The newest `limit` recordings in `store` as one JSON document; the
/// files that could not be read are in it and in the notes.
fn render_json(
    store: &RecordingStore,
    limit: usize,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let loaded = read_newest(store, limit)?;
    note_skipped(&loaded.errors, notes)?;
    if loaded.recordings.is_empty() && !loaded.errors.is_empty() {
        return Err(Failure::Failed(anyhow!(
            "none of the {} recording file(s) in {} could be read",
            loaded.errors.len(),
            store.dir().display()
        )));
    }
    let list = JsonList {
        version: JSON_VERSION,
        recordings_dir: store.dir().display().to_string(),
        total: loaded.total(),
        recordings: loaded.recordings.iter().map(json_recording).collect(),
        skipped: loaded
            .errors
            .iter()
            .map(|err| JsonSkipped {
                file: err.path().display().to_string(),
                reason: std::error::Error::source(err)
                    .map_or_else(|| err.to_string(), crate::format::chain),
            })
            .collect(),
    };
    write_json(&list, out)?;
    Ok(())
}

fn json_recording(stored: &StoredRecording) -> JsonRecording<'_> {
    let (path, recording) = (&stored.path, &stored.recording);
    let described = described(recording);
    let start = start_unix_nanos(recording);
    JsonRecording {
        id: ReplayId::of(recording).map(|id| id.to_string()),
        trace_id: recording.trace_id.to_string(),
        service: &recording.service_name,
        background: recording.background,
        start: start.map(rfc3339),
        start_unix_nanos: start,
        method: described.map(|exchange| exchange.request.method.as_str()),
        route: described.and_then(|exchange| exchange.route.as_deref()),
        url: described.map(|exchange| exchange.request.url.as_str()),
        status: described
            .and_then(|exchange| exchange.response.as_ref())
            .map(|response| response.status),
        calls: recording.outbound().count(),
        file: path.display().to_string(),
        line: stored.line,
    }
}

fn row(recording: &Recording) -> [String; 6] {
    let described = described(recording);
    let service = match recording.service_name.as_str() {
        "" => "-".to_owned(),
        name => clean(name, MAX_SERVICE).into_owned(),
    };
    [
        start_unix_nanos(recording).map_or_else(|| "-".to_owned(), rfc3339),
        service,
        described.map_or_else(
            || "-".to_owned(),
            |exchange| clean(&request(recording, exchange), MAX_REQUEST).into_owned(),
        ),
        described
            .and_then(|exchange| exchange.response.as_ref())
            .map_or_else(|| "-".to_owned(), |response| response.status.to_string()),
        recording.outbound().count().to_string(),
        recording.trace_id.to_string(),
    ]
}

/// The exchange a row describes: the inbound request, or for calls made
/// outside any request the first of them.
fn described(recording: &Recording) -> Option<&Exchange> {
    recording.inbound().or_else(|| recording.exchanges.first())
}

/// `POST /orders/{id}` (the route when known, else the path), or
/// `(background) GET config/settings` for a call outside any request.
fn request(recording: &Recording, exchange: &Exchange) -> String {
    let method = &exchange.request.method;
    let url = &exchange.request.url;
    if recording.inbound().is_some() {
        let target = exchange
            .route
            .as_deref()
            .unwrap_or_else(|| without_query(url));
        format!("{method} {target}")
    } else if recording.background {
        format!("(background) {method} {}", host_and_path(url))
    } else {
        format!("{method} {}", host_and_path(url))
    }
}

/// The URL up to its query or fragment.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// A full URL's host (and port) and path: no scheme, user, query or
/// fragment.
fn host_and_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = without_query(rest);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_scheme_user_and_query() {
        assert_eq!(without_query("/orders/7?x=1#top"), "/orders/7");
        assert_eq!(without_query("/orders/7"), "/orders/7");
        assert_eq!(
            host_and_path("http://config:8080/settings?v=2"),
            "config:8080/settings"
        );
        assert_eq!(
            host_and_path("https://REDACTED:REDACTED@api.example/a@b"),
            "api.example/a@b"
        );
        assert_eq!(host_and_path("http://host"), "host");
        assert_eq!(host_and_path("not a url"), "not a url");
    }
}
