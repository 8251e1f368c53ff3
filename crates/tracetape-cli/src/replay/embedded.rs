//! The preload library the `tracetape` executable carries (`build.rs`
//! builds it from the `tracetape-preload` sources), so that a `tracetape`
//! installed on its own still starts the service with it.

use std::path::{Path, PathBuf};

use super::preload::LIBRARY;

/// The library's bytes; empty when the build could not make it.
const BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libtracetape_preload.so"));

/// Writes the carried library into `dir` and returns its path; `None` when
/// there is none.
pub(crate) fn write_into(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    if BYTES.is_empty() {
        return Ok(None);
    }
    let path = dir.join(LIBRARY);
    std::fs::write(&path, BYTES)?;
    Ok(Some(path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_executable_carries_a_shared_library() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_into(dir.path())
            .unwrap()
            .expect("built into the executable");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(path.file_name().unwrap(), LIBRARY);
    }
}
