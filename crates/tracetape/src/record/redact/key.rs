//! The key of the redaction hash: 32 random bytes kept in a file beside
//! the recordings (`.redaction-key`, mode 0600), made by the first
//! service that records there. Redacted values are a keyed hash of the
//! secret, so equal secrets stay equal in the recording (and replay can
//! hash live values the same way) while a guessable secret, such as a card
//! number, cannot be found by hashing candidates without the key.

use std::fmt;
use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

/// The key file's name inside the recordings directory. Starting with a
/// dot, it is never mistaken for a recording.
pub const KEY_FILE: &str = ".redaction-key";

/// How many hex digits of the hash a redacted value keeps: 64 bits, far
/// more than enough to tell different secrets apart.
const HASH_HEX_DIGITS: usize = 16;

/// The key that turns a secret into its redacted form,
/// `REDACTED:` followed by 16 hex digits of a keyed BLAKE3 hash.
///
/// ```
/// use tracetape::record::RedactionKey;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let key = RedactionKey::load_or_create(dir.path())?;
/// let again = RedactionKey::load_or_create(dir.path())?;
/// assert_eq!(key.redact(b"s3cret"), again.redact(b"s3cret"));
/// assert_ne!(key.redact(b"s3cret"), key.redact(b"other"));
/// assert!(key.redact(b"s3cret").starts_with("REDACTED:"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedactionKey([u8; blake3::KEY_LEN]);

impl fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedactionKey(..)")
    }
}

/// Why the redaction key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactionKeyError {
    /// The key file could not be read or written.
    #[error("failed to {action} the redaction key {}", path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The key file, or the temporary file it was written to.
        path: PathBuf,
        /// The error from the operating system.
        #[source]
        source: io::Error,
    },
    /// The key file holds something other than 64 hex digits.
    #[error("the redaction key {} is not 64 hex digits; remove it to make a new one (values redacted with the old key will no longer match)", path.display())]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// The operating system gave no random bytes.
    #[error("failed to get random bytes for a new redaction key: {message}")]
    Random {
        /// What the random source said.
        message: String,
    },
}

impl RedactionKey {
    /// The key in `dir/.redaction-key`, made (from the operating system's
    /// randomness) and written there first if there is none. Services that
    /// start together agree on one key: the file is created once, by
    /// linking a complete temporary file into place, and whoever loses the
    /// race reads the winner's.
    pub fn load_or_create(dir: &Path) -> Result<Self, RedactionKeyError> {
        let path = dir.join(KEY_FILE);
        match Self::read(&path) {
            Err(RedactionKeyError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            found => return found,
        }
        let key = Self::random()?;
        // Unique to this key, so concurrent starters never share it.
        let temp = format!("{KEY_FILE}.{}", &blake3::hash(&key.0).to_hex()[..16]);
        let written =
            crate::store::files::write_atomic(dir, &temp, key.hex().as_bytes()).map_err(|err| {
                RedactionKeyError::Io {
                    action: "write",
                    path: dir.join(&temp),
                    source: io::Error::other(crate::diag::chain(&err)),
                }
            })?;
        let linked = fs::hard_link(&written, &path);
        let _ = fs::remove_file(&written);
        match linked {
            Ok(()) => Ok(key),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => Self::read(&path),
            Err(source) => Err(RedactionKeyError::Io {
                action: "write",
                path,
                source,
            }),
        }
    }

    /// A key that lives only as long as the process: redacted values are
    /// stable within it but not across runs. For tests, and the fallback
    /// when no key file can be written.
    pub fn ephemeral() -> Result<Self, RedactionKeyError> {
        Self::random()
    }

    /// A key known to everyone, for when the operating system has no
    /// randomness to give: values are still never written as they were,
    /// but a guessable secret could be found by hashing candidates.
    pub(crate) fn fixed() -> Self {
        Self(*b"tracetape fallback redaction key")
    }

    /// `REDACTED:` and 16 hex digits of the keyed hash of `secret`.
    pub fn redact(&self, secret: &[u8]) -> String {
        let hash = blake3::keyed_hash(&self.0, secret);
        let hex = hash.to_hex();
        format!("REDACTED:{}", &hex[..HASH_HEX_DIGITS])
    }

    fn random() -> Result<Self, RedactionKeyError> {
        let mut bytes = [0; blake3::KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|err| RedactionKeyError::Random {
            message: err.to_string(),
        })?;
        Ok(Self(bytes))
    }

    fn read(path: &Path) -> Result<Self, RedactionKeyError> {
        let text = fs::read_to_string(path).map_err(|source| RedactionKeyError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let malformed = || RedactionKeyError::Malformed {
            path: path.to_owned(),
        };
        let hex = text.trim();
        if hex.len() != blake3::KEY_LEN * 2 || !hex.is_ascii() {
            return Err(malformed());
        }
        let mut bytes = [0; blake3::KEY_LEN];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| malformed())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| malformed())?;
        }
        Ok(Self(bytes))
    }

    fn hex(&self) -> String {
        let mut text: String = self.0.iter().map(|byte| format!("{byte:02x}")).collect();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn one_key_per_directory_shared_by_concurrent_starters_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<RedactionKey> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| RedactionKey::load_or_create(dir.path()).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|pair| pair[0] == pair[1]));
        // Only the key file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = RedactionKey::ephemeral().unwrap();
        assert_ne!(other.redact(b"x"), keys[0].redact(b"x"));
        assert_eq!(keys[0].redact(b"x").len(), "REDACTED:".len() + 16);
    }

    #[test]
    fn a_malformed_key_is_an_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
        let err = RedactionKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, RedactionKeyError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("remove it"));
        assert_eq!(
            fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "not hex"
        );
    }
}
