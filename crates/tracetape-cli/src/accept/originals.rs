//! The recordings an accept replaced, kept in `.accepted/` under the
//! recordings directory until the next accept replaces them: one
//! generation. A recording in a segment is kept as the whole segment as
//! it was before this accept's first change to it. The store's reader
//! lists only the files directly in the directory whose names do not
//! start with `.`, so it never reads them.

use std::collections::HashSet;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The directory, under the recordings directory, that holds them.
pub(crate) const DIR: &str = ".accepted";

/// The originals of one accept.
#[derive(Debug)]
pub(crate) struct Originals {
    dir: PathBuf,
    /// The previous generation has been cleared.
    cleared: bool,
    /// The files kept so far by this accept.
    kept: HashSet<PathBuf>,
}

impl Originals {
    /// The originals kept under `recordings`; nothing changes on disk
    /// until the first [`keep`](Self::keep).
    pub(crate) fn new(recordings: &Path) -> Self {
        Self {
            dir: recordings.join(DIR),
            cleared: false,
            kept: HashSet::new(),
        }
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps the file `original` (about to be replaced by a rename) under
    /// its own name, as a second link to the same file: made at once,
    /// with the original's permissions, and left as it is when the
    /// original's name is given a new file. The first of this accept
    /// removes those of the previous one. A file this accept kept already
    /// (a segment holding another recording it accepted) is kept as it
    /// was then, not again.
    pub(crate) fn keep(&mut self, original: &Path) -> anyhow::Result<PathBuf> {
        if !self.cleared {
            self.clear()
                .with_context(|| format!("failed to clear {}", self.dir.display()))?;
            self.cleared = true;
        }
        let name = original
            .file_name()
            .with_context(|| format!("{} is not a file", original.display()))?;
        let kept = self.dir.join(name);
        if !self.kept.insert(original.to_owned()) {
            return Ok(kept);
        }
        let linked = match fs::remove_file(&kept) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => fs::hard_link(original, &kept),
        };
        linked.with_context(|| format!("failed to keep the original as {}", kept.display()))?;
        Ok(kept)
    }

    /// Creates the directory (private to the user) or empties it of the
    /// previous generation's files.
    fn clear(&self) -> io::Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir)?;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_accept_keeps_its_originals_and_drops_the_previous_ones() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        fs::write(&a, "a1").unwrap();
        fs::write(&b, "b1").unwrap();

        let mut first = Originals::new(dir.path());
        let kept = first.keep(&a).unwrap();
        assert_eq!(kept, dir.path().join(".accepted/a.json"));
        assert_eq!(fs::read_to_string(&kept).unwrap(), "a1");

        let mut second = Originals::new(dir.path());
        second.keep(&b).unwrap();
        let mut names: Vec<_> = fs::read_dir(second.dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["b.json"]);
        // Never a recording the store reads.
        let store = tracetape::record::RecordingStore::new(dir.path());
        assert_eq!(store.paths().unwrap(), [b.clone(), a.clone()]);
    }
}
