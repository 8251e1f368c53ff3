//! One recording written to a file of its own choosing, or put in place of
//! one line of a segment, atomically: what `tracetape accept` uses to
//! rewrite a recording in place.

use std::fs;
use std::path::Path;

use opentelemetry::trace::TraceId;

use super::Recording;
use super::error::WriteRecordingFileError;
use super::file::{Line, decode_line};
use crate::store::files;

impl Recording {
    /// Writes the recording to `path` as one OTLP/JSON document (see
    /// [`to_otlp_json`](Self::to_otlp_json)), atomically: to the hidden
    /// temporary file `.{name}.tmp` in the same directory first (readable
    /// by the user only, on Unix), then renamed over `path`. A reader sees
    /// the old file or the new one, never half of one; on failure the old
    /// file is left as it was and the temporary file removed.
    ///
    /// The directory must exist. A file written with this in a
    /// [`RecordingStore`](super::RecordingStore)'s directory is read back by
    /// it when its name ends in `.json` and does not start with `.`.
    ///
    /// ```
    /// use tracetape::opentelemetry::trace::TraceId;
    /// use tracetape::record::Recording;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("checkout.json");
    /// let mut recording = Recording {
    ///     trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")?,
    ///     service_name: "checkout".into(),
    ///     background: false,
    ///     exchanges: Vec::new(),
    /// };
    /// recording.write_to(&path)?;
    /// recording.service_name = "checkout-v2".into();
    /// recording.write_to(&path)?; // replaces the file
    /// assert_eq!(Recording::from_file(&path)?.service_name, "checkout-v2");
    /// # Ok(())
    /// # }
    /// ```
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), WriteRecordingFileError> {
        let path = path.as_ref();
        let (dir, name) = dir_and_name(path)?;
        let contents = self
            .to_otlp_json()
            .map_err(|source| WriteRecordingFileError::Encode {
                path: path.to_owned(),
                source,
            })?;
        files::write_atomic(dir, name, &contents).map_err(|source| {
            WriteRecordingFileError::Store {
                path: path.to_owned(),
                source: Box::new(source),
            }
        })?;
        Ok(())
    }
}

impl Recording {
    /// Puts this recording in place of the one on line `line` of the file
    /// at `path`, which must be a recording of the same trace alone on
    /// its line (or one without exchanges, which has no trace id on disk): the way to rewrite one recording of a segment. The file
    /// is written again atomically (to `.{name}.tmp` in the same
    /// directory, then renamed over it), every other line byte for byte as
    /// it was (a torn last line too). A file of the one-file-per-recording
    /// layout (`*.json`, line 1) is simply written again, as
    /// [`write_to`](Self::write_to) does.
    ///
    /// ```
    /// use tracetape::opentelemetry::trace::TraceId;
    /// use tracetape::record::{Recording, RecordingStore};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let recording = |n: u128, service: &str| Recording {
    ///     trace_id: TraceId::from(n),
    ///     service_name: service.into(),
    ///     background: false,
    ///     exchanges: Vec::new(),
    /// };
    /// let path = dir.path().join("1.jsonl");
    /// let mut lines = recording(1, "a").to_otlp_json()?;
    /// lines.extend(recording(2, "a").to_otlp_json()?);
    /// std::fs::write(&path, lines)?;
    ///
    /// recording(2, "b").replace_line(&path, 2)?;
    /// let file = RecordingStore::read_file(&path);
    /// assert_eq!(file.recordings[0].recording.service_name, "a");
    /// assert_eq!(file.recordings[1].recording.service_name, "b");
    /// # Ok(())
    /// # }
    /// ```
    pub fn replace_line(
        &self,
        path: impl AsRef<Path>,
        line: u64,
    ) -> Result<(), WriteRecordingFileError> {
        let path = path.as_ref();
        if !super::read::is_segment(path) && line <= 1 {
            return self.write_to(path);
        }
        let (dir, name) = dir_and_name(path)?;
        let store = |source: std::io::Error| WriteRecordingFileError::Store {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let document = self
            .to_otlp_json()
            .map_err(|source| WriteRecordingFileError::Encode {
                path: path.to_owned(),
                source,
            })?;
        let original = fs::read(path).map_err(store)?;
        let mut replaced = Vec::with_capacity(original.len() + document.len());
        let mut found = false;
        for (number, piece) in (1..).zip(original.split_inclusive(|&b| b == b'\n')) {
            if number != line {
                replaced.extend_from_slice(piece);
                continue;
            }
            let whole = piece.strip_suffix(b"\n");
            let same = whole.is_some_and(|text| match decode_line(text) {
                Ok(Line::Recordings(recordings)) => {
                    // A recording without exchanges has no trace id on
                    // disk (it travels on the spans).
                    matches!(recordings.as_slice(), [one]
                        if one.trace_id == self.trace_id || one.trace_id == TraceId::INVALID)
                }
                _ => false,
            });
            if !same {
                return Err(WriteRecordingFileError::NotOnLine {
                    path: path.to_owned(),
                    line,
                    trace_id: self.trace_id.to_string(),
                });
            }
            replaced.extend_from_slice(&document);
            found = true;
        }
        if !found {
            return Err(WriteRecordingFileError::NotOnLine {
                path: path.to_owned(),
                line,
                trace_id: self.trace_id.to_string(),
            });
        }
        files::write_atomic(dir, name, &replaced).map_err(|source| {
            WriteRecordingFileError::Store {
                path: path.to_owned(),
                source: Box::new(source),
            }
        })?;
        Ok(())
    }
}

/// The directory `path` is in (`.` for a bare name) and its file name, or
/// the error for a path that names no file.
fn dir_and_name(path: &Path) -> Result<(&Path, &str), WriteRecordingFileError> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(WriteRecordingFileError::NotAFile {
            path: path.to_owned(),
        });
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Ok((dir, name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs;

    use crate::record::testing::rich_recording;

    use super::*;

    #[test]
    fn a_rewrite_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        fs::write(&path, b"old").unwrap();
        let recording = rich_recording();
        recording.write_to(&path).unwrap();
        assert_eq!(Recording::from_file(&path).unwrap(), recording);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["r.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        fs::write(&path, b"old").unwrap();
        // A stale temporary file in the way: the write fails, nothing else
        // changes.
        fs::create_dir(dir.path().join(".r.json.tmp")).unwrap();
        let err = rich_recording().write_to(&path).unwrap_err();
        assert!(matches!(err, WriteRecordingFileError::Store { .. }));
        assert_eq!(err.path(), path);
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let missing = dir.path().join("no").join("r.json");
        assert!(rich_recording().write_to(&missing).is_err());
        assert!(matches!(
            rich_recording().write_to("/").unwrap_err(),
            WriteRecordingFileError::NotAFile { .. }
        ));
    }

    /// Accept on a segment: one line replaced, every other byte kept (the
    /// header, the other recordings, a torn tail); a line holding another
    /// trace, or none, is refused and the file left as it was.
    #[test]
    fn a_line_of_a_segment_is_replaced_and_nothing_else() {
        use crate::record::RecordingStore;
        use crate::record::testing::background_recording;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.jsonl");
        let mut text = crate::record::segment::header();
        for trace in 1..=3_u128 {
            text.extend(background_recording(trace).to_otlp_json().unwrap());
        }
        text.extend(b"{\"resourceSp");
        fs::write(&path, &text).unwrap();

        let mut changed = background_recording(2);
        changed.service_name = "changed".into();
        changed.replace_line(&path, 3).unwrap();
        let after = fs::read(&path).unwrap();
        let before_lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let after_lines: Vec<&[u8]> = after.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(before_lines.len(), after_lines.len());
        for (number, (old, new)) in (1..).zip(before_lines.iter().zip(&after_lines)) {
            if number == 3 {
                assert_eq!(*new, changed.to_otlp_json().unwrap());
            } else {
                assert_eq!(old, new, "line {number}");
            }
        }
        let file = RecordingStore::read_file(&path);
        assert_eq!(file.recordings[1].recording, changed);
        assert_eq!(file.torn_tail, 12);

        for (line, recording) in [
            (2, background_recording(2)),
            (9, background_recording(2)),
            (5, background_recording(2)),
        ] {
            let err = recording.replace_line(&path, line).unwrap_err();
            assert!(
                matches!(err, WriteRecordingFileError::NotOnLine { .. }),
                "{err:?}"
            );
        }
        assert_eq!(fs::read(&path).unwrap(), after, "left as it was");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["1.jsonl"], "no temporary file left");
    }
}
