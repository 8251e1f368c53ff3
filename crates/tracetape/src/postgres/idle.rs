//! What a connection keeps of the context of the request that took it:
//! the context with the request's recording and replay scope asleep
//! (not held), so that they end with the request, though a pooled
//! connection stays idle in its pool with no hook to say it was given
//! back (deadpool-postgres). An operation wakes them while it runs: a
//! recorded one takes a part of the recording, a replayed one is
//! answered by the scope (`ReplayScope::current` wakes it). After the
//! request ended they cannot wake, and the connection's operations are
//! the background's until the next marker.

use opentelemetry::Context;

/// `context` with its request's recording and replay scope asleep.
#[cfg(feature = "record-replay")]
pub(crate) fn asleep(context: &Context) -> Context {
    use crate::record::TraceRecording;
    use crate::replay::ReplayScope;

    let mut asleep = None;
    if let Some(recording) = context.get::<TraceRecording>() {
        asleep = Some(context.with_value(recording.asleep()));
    }
    if let Some(scope) = context.get::<ReplayScope>() {
        let from = asleep.as_ref().unwrap_or(context);
        asleep = Some(from.with_value(scope.asleep()));
    }
    asleep.unwrap_or_else(|| context.clone())
}

/// Without record and replay, a context holds nothing to let go of.
#[cfg(not(feature = "record-replay"))]
pub(crate) fn asleep(context: &Context) -> Context {
    context.clone()
}
