//! [`Replayer`]: the recordings a service in replay mode answers from.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::HeaderMap;

use super::matching::{Matcher, MockSession};
use super::scope::{Begun, ReplayScope};
use super::turns::Groups;
use super::{Late, REPLAY_GROUP_HEADER, REPLAY_HEADER, REPLAY_STATUS, ReplayId, ReplayLog};
use crate::record::{
    ListRecordingsError, RecordSettings, Recording, RecordingStore, RedactionKey, RedactionKeyError,
};

/// The recordings of one store, ready to answer the outbound calls of
/// replayed requests: `TRACETAPE_MODE=replay` loads one at start-up
/// ([`tracetape::init`](crate::init)) from `TRACETAPE_RECORD_DIR`, and the
/// server and client layers use it.
///
/// A request carrying the `x-tracetape-replay` header
/// ([`REPLAY_HEADER`]) is answered with its recording's outbound calls;
/// calls made outside any replayed request (at start-up, by background
/// jobs) with the background recordings of this service.
///
/// ```
/// use tracetape::record::RecordSettings;
/// use tracetape::replay::Replayer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let mut settings = RecordSettings::default();
/// settings.dir = dir.path().join("recordings");
/// let replayer = Replayer::load(&settings, "checkout")?;
/// assert_eq!(replayer.len(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Replayer {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    matcher: Matcher,
    recordings: HashMap<ReplayId, Arc<Recording>>,
    background: Arc<MockSession>,
    late: Arc<Late>,
    /// The groups of requests replayed together whose requests have not
    /// all come yet.
    groups: Groups,
}

impl fmt::Debug for Replayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replayer")
            .field("dir", &self.inner.dir)
            .field("recordings", &self.inner.recordings.len())
            .field("background_calls", &self.inner.background.len())
            .finish()
    }
}

/// Why a [`Replayer`] could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadReplayError {
    /// The recordings directory could not be listed.
    #[error(transparent)]
    List(#[from] ListRecordingsError),
    /// The redaction key beside the recordings could not be read, so live
    /// calls cannot be redacted as the recordings were.
    #[error(transparent)]
    Key(#[from] RedactionKeyError),
}

impl Replayer {
    /// Loads the recordings in `settings.dir` for the service
    /// `service_name`, redacting live calls with `settings.redact` and the
    /// key beside the recordings, as they were when recorded, taking
    /// calls to the live origins of [`ORIGINS_VARIABLE`] as calls to the
    /// recorded ones, and comparing the headers [`MATCH_HEADERS_VARIABLE`]
    /// names. Files that
    /// cannot be read are reported once each and left out.
    pub fn load(settings: &RecordSettings, service_name: &str) -> Result<Self, LoadReplayError> {
        let loaded = RecordingStore::new(&settings.dir).load()?;
        for error in &loaded.errors {
            crate::diag::warn_once(
                &format!("replay.unreadable.{}", error.path().display()),
                format_args!("replay: skipping {}", crate::diag::chain(error)),
            );
        }
        // Nothing recorded yet: any key redacts like any other.
        let key = if settings.dir.exists() {
            match RedactionKey::load_or_create(&settings.dir) {
                // Refused rather than trusted: live values are hashed with
                // a key of this process, so a redacted recorded value
                // matches any live one (the `redacted` level) but no live
                // secret is hashed with a key others may know.
                Err(err @ RedactionKeyError::NotPrivate { .. }) => {
                    crate::diag::warn_once(
                        "replay.redaction_key",
                        format_args!(
                            "replay: {err}; live values are hashed with a key for this process only"
                        ),
                    );
                    RedactionKey::ephemeral()?
                }
                key => key?,
            }
        } else {
            RedactionKey::ephemeral()?
        };
        let matcher = Matcher::new(settings.redact.clone(), key)
            .with_origins(origins_from_env())
            .with_headers(
                std::env::var(MATCH_HEADERS_VARIABLE)
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty()),
            );
        let recordings: Vec<Recording> = loaded
            .recordings
            .into_iter()
            .map(|stored| stored.recording)
            .collect();
        let background = Arc::new(
            matcher.background_session(
                recordings
                    .iter()
                    .filter(|recording| recording.service_name == service_name),
            ),
        );
        let recordings = recordings
            .into_iter()
            .filter_map(|recording| Some((ReplayId::of(&recording)?, Arc::new(recording))))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                dir: settings.dir.clone(),
                matcher,
                recordings,
                background,
                late: Arc::default(),
                groups: Groups::default(),
            }),
        })
    }

    /// How many recordings of inbound requests there are to replay.
    pub fn len(&self) -> usize {
        self.inner.recordings.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.inner.recordings.is_empty()
    }

    /// The directory the recordings came from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The recording `id` names, if the store has it.
    pub fn recording(&self, id: &ReplayId) -> Option<&Recording> {
        self.inner.recordings.get(id).map(|recording| &**recording)
    }

    /// For a request carrying [`REPLAY_HEADER`]: removes the header and
    /// opens the replay of the recording it names (one that is not in the
    /// store still opens, and answers every call with an error saying so),
    /// or, for [`REPLAY_STATUS`], makes the status header the layer
    /// answers with. `None` for a request without the header.
    pub(crate) fn begin(&self, headers: &mut HeaderMap) -> Option<Begun> {
        let value = headers.remove(REPLAY_HEADER)?;
        let group = headers.remove(REPLAY_GROUP_HEADER);
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if text == REPLAY_STATUS {
            let mut background = ReplayLog::of("background", Some(&self.inner.background), None);
            // A periodic job's calls go unused when the replay is shorter
            // than the recording; a call made once, at start-up, is missed.
            background.unused = self
                .inner
                .background
                .unused_once()
                .into_iter()
                .map(|unused| super::LoggedUnused {
                    index: unused.index,
                    method: unused.call.method,
                    url: unused.call.url,
                })
                .collect();
            let status = self.inner.late.status(background);
            let header = serde_json::to_string(&status)
                .ok()
                .and_then(|json| http::HeaderValue::try_from(json).ok())
                .unwrap_or(http::HeaderValue::from_static("{}"));
            return Some(Begun::Status(header));
        }
        let late = Some(Arc::clone(&self.inner.late));
        let recording = text
            .parse::<ReplayId>()
            .ok()
            .and_then(|id| self.inner.recordings.get(&id));
        Some(Begun::Replay(match recording {
            Some(recording) => {
                let session = self.inner.matcher.session(recording);
                let seat = group.and_then(|group| {
                    let group = group.to_str().ok()?;
                    self.inner.groups.join(group, recording, &session)
                });
                ReplayScope::reporting(
                    text,
                    Ok(Arc::new(session)),
                    recording.inbound().map(|inbound| inbound.start_unix_nanos),
                    late,
                )
                .seated(seat)
            }
            None => ReplayScope::reporting(text, Err(self.inner.dir.clone()), None, late),
        }))
    }

    /// Whether `other` is this replayer (a clone of it).
    pub(crate) fn same_as(&self, other: &Replayer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The session of calls made outside any replayed request.
    pub(crate) fn background(&self) -> Arc<MockSession> {
        Arc::clone(&self.inner.background)
    }
}

/// The variable `tracetape replay` names the request headers compared
/// when matching outbound calls in (comma separated; see
/// [`Matcher::with_headers`]).
pub const MATCH_HEADERS_VARIABLE: &str = "TRACETAPE_REPLAY_MATCH_HEADERS";

/// The variable `tracetape replay` names the dependencies that answer at
/// another origin than recorded in: `RECORDED=LIVE` pairs, comma
/// separated (`http://127.0.0.1:8082=http://pricing:9000`).
pub const ORIGINS_VARIABLE: &str = "TRACETAPE_REPLAY_ORIGINS";

/// The (recorded, live) origins of [`ORIGINS_VARIABLE`]; a pair that
/// cannot be read is left out, with a warning.
fn origins_from_env() -> Vec<(String, String)> {
    let Ok(value) = std::env::var(ORIGINS_VARIABLE) else {
        return Vec::new();
    };
    value
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .filter_map(|pair| {
            let parsed = pair.split_once('=').and_then(|(recorded, live)| {
                Some((
                    super::matching::normal_origin(recorded.trim())?,
                    super::matching::normal_origin(live.trim())?,
                ))
            });
            if parsed.is_none() {
                crate::diag::warn_once(
                    &format!("replay.origins.{pair}"),
                    format_args!(
                        "replay: {ORIGINS_VARIABLE}: {pair:?} is not RECORDED=LIVE with two origins (scheme://host[:port]); left out"
                    ),
                );
            }
            parsed
        })
        .collect()
}
