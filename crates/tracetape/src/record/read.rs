//! Reading recordings back: a directory of files, newest first, each file
//! read on its own so one bad file never hides the others.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use super::Recording;
use super::error::{ListRecordingsError, ReadRecordingError};
use crate::store::files;

/// The largest recording file tracetape writes or reads: 256 MiB. A
/// recording that would be larger is not written (counted as failed, with
/// the reason), and a larger file is not read
/// ([`ReadRecordingError::TooLarge`]), so that one file can never take all
/// of a reader's memory.
pub const MAX_RECORDING_BYTES: u64 = 256 * 1024 * 1024;

/// A directory of recording files, by default `.tracetape/recordings`.
///
/// Every `*.json` file whose name does not start with `.` is a recording;
/// hidden files are writes in progress. File names start with the time
/// they were written, so sorting by name sorts by time.
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
/// for every file it could not, why.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LoadedRecordings {
    /// The recordings read, newest first.
    pub recordings: Vec<StoredRecording>,
    /// One error per file that could not be read, in the same order.
    pub errors: Vec<ReadRecordingError>,
}

/// A recording and the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRecording {
    /// The file.
    pub path: PathBuf,
    /// What it holds.
    pub recording: Recording,
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

    /// The recording files, newest first. A directory that does not exist
    /// holds none.
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

    /// Reads every recording, newest first. A file that cannot be read
    /// (cut short, corrupt, written by a newer tracetape) is reported in
    /// [`LoadedRecordings::errors`] and the others are still read; a file
    /// removed between listing and reading is left out. Only a directory
    /// that cannot be listed is an error.
    pub fn load(&self) -> Result<LoadedRecordings, ListRecordingsError> {
        let mut loaded = LoadedRecordings::default();
        for path in self.paths()? {
            match Recording::from_file(&path) {
                Ok(recording) => loaded.recordings.push(StoredRecording { path, recording }),
                Err(ReadRecordingError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound => {}
                Err(err) => loaded.errors.push(err),
            }
        }
        Ok(loaded)
    }
}

impl Recording {
    /// Reads the recording file at `path` (see
    /// [`from_otlp_json`](Self::from_otlp_json)).
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
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadRecordingError> {
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
        let newer = json.replace(r#"{"stringValue":"1.0"}"#, r#"{"stringValue":"3.1"}"#);
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
                 build of tracetape reads (format 1.0); upgrade tracetape to read it",
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
