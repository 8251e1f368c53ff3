//! Which request a pooled connection works for: a marker query sent when
//! the connection is handed to a task, naming the context that task had.
//!
//! A pool's connections outlive the requests that use them, and what a
//! driver writes to its socket carries nothing of the task that asked.
//! But a pool runs its check-out hooks in the task that acquires the
//! connection, with that task's context current. [`marker`] keeps that
//! context under a number and returns the query `/*tracetape:N*/`; the
//! hook sends it on the connection. The proxy takes the context back
//! when the query reaches it ([`take`]), answers it itself, and gives the
//! queries that follow on that connection, until the next marker, that
//! context as their parent. A marker that reaches a real server is an
//! empty query: harmless. A [`ping_marker`] is sent on to the server,
//! which answers it: it also checks that the connection still works, in
//! place of the pool's own check.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::Context;

/// Contexts kept for markers not yet seen by a proxy, at most: a hook
/// whose connection does not go through a proxy leaves its entry behind,
/// and the oldest go first.
const KEPT: usize = 4096;

const PREFIX: &str = "/*tracetape:";
const SUFFIX: &str = "*/";
/// After the number: the server answers this marker.
const PING: &str = ":ping";

static NEXT: AtomicU64 = AtomicU64::new(1);
static WAITING: Mutex<VecDeque<(u64, Context)>> = Mutex::new(VecDeque::new());

/// The marker query for the current context: send it on a connection
/// (as a simple query) when a task takes the connection from its pool,
/// and the proxy gives that task's context to the queries that follow.
///
/// A pool's hooks do this for you ([`crate::postgres`] shows them); call
/// it yourself only for a pool or driver without them.
///
/// ```
/// let query = tracetape::postgres::marker();
/// assert!(query.starts_with("/*tracetape:") && query.ends_with("*/"));
/// ```
pub fn marker() -> String {
    format!("{PREFIX}{}{SUFFIX}", keep(Context::current()))
}

/// A marker for the current context that the proxy sends on to the
/// server: the connection's check-out then also checks that it still
/// works, in the one round trip a pool's health check would take
/// ([`sqlx_traced`](super::sqlx_traced) uses it in place of sqlx's
/// `test_before_acquire` ping).
///
/// ```
/// let query = tracetape::postgres::ping_marker();
/// assert!(query.starts_with("/*tracetape:") && query.ends_with(":ping*/"));
/// ```
pub fn ping_marker() -> String {
    format!("{PREFIX}{}{PING}{SUFFIX}", keep(Context::current()))
}

/// Keeps `context` under a new number until a proxy takes it.
fn keep(context: Context) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut waiting = WAITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if waiting.len() >= KEPT {
        waiting.pop_front();
    }
    waiting.push_back((id, context));
    id
}

/// What a simple query's text is to the proxy.
#[derive(Debug)]
pub(crate) enum Seen {
    /// Not a marker: a query of the application's.
    Query,
    /// A marker, and the context it was made in (an empty context when
    /// its entry is gone: made in another process, or pushed out).
    Marker {
        context: Context,
        /// The server is to answer it.
        ping: bool,
    },
}

/// Whether `text` is a marker, taking its context out of the waiting
/// ones.
pub(crate) fn take(text: &str) -> Seen {
    let Some(inner) = text
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
    else {
        return Seen::Query;
    };
    let (number, ping) = match inner.strip_suffix(PING) {
        Some(number) => (number, true),
        None => (inner, false),
    };
    let Ok(id) = number.parse::<u64>() else {
        return Seen::Query;
    };
    let mut waiting = WAITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Markers are mostly taken in the order they were made.
    let context = match waiting.iter().position(|(waiting_id, _)| *waiting_id == id) {
        Some(at) => waiting.remove(at).map(|(_, cx)| cx).unwrap_or_default(),
        None => Context::new(),
    };
    Seen::Marker { context, ping }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
    use opentelemetry::trace::{SpanId, TraceId};

    use super::*;

    #[test]
    fn a_marker_gives_back_the_context_it_was_made_in_once() {
        let span = SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let query = {
            let _current = Context::new()
                .with_remote_span_context(span.clone())
                .attach();
            marker()
        };
        let Seen::Marker {
            context,
            ping: false,
        } = take(&query)
        else {
            panic!("{query} is a marker the proxy answers")
        };
        assert_eq!(context.span().span_context(), &span);
        // Taken once: a second sight of it has no context.
        let Seen::Marker { context, .. } = take(&query) else {
            panic!("still a marker")
        };
        assert!(!context.span().span_context().is_valid());
        let ping = {
            let _current = Context::new()
                .with_remote_span_context(span.clone())
                .attach();
            ping_marker()
        };
        let Seen::Marker {
            context,
            ping: true,
        } = take(&ping)
        else {
            panic!("{ping} is a marker the server answers")
        };
        assert_eq!(context.span().span_context(), &span);
    }

    #[test]
    fn other_text_is_a_query() {
        for text in [
            "SELECT 1",
            "/*tracetape:x*/",
            "/*tracetape:1*/ SELECT 1",
            "/*tracetape:ping*/",
            "",
        ] {
            assert!(matches!(take(text), Seen::Query), "{text}");
        }
    }
}
