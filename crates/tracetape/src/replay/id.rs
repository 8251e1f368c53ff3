//! How a replayed request names its recording: the `x-tracetape-replay`
//! header the replayer sets, holding the trace id and span id of the
//! recording's inbound exchange.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{SpanId, TraceId};

use crate::record::Recording;

/// The request header that marks a replayed request and names its
/// recording. The server layer removes it before the service sees the
/// request.
pub const REPLAY_HEADER: &str = "x-tracetape-replay";

/// The response header in which the server layer reports, for a replayed
/// request, how each outbound call was answered (JSON, see
/// `ReplayLog`).
pub const REPLAY_LOG_HEADER: &str = "x-tracetape-replay-log";

/// The name of one recording among those of a store: its inbound
/// exchange's trace id and span id, written `{trace_id}-{span_id}`.
///
/// ```
/// use tracetape::replay::ReplayId;
///
/// let id: ReplayId = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7".parse()?;
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
/// assert!("not-an-id".parse::<ReplayId>().is_err());
/// # Ok::<(), tracetape::replay::ParseReplayIdError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayId {
    /// The recording's trace.
    pub trace_id: TraceId,
    /// The span of its inbound exchange.
    pub span_id: SpanId,
}

impl ReplayId {
    /// The id of `recording`, if it has an inbound exchange (background
    /// recordings are not replayed by request).
    pub fn of(recording: &Recording) -> Option<Self> {
        recording.inbound().map(|inbound| Self {
            trace_id: recording.trace_id,
            span_id: inbound.span_id,
        })
    }
}

impl fmt::Display for ReplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.trace_id, self.span_id)
    }
}

/// Why a replay id could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid replay id {text:?}: expected 32 hex digits, `-`, 16 hex digits")]
pub struct ParseReplayIdError {
    text: String,
}

impl FromStr for ReplayId {
    type Err = ParseReplayIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || ParseReplayIdError {
            text: text.to_owned(),
        };
        let (trace, span) = text.trim().split_once('-').ok_or_else(fail)?;
        if trace.len() != 32 || span.len() != 16 {
            return Err(fail());
        }
        let trace_id = TraceId::from_hex(trace).map_err(|_| fail())?;
        let span_id = SpanId::from_hex(span).map_err(|_| fail())?;
        if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
            return Err(fail());
        }
        Ok(Self { trace_id, span_id })
    }
}
