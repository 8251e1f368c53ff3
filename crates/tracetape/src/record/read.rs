//! Reading recordings back: a directory of files, newest first, each file
//! read on its own (and each line of a file on its own) so one bad file or
//! line never hides the others.
//!
//! Two layouts share a directory: segments (`*.jsonl`, see `segment.rs`),
//! many recordings each, and the files of earlier versions (`*.json`), one
//! recording each. Both are read the same way: line by line, a line being
//! one OTLP/JSON `TracesData` document, so a collector's file output reads
//! too.

use std::fs;
use std::io::{self, BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

use super::Recording;
use super::error::{DecodeError, ListRecordingsError, ReadRecordingError};
use super::file::{Line as Decoded, decode_line};
use super::segment::{self, Line};
use crate::store::files;

/// The largest recording tracetape writes or reads: 256 MiB, as one file
/// of the one-file-per-recording layout or as one line of a segment. A
/// recording that would be larger is not written (counted as failed, with
/// the reason), and a larger file or line is not read
/// ([`ReadRecordingError::TooLarge`], [`ReadRecordingError::LineTooLarge`]),
/// so that one recording can never take all of a reader's memory.
pub const MAX_RECORDING_BYTES: u64 = 256 * 1024 * 1024;

/// A directory of recordings, by default `.tracetape/recordings`.
///
/// Every file directly in it whose name ends in `.jsonl` (a segment, many
/// recordings, one per line) or `.json` (one recording, the layout of
/// earlier versions) and does not start with `.` holds recordings; hidden
/// files are writes in progress. File names start with the time they were
/// written, so sorting by name sorts by time. The recordings guide
/// (`docs/recordings.md`) describes both layouts.
///
/// ```no_run
/// use tracetape::record::RecordingStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let loaded = RecordingStore::default().load()?;
/// for stored in &loaded.recordings {
///     let recording = &stored.recording;
///     let route = recording.inbound().map_or("(background)", |inbound| &inbound.name);
///     println!("{} {route} {} calls", recording.trace_id, recording.outbound().count());
/// }
/// for err in &loaded.errors {
///     eprintln!("skipped {}: {err}", err.path().display());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStore {
    dir: PathBuf,
}

impl Default for RecordingStore {
    /// The store in [`RecordingStore::default_dir`].
    fn default() -> Self {
        Self::new(Self::default_dir())
    }
}

/// What [`RecordingStore::load`] found: the recordings it could read and,
/// for every file or line it could not, why.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LoadedRecordings {
    /// The recordings read, newest first.
    pub recordings: Vec<StoredRecording>,
    /// One error per file or line that could not be read, in the same
    /// order.
    pub errors: Vec<ReadRecordingError>,
    /// The segments that ended in a line cut short (a crash while it was
    /// written, or a write still in progress), skipped: each with the
    /// bytes left unread.
    pub torn_tails: Vec<(PathBuf, u64)>,
}

/// What [`RecordingStore::read_file`] found in one file.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct FileRecordings {
    /// The recordings read, in the order they were written (oldest first).
    pub recordings: Vec<StoredRecording>,
    /// One error per line that could not be read, or one for the whole
    /// file.
    pub errors: Vec<ReadRecordingError>,
    /// The bytes after the file's last newline, skipped as a line cut
    /// short; 0 when the file ends with a whole line.
    pub torn_tail: u64,
}

/// A recording and where it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRecording {
    /// The file.
    pub path: PathBuf,
    /// The line of the file holding it, counted from 1 (1 in a file of
    /// the one-file-per-recording layout).
    pub line: u64,
    /// What it holds.
    pub recording: Recording,
}

impl StoredRecording {
    /// A recording read from `path`, line `line`.
    pub fn new(path: impl Into<PathBuf>, line: u64, recording: Recording) -> Self {
        Self {
            path: path.into(),
            line,
            recording,
        }
    }

    /// Where it is: the file, and `:line` when the file is a segment or
    /// holds several documents (line 1 of a one-recording file is said as
    /// the file alone).
    pub fn location(&self) -> String {
        if self.line <= 1 && !is_segment(&self.path) {
            self.path.display().to_string()
        } else {
            format!("{}:{}", self.path.display(), self.line)
        }
    }
}

/// Whether `path` is named as a segment (`*.jsonl`).
pub(crate) fn is_segment(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == segment::EXTENSION)
}

impl RecordingStore {
    /// The recordings in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default directory, `.tracetape/recordings`, relative to the
    /// working directory.
    pub fn default_dir() -> PathBuf {
        PathBuf::from(super::DEFAULT_DIR)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files holding recordings (segments and one-recording files),
    /// newest first. A directory that does not exist holds none.
    pub fn paths(&self) -> Result<Vec<PathBuf>, ListRecordingsError> {
        match files::batch_files(&self.dir) {
            Ok(mut paths) => {
                paths.reverse();
                Ok(paths)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(ListRecordingsError::Dir {
                path: self.dir.clone(),
                source,
            }),
        }
    }

    /// Reads every recording, newest first. A file or line that cannot be
    /// read (corrupt, written by a newer tracetape) is reported in
    /// [`LoadedRecordings::errors`] and the others are still read; a
    /// segment's last line cut short by a crash is skipped (and noted in
    /// [`LoadedRecordings::torn_tails`]); a file removed between listing and
    /// reading is left out. Only a directory that cannot be listed is an
    /// error.
    pub fn load(&self) -> Result<LoadedRecordings, ListRecordingsError> {
        let mut loaded = LoadedRecordings::default();
        for path in self.paths()? {
            let mut file = Self::read_file(&path);
            file.recordings.reverse();
            loaded.recordings.append(&mut file.recordings);
            loaded.errors.append(&mut file.errors);
            if file.torn_tail > 0 {
                loaded.torn_tails.push((path, file.torn_tail));
            }
        }
        Ok(loaded)
    }

    /// Reads the recordings of one file, of either layout, in the order
    /// they were written. A file removed before it could be opened holds
    /// none.
    ///
    /// ```
    /// use tracetape::opentelemetry::trace::TraceId;
    /// use tracetape::record::{Recording, RecordingStore};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let recording = |n: u128| Recording {
    ///     trace_id: TraceId::from(n),
    ///     service_name: "checkout".into(),
    ///     background: false,
    ///     exchanges: Vec::new(),
    /// };
    /// // Two whole lines, then a third cut short by a crash.
    /// let mut lines = recording(1).to_otlp_json()?;
    /// lines.extend(recording(2).to_otlp_json()?);
    /// lines.extend(br#"{"resourceSpans":[{"reso"#);
    /// let path = dir.path().join("1.jsonl");
    /// std::fs::write(&path, lines)?;
    ///
    /// let file = RecordingStore::read_file(&path);
    /// assert_eq!(file.recordings.len(), 2);
    /// assert_eq!(file.recordings[1].line, 2);
    /// assert!(file.errors.is_empty());
    /// assert_eq!(file.torn_tail, 24);
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_file(path: impl AsRef<Path>) -> FileRecordings {
        let path = path.as_ref();
        let mut found = FileRecordings::default();
        let result = if is_segment(path) {
            read_segment(path, &mut found)
        } else {
            read_single(path, &mut found)
        };
        match result {
            Ok(()) => {}
            Err(ReadRecordingError::Io { source, .. })
                if source.kind() == io::ErrorKind::NotFound => {}
            Err(err) => found.errors.push(err),
        }
        found
    }

    /// How many recordings the directory holds, counted without decoding
    /// them: a segment's whole lines but its header, one per file of the
    /// one-file-per-recording layout. A file that cannot be read counts
    /// none.
    pub fn count(&self) -> Result<u64, ListRecordingsError> {
        Ok(self
            .paths()?
            .iter()
            .map(|path| Self::count_in_file(path).unwrap_or(0))
            .sum())
    }

    /// The recordings [`count`](Self::count) counts in one file.
    pub fn count_in_file(path: impl AsRef<Path>) -> io::Result<u64> {
        count_in(path.as_ref())
    }
}

fn count_in(path: &Path) -> io::Result<u64> {
    if !is_segment(path) {
        return Ok(1);
    }
    let mut reader = BufReader::with_capacity(64 * 1024, fs::File::open(path)?);
    let mut lines = 0_u64;
    let mut header = None;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(lines.saturating_sub(u64::from(header.unwrap_or(false))));
        }
        if header.is_none() {
            header = Some(segment::looks_like_header(available));
        }
        lines += available.iter().filter(|&&b| b == b'\n').count() as u64;
        let len = available.len();
        reader.consume(len);
    }
}

/// A segment, read line by line; its torn tail, if any, skipped.
fn read_segment(path: &Path, found: &mut FileRecordings) -> Result<(), ReadRecordingError> {
    let io = |source| ReadRecordingError::Io {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    read_lines(path, BufReader::with_capacity(256 * 1024, file), found)
}

/// The lines of `reader`, each a document, into `found`.
fn read_lines(
    path: &Path,
    mut reader: impl BufRead,
    found: &mut FileRecordings,
) -> Result<(), ReadRecordingError> {
    let mut buf = Vec::new();
    let mut number = 0_u64;
    loop {
        let line =
            segment::read_line(&mut reader, MAX_RECORDING_BYTES, &mut buf).map_err(|source| {
                ReadRecordingError::Io {
                    path: path.to_owned(),
                    source,
                }
            })?;
        number += 1;
        match line {
            Line::End => return Ok(()),
            Line::Torn(bytes) => {
                if !segment::is_blank(&buf) {
                    found.torn_tail = bytes;
                }
                return Ok(());
            }
            Line::TooLong(size) => found.errors.push(ReadRecordingError::LineTooLarge {
                path: path.to_owned(),
                line: number,
                size,
                limit: MAX_RECORDING_BYTES,
            }),
            Line::Whole if segment::is_blank(&buf) => {}
            Line::Whole => match decode_line(&buf) {
                Ok(Decoded::Recordings(recordings)) => found.recordings.extend(
                    recordings
                        .into_iter()
                        .map(|recording| StoredRecording::new(path, number, recording)),
                ),
                Ok(Decoded::Header) => {}
                // Other telemetry in a collector's output.
                Err(DecodeError::NotARecording) => {}
                // A layout this build does not read: none of its lines are.
                Err(source @ DecodeError::LayoutNotRead { .. }) => {
                    return Err(ReadRecordingError::Decode {
                        path: path.to_owned(),
                        source,
                    });
                }
                Err(source) => found.errors.push(ReadRecordingError::Line {
                    path: path.to_owned(),
                    line: number,
                    source,
                }),
            },
        }
    }
}

/// A file of the one-file-per-recording layout: one document, on one line
/// or spread over several (written by hand, pretty-printed); or, when it
/// is not one document, lines of documents (a collector's output named
/// `*.json`), read as a segment is.
fn read_single(path: &Path, found: &mut FileRecordings) -> Result<(), ReadRecordingError> {
    let bytes = read_bounded(path, MAX_RECORDING_BYTES)?;
    let decode = |source| ReadRecordingError::Decode {
        path: path.to_owned(),
        source,
    };
    match decode_line(&bytes) {
        Ok(Decoded::Recordings(recordings)) => {
            found.recordings.extend(
                recordings
                    .into_iter()
                    .map(|recording| StoredRecording::new(path, 1, recording)),
            );
            Ok(())
        }
        Ok(Decoded::Header) => Ok(()),
        Err(_) if has_several_lines(&bytes) => read_lines(path, &bytes[..], found),
        Err(err) => Err(decode(err)),
    }
}

/// Whether `bytes` holds a newline followed by more than white space.
fn has_several_lines(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|at| !segment::is_blank(&bytes[at..]))
}

impl Recording {
    /// Reads the recording file at `path`: one document, as
    /// [`write_to`](Self::write_to) and the recorders of earlier versions
    /// write (see [`from_otlp_json`](Self::from_otlp_json)). A segment, which
    /// holds many, is read with [`RecordingStore::read_file`].
    ///
    /// ```no_run
    /// use tracetape::record::Recording;
    ///
    /// match Recording::from_file(".tracetape/recordings/some.json") {
    ///     Ok(recording) => println!("{} exchanges", recording.exchanges.len()),
    ///     // "failed to read recording ...: the recording is in format 2.0,
    ///     // newer than this build of tracetape reads (format 1.0); upgrade
    ///     // tracetape to read it"
    ///     Err(err) if err.is_too_new() => eprintln!("{err}: upgrade tracetape"),
    ///     Err(err) => eprintln!("{err}"),
    /// }
    /// ```
    ///
    /// A file larger than [`MAX_RECORDING_BYTES`]
    /// is not read ([`ReadRecordingError::TooLarge`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Recording, ReadRecordingError> {
        let path = path.as_ref();
        let bytes = read_bounded(path, MAX_RECORDING_BYTES)?;
        Recording::from_otlp_json(&bytes).map_err(|source| ReadRecordingError::Decode {
            path: path.to_owned(),
            source,
        })
    }
}

/// The bytes of `path`, when it holds at most `limit` (also when it grows
/// while read).
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadRecordingError> {
    let io = |source| ReadRecordingError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = |size| ReadRecordingError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    let file = fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use opentelemetry::trace::TraceId;

    use super::*;
    use crate::diag::chain;
    use crate::record::DecodeError;
    use crate::record::testing::{background_recording, rich_recording};

    /// Writes `recording` as the file `name` in `dir`.
    fn put(dir: &Path, name: &str, recording: &Recording) -> PathBuf {
        fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, recording.to_otlp_json().unwrap()).unwrap();
        path
    }

    /// A file larger than any recording is refused by name, before it is
    /// read whole; one that grows past the limit while read, too.
    #[test]
    fn a_file_past_the_limit_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("huge.json");
        fs::write(&path, vec![b' '; 100]).unwrap();
        let err = read_bounded(&path, 10).unwrap_err();
        assert!(
            matches!(
                &err,
                ReadRecordingError::TooLarge {
                    size: 100,
                    limit: 10,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.path(), path);
        assert!(err.to_string().contains("huge.json is 100 bytes"), "{err}");
        assert_eq!(read_bounded(&path, 100).unwrap().len(), 100);
    }

    #[test]
    fn recordings_are_listed_newest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(tmp.path());
        for trace in 1..=3_u128 {
            put(
                tmp.path(),
                &format!("{trace:020}-1-000000.json"),
                &background_recording(trace),
            );
        }
        let loaded = store.load().unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let traces: Vec<TraceId> = loaded
            .recordings
            .iter()
            .map(|stored| stored.recording.trace_id)
            .collect();
        assert_eq!(traces, [3_u128, 2, 1].map(TraceId::from));
        assert_eq!(store.paths().unwrap()[0], loaded.recordings[0].path);
    }

    #[test]
    fn a_truncated_file_is_reported_and_the_others_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(tmp.path());
        let good_old = put(tmp.path(), "1-old.json", &rich_recording());
        let json = rich_recording().to_otlp_json().unwrap();
        let cut = tmp.path().join("2-cut.json");
        fs::write(&cut, &json[..json.len() * 2 / 3]).unwrap();
        let good_new = put(tmp.path(), "3-new.json", &background_recording(9));

        let loaded = store.load().unwrap();
        let paths: Vec<&Path> = loaded.recordings.iter().map(|r| r.path.as_path()).collect();
        assert_eq!(paths, [good_new.as_path(), good_old.as_path()]);
        assert_eq!(loaded.recordings[1].recording, rich_recording());
        let [err] = loaded.errors.as_slice() else {
            panic!("expected one error, got {:?}", loaded.errors);
        };
        assert_eq!(err.path(), cut);
        assert!(matches!(
            err,
            ReadRecordingError::Decode {
                source: DecodeError::Json { .. },
                ..
            }
        ));
        let message = chain(err);
        assert!(
            message.starts_with(&format!(
                "failed to read recording {}: not an OTLP/JSON TracesData document: EOF while parsing",
                cut.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn a_file_from_a_newer_tracetape_says_to_upgrade() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(tmp.path());
        put(tmp.path(), "1.json", &rich_recording());
        let json = String::from_utf8(rich_recording().to_otlp_json().unwrap()).unwrap();
        let newer = json.replace(r#"{"stringValue":"1.2"}"#, r#"{"stringValue":"3.1"}"#);
        assert_ne!(json, newer);
        let path = tmp.path().join("2.json");
        fs::write(&path, newer).unwrap();

        let loaded = store.load().unwrap();
        assert_eq!(loaded.recordings.len(), 1);
        let [err] = loaded.errors.as_slice() else {
            panic!("expected one error, got {:?}", loaded.errors);
        };
        assert!(err.is_too_new());
        assert_eq!(
            chain(err),
            format!(
                "failed to read recording {}: the recording is in format 3.1, newer than this \
                 build of tracetape reads (format 1.2); upgrade tracetape to read it",
                path.display()
            )
        );
    }

    #[test]
    fn hidden_and_other_files_are_not_recordings() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(tmp.path());
        put(tmp.path(), "1.json", &rich_recording());
        // A write in progress, notes, a directory named like a recording.
        fs::write(tmp.path().join(".2.json.tmp"), b"{\"resou").unwrap();
        fs::write(tmp.path().join("README.txt"), b"hi").unwrap();
        fs::create_dir(tmp.path().join("3.json")).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.recordings.len(), 1);
        assert!(loaded.errors.is_empty());
    }

    #[test]
    fn a_missing_directory_is_empty_and_a_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = RecordingStore::new(tmp.path().join("nope"));
        assert!(missing.paths().unwrap().is_empty());
        assert!(missing.load().unwrap().recordings.is_empty());

        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        let err = RecordingStore::new(&file).load().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("failed to list recordings in {}", file.display())
        );
    }

    #[test]
    fn an_unreadable_file_is_an_io_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("gone.json");
        let err = Recording::from_file(&path).unwrap_err();
        assert!(matches!(err, ReadRecordingError::Io { .. }));
        assert_eq!(err.path(), path);
        assert_eq!(
            err.to_string(),
            format!("failed to read recording {}", path.display())
        );
        assert_eq!(
            RecordingStore::default().dir(),
            Path::new(".tracetape/recordings")
        );
    }
}
