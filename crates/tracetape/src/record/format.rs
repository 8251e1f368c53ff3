//! The names and the version of the recording file format, in one place so
//! the writer, the reader and `docs/recordings.md` agree.

use std::fmt;

/// The version of the recording file format, `MAJOR.MINOR`.
///
/// A minor version only adds: new attributes, new optional fields. A reader
/// reads every minor version of its major version and ignores what it does
/// not know. A new major version changes or removes something a reader
/// relies on, so older readers refuse such files and say to upgrade.
///
/// ```
/// use tracetape::record::FormatVersion;
///
/// let newer_minor = FormatVersion::new(FormatVersion::CURRENT.major, 99);
/// assert!(newer_minor.is_readable());
/// let next_major = FormatVersion::new(FormatVersion::CURRENT.major + 1, 0);
/// assert!(!next_major.is_readable());
/// assert_eq!(FormatVersion::CURRENT.to_string(), "1.2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FormatVersion {
    /// Changes when older readers could misread a file.
    pub major: u32,
    /// Changes when a file gains something older readers may ignore.
    pub minor: u32,
}

impl FormatVersion {
    /// The version this build writes: `1.2`.
    pub const CURRENT: FormatVersion = FormatVersion::new(1, 2);

    /// The version `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Whether this build can read files of this version: any minor version
    /// of the current major version.
    pub fn is_readable(self) -> bool {
        self.major == Self::CURRENT.major
    }

    /// Parses `MAJOR.MINOR`, each part plain decimal digits.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        Some(Self::new(number(major)?, number(minor)?))
    }
}

/// A version part: decimal digits only (no sign, no spaces).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The instrumentation scope of every span of a recording.
pub(crate) const SCOPE_NAME: &str = "tracetape.record";

/// Resource attributes.
pub(crate) mod resource {
    /// The service that recorded (string).
    pub(crate) const SERVICE_NAME: &str = "service.name";
    /// The format version, `MAJOR.MINOR` (string); marks a resource as a
    /// tracetape recording.
    pub(crate) const VERSION: &str = "tracetape.recording.version";
}

/// Span attributes: one span per exchange.
pub(crate) mod span {
    /// The recording's calls were made outside any inbound request (bool).
    pub(crate) const BACKGROUND: &str = "tracetape.recording.background";
    /// The method as the semantic conventions name it: one of the nine
    /// standard methods, else `_OTHER` (string).
    pub(crate) const METHOD: &str = "http.request.method";
    /// The method as sent, when `METHOD` is `_OTHER` (string).
    pub(crate) const METHOD_ORIGINAL: &str = "http.request.method_original";
    /// An absolute URL, or any request target not in origin form (string).
    pub(crate) const URL_FULL: &str = "url.full";
    /// The path of an origin-form request target (string).
    pub(crate) const URL_PATH: &str = "url.path";
    /// What followed the `?` of an origin-form target, if it had one (string).
    pub(crate) const URL_QUERY: &str = "url.query";
    /// The route of an inbound request.
    pub(crate) const ROUTE: &str = "http.route";
    /// The URL template of an outbound call.
    pub(crate) const URL_TEMPLATE: &str = "url.template";
    /// The request headers (array of `{name, value}` kvlists).
    pub(crate) const REQUEST_HEADERS: &str = "tracetape.http.request.headers";
    /// The request body bytes kept (bytes).
    pub(crate) const REQUEST_BODY: &str = "tracetape.http.request.body";
    /// More request body bytes crossed the wire than were kept (bool).
    pub(crate) const REQUEST_BODY_TRUNCATED: &str = "tracetape.http.request.body.truncated";
    /// Every request body byte that crossed the wire (int).
    pub(crate) const REQUEST_BODY_SIZE: &str = "http.request.body.size";
    /// The status code; present exactly when there was a response (int).
    pub(crate) const STATUS_CODE: &str = "http.response.status_code";
    /// The response headers (array of `{name, value}` kvlists).
    pub(crate) const RESPONSE_HEADERS: &str = "tracetape.http.response.headers";
    /// The response trailers, when it had any (array of `{name, value}`
    /// kvlists). Since format 1.2.
    pub(crate) const RESPONSE_TRAILERS: &str = "tracetape.http.response.trailers";
    /// The response body bytes kept (bytes).
    pub(crate) const RESPONSE_BODY: &str = "tracetape.http.response.body";
    /// More response body bytes crossed the wire than were kept (bool).
    pub(crate) const RESPONSE_BODY_TRUNCATED: &str = "tracetape.http.response.body.truncated";
    /// Every response body byte that crossed the wire (int).
    pub(crate) const RESPONSE_BODY_SIZE: &str = "http.response.body.size";
    /// Why no response came (string).
    pub(crate) const ERROR: &str = "tracetape.error";
    /// `db.system.name` of a database exchange (a CLIENT span); its
    /// presence tells one from an HTTP call. Since format 1.1.
    pub(crate) const DB_SYSTEM: &str = "db.system.name";
}

/// The keys of one header entry's kvlist.
pub(crate) mod header {
    /// The lower-case header name (string).
    pub(crate) const NAME: &str = "name";
    /// The value: a string when it is UTF-8, else bytes.
    pub(crate) const VALUE: &str = "value";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(FormatVersion::parse("1.0"), Some(FormatVersion::new(1, 0)));
        assert_eq!(
            FormatVersion::parse("12.345"),
            Some(FormatVersion::new(12, 345))
        );
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "1.0.0",
            "+1.0",
            "1.-0",
            " 1.0",
            "a.b",
            "99999999999.0",
        ] {
            assert_eq!(FormatVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_current_major_is_readable() {
        assert!(FormatVersion::CURRENT.is_readable());
        assert!(FormatVersion::new(1, 7).is_readable());
        assert!(!FormatVersion::new(2, 0).is_readable());
        assert!(!FormatVersion::new(0, 9).is_readable());
    }
}
