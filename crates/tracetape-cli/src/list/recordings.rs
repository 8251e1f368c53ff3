//! `tracetape list`: a table of the recordings, one row per file, newest
//! first.

use std::io::Write;

use anyhow::anyhow;
use tracetape::record::{Exchange, Recording, RecordingStore};

use super::{ListArgs, newest, note_limit};
use crate::exit::Failure;
use crate::format::{clean, rfc3339};
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
    render(&args.recordings.open(), args.limit, out, notes)
}

/// The table of the newest `limit` recordings in `store` (all of them
/// when `limit` is 0), with notes for the files that could not be read.
pub(crate) fn render(
    store: &RecordingStore,
    limit: usize,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let loaded = store.load().map_err(|err| Failure::Failed(err.into()))?;
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
    let shown = newest(&loaded.recordings, limit);
    let rows: Vec<_> = shown.iter().map(|stored| row(&stored.recording)).collect();
    table::write(&COLUMNS, &rows, out)?;
    note_limit(notes, shown.len(), loaded.recordings.len(), "recordings")?;
    Ok(())
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
