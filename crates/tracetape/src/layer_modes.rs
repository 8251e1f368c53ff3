//! [`LayerModes`]: the recorder and the recordings a layer was given in
//! code (`with_recorder`, `with_replayer`), in place of the process-wide
//! ones. A build without the `record-replay` feature has neither: the
//! value is empty, so the layers' configurations keep one shape.

/// What a layer records into and replays from, when set in code.
#[cfg(feature = "record-replay")]
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerModes {
    /// Record mode: where recorded exchanges go, else the process-wide
    /// recorder, if any.
    pub(crate) recorder: Option<crate::record::Recorder>,
    /// Replay mode: the recordings to answer from, else the process-wide
    /// ones, if any.
    pub(crate) replayer: Option<crate::replay::Replayer>,
}

/// Nothing: record and replay mode are not built.
#[cfg(not(feature = "record-replay"))]
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerModes {}
