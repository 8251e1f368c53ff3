//! The files of a store: listing and atomic writes.
//!
//! A finished batch is a `*.json` file (for recordings, also a `*.jsonl`
//! segment) whose name sorts by creation time.
//! Files being written are named `.<final name>.tmp` and renamed into place
//! once complete, so a reader never sees half a file; anything starting with
//! `.` is ignored by readers and by the size cap.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use super::error::WriteError;

/// The name for the next batch file: creation time in nanoseconds since the
/// Unix epoch (zero-padded so names sort by time), then the process id and a
/// per-process sequence number, so no two writers pick the same name.
pub(crate) fn next_file_name() -> String {
    next_file_name_with("")
}

/// [`next_file_name`] with `-{suffix}` before the extension (none when
/// `suffix` is empty), to say what the file holds; names still sort by
/// creation time and never collide.
pub(crate) fn next_file_name_with(suffix: &str) -> String {
    next_name(suffix, "json")
}

/// [`next_file_name_with`] with the extension `extension` instead of
/// `json`.
pub(crate) fn next_name(suffix: &str, extension: &str) -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let pid = std::process::id();
    if suffix.is_empty() {
        format!("{nanos:020}-{pid}-{seq:06}.{extension}")
    } else {
        format!("{nanos:020}-{pid}-{seq:06}-{suffix}.{extension}")
    }
}

/// Whether `name` is a finished batch file (`*.json`, or `*.jsonl`, the
/// recordings' segments; not hidden).
fn is_batch_file(name: &std::ffi::OsStr) -> bool {
    let bytes = name.as_encoded_bytes();
    !bytes.starts_with(b".") && (bytes.ends_with(b".json") || bytes.ends_with(b".jsonl"))
}

/// The finished batch files of `dir`, oldest first (by name).
pub(crate) fn batch_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !is_batch_file(&entry.file_name()) {
            continue;
        }
        // A file removed between listing and this check is simply left out.
        if entry.file_type().is_ok_and(|kind| kind.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// The finished batch files of `dir` with their sizes, oldest first.
pub(crate) fn sized_batch_files(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !is_batch_file(&entry.file_name()) {
            continue;
        }
        match entry.metadata() {
            Ok(meta) if meta.is_file() => files.push((entry.path(), meta.len())),
            Ok(_) => {}
            // Removed by another process since listing: nothing to count.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    files.sort_by(|(a, _), (b, _)| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Creates `dir` and its parents; on Unix, new directories are private to
/// the user (mode 0700) because spans can carry request data.
pub(crate) fn create_dir(dir: &Path) -> Result<(), WriteError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| WriteError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `contents` to `dir/name` atomically: to a hidden temporary file in
/// the same directory first, then renamed into place. On failure the
/// temporary file is removed and `dir/name` does not exist.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, WriteError> {
    let temp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    if let Err(source) = write_new(&temp, contents) {
        let _ = fs::remove_file(&temp);
        return Err(WriteError::Write { path: temp, source });
    }
    if let Err(source) = fs::rename(&temp, &path) {
        let _ = fs::remove_file(&temp);
        return Err(WriteError::Rename {
            from: temp,
            to: path,
            source,
        });
    }
    Ok(path)
}

/// Writes a file that must not exist yet, readable only by the user on Unix.
fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.flush()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_creation_and_are_unique() {
        let first = next_file_name();
        let second = next_file_name();
        assert!(first < second, "{first} should sort before {second}");
        assert!(first.ends_with(".json"));
        assert!(is_batch_file(first.as_ref()));
    }

    #[test]
    fn names_with_a_suffix_sort_by_creation_too() {
        let plain = next_file_name();
        let tagged = next_file_name_with("4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(plain < tagged, "{plain} should sort before {tagged}");
        assert!(tagged.ends_with("-4bf92f3577b34da6a3ce929d0e0e4736.json"));
        assert!(is_batch_file(tagged.as_ref()));
    }

    #[test]
    fn hidden_and_other_files_are_not_batches() {
        assert!(!is_batch_file(".1-2-3.json.tmp".as_ref()));
        assert!(!is_batch_file(".hidden.json".as_ref()));
        assert!(!is_batch_file("notes.txt".as_ref()));
    }

    #[test]
    fn atomic_write_leaves_only_the_final_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_atomic(dir.path(), "a.json", b"{}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
    }

    #[test]
    fn failed_write_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("does-not-exist");
        let err = write_atomic(&missing, "a.json", b"{}").unwrap_err();
        assert!(matches!(err, WriteError::Write { .. }), "{err:?}");
        assert!(!missing.join("a.json").exists());
    }

    #[cfg(unix)]
    #[test]
    fn new_directories_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("a").join("traces");
        create_dir(&store).unwrap();
        let mode = fs::metadata(&store).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
