//! The key of the redaction hash: 32 random bytes kept in a file beside
//! the recordings (`.redaction-key`, mode 0600), made by the first
//! service that records there. Redacted values are a keyed hash of the
//! secret, so equal secrets stay equal in the recording (and replay can
//! hash live values the same way) while a guessable secret, such as a card
//! number, cannot be found by hashing candidates without the key.
//!
//! On Unix the key is used only when it is private to the user: a regular
//! file (not a symbolic link), owned by the process's effective user, with
//! no permission for group or others, in a directory that neither group
//! nor others can write and that the user (or root) owns. Anyone else who
//! can read the key can test guesses against redacted values; anyone who
//! can replace it can make the next recordings' hashes theirs.

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
    /// The key file, or the directory it is in, is not private to this
    /// user; the key is not used.
    #[error(
        "the redaction key {} is not used: {reason}; a key is used only when it is a regular \
         file owned by this user with mode 0600, in a directory only this user can write \
         (chmod 600 the key, chmod go-w its directory)",
        path.display()
    )]
    NotPrivate {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
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
    ///
    /// On Unix, a key file or directory that is not private to the user
    /// (see the module's documentation) is an error,
    /// [`RedactionKeyError::NotPrivate`], and nothing is made.
    pub fn load_or_create(dir: &Path) -> Result<Self, RedactionKeyError> {
        let path = dir.join(KEY_FILE);
        private::check_dir(dir).map_err(|reason| RedactionKeyError::NotPrivate {
            path: path.clone(),
            reason,
        })?;
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
        let io = |source| RedactionKeyError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        };
        let mut file =
            private::open(path)
                .map_err(io)?
                .map_err(|reason| RedactionKeyError::NotPrivate {
                    path: path.to_owned(),
                    reason,
                })?;
        let mut text = String::new();
        io::Read::read_to_string(&mut file, &mut text).map_err(io)?;
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

/// Whether the key file and its directory are the user's alone.
mod private {
    use std::fs::{self, File};
    use std::io;
    use std::path::Path;

    /// `Err(reason)` when `dir` may be written by others than the user.
    #[cfg(unix)]
    pub(super) fn check_dir(dir: &Path) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = fs::metadata(dir) else {
            // Missing or unreadable: reading or writing the key says so.
            return Ok(());
        };
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(format!(
                "its directory is owned by user {}, not by this user ({me})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "its directory has mode {:03o}, writable by group or others",
                meta.mode() & 0o7777
            ));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    pub(super) fn check_dir(_dir: &Path) -> Result<(), String> {
        Ok(())
    }

    /// The key file opened for reading, or `Ok(Err(reason))` when it is
    /// not a regular file of the user's that only the user may read. The
    /// checks are made on the opened file, which must be the one the path
    /// named before it was opened (not a link swapped in between).
    #[cfg(unix)]
    pub(super) fn open(path: &Path) -> io::Result<Result<File, String>> {
        use std::os::unix::fs::MetadataExt;
        let named = fs::symlink_metadata(path)?;
        if !named.file_type().is_file() {
            return Ok(Err(if named.file_type().is_symlink() {
                "it is a symbolic link".to_owned()
            } else {
                "it is not a regular file".to_owned()
            }));
        }
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != (named.dev(), named.ino()) {
            return Ok(Err("it was replaced while it was opened".to_owned()));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Ok(Err(format!(
                "it is owned by user {}, not by this user ({me})",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Ok(Err(format!(
                "it has mode {:03o}, open to group or others",
                meta.mode() & 0o7777
            )));
        }
        Ok(Ok(file))
    }

    #[cfg(not(unix))]
    pub(super) fn open(path: &Path) -> io::Result<Result<File, String>> {
        File::open(path).map(Ok)
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = fs::Permissions::from_mode(0o600);
            fs::set_permissions(dir.path().join(KEY_FILE), private).unwrap();
        }
        let err = RedactionKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, RedactionKeyError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("remove it"));
        assert_eq!(
            fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "not hex"
        );
    }

    // A key anyone could read (or a link to one, or one in a directory
    // others could write) was used as it was: its hashes could be tested
    // against guesses by anyone.
    #[cfg(unix)]
    #[test]
    fn a_key_that_is_not_private_is_refused_and_left_alone() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let mode = |path: &Path, mode: u32| {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        };
        let refused = |dir: &Path, expected: &str| {
            let err = RedactionKey::load_or_create(dir).unwrap_err();
            assert!(
                matches!(err, RedactionKeyError::NotPrivate { .. }),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(text.contains("chmod 600"), "{text}");
        };

        let dir = tempfile::tempdir().unwrap();
        let key = RedactionKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        let written = fs::read_to_string(&path).unwrap();
        mode(&path, 0o644);
        refused(dir.path(), "it has mode 644, open to group or others");
        assert_eq!(fs::read_to_string(&path).unwrap(), written);
        mode(&path, 0o600);
        assert_eq!(RedactionKey::load_or_create(dir.path()).unwrap(), key);
        // 0400 is private too.
        mode(&path, 0o400);
        assert_eq!(RedactionKey::load_or_create(dir.path()).unwrap(), key);

        // A directory others may write: neither read nor made there.
        mode(dir.path(), 0o777);
        refused(
            dir.path(),
            "its directory has mode 777, writable by group or others",
        );
        let open = tempfile::tempdir().unwrap();
        mode(open.path(), 0o770);
        refused(open.path(), "writable by group or others");
        assert!(!open.path().join(KEY_FILE).exists(), "nothing was made");
        mode(dir.path(), 0o700);

        // A symbolic link to a private key elsewhere.
        let linked = tempfile::tempdir().unwrap();
        symlink(&path, linked.path().join(KEY_FILE)).unwrap();
        refused(linked.path(), "it is a symbolic link");
        // Not a file at all.
        let odd = tempfile::tempdir().unwrap();
        fs::create_dir(odd.path().join(KEY_FILE)).unwrap();
        refused(odd.path(), "it is not a regular file");
    }

    // Run as root, the test can give the key to another user.
    #[cfg(unix)]
    #[test]
    fn a_key_owned_by_another_user_is_refused() {
        use std::os::unix::fs::{MetadataExt, chown};
        let me = rustix::process::geteuid().as_raw();
        if me != 0 {
            // Without root, no file of another user's can be made here;
            // the check is the same comparison as for the directory.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        RedactionKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        chown(&path, Some(65534), None).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().uid(), 65534);
        let err = RedactionKey::load_or_create(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("it is owned by user 65534, not by this user (0)"),
            "{err}"
        );
        // A directory of another user's (not root's) is refused too.
        chown(&path, Some(0), None).unwrap();
        chown(dir.path(), Some(65534), None).unwrap();
        let err = RedactionKey::load_or_create(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("its directory is owned by user 65534"),
            "{err}"
        );
    }
}
