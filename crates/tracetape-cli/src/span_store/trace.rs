//! [`Trace`]: all stored spans of one trace, and walking them as a tree.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::StoredSpan;

/// All stored spans of one trace, from [`trace`](super::trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trace {
    trace_id: String,
    spans: Vec<StoredSpan>,
    skipped_files: usize,
}

impl Trace {
    /// Builds a trace from its spans: a span stored twice is kept once, and
    /// spans are ordered by start time.
    pub(crate) fn new(trace_id: String, spans: Vec<StoredSpan>, skipped_files: usize) -> Self {
        let mut seen = HashSet::new();
        let mut spans: Vec<StoredSpan> = spans
            .into_iter()
            .filter(|span| seen.insert(span.span_id.clone()))
            .collect();
        spans.sort_by(|a, b| {
            (a.start_unix_nanos, &a.name, &a.span_id).cmp(&(
                b.start_unix_nanos,
                &b.name,
                &b.span_id,
            ))
        });
        Self {
            trace_id,
            spans,
            skipped_files,
        }
    }

    /// The full trace id, lowercase hex.
    pub(crate) fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The spans, ordered by start time.
    pub(crate) fn spans(&self) -> &[StoredSpan] {
        &self.spans
    }

    /// How many store files could not be read and were left out.
    pub(crate) fn skipped_files(&self) -> usize {
        self.skipped_files
    }

    /// When the earliest span started, in nanoseconds since the Unix epoch.
    pub(crate) fn start_unix_nanos(&self) -> u64 {
        self.spans
            .iter()
            .map(|span| span.start_unix_nanos)
            .min()
            .unwrap_or(0)
    }

    /// From the earliest start to the latest end of any span.
    pub(crate) fn duration(&self) -> Duration {
        let end = self
            .spans
            .iter()
            .map(|span| span.end_unix_nanos)
            .max()
            .unwrap_or(0);
        Duration::from_nanos(end.saturating_sub(self.start_unix_nanos()))
    }

    /// The spans depth first, as a tree.
    ///
    /// Roots are the spans whose parent is not in the trace (a true root, or
    /// a span whose parent was never stored); siblings are ordered by start
    /// time. Every span is visited exactly once, even when parent ids form a
    /// cycle.
    pub(crate) fn walk(&self) -> impl Iterator<Item = TreeEntry<'_>> {
        let index: HashMap<&str, usize> = self
            .spans
            .iter()
            .enumerate()
            .map(|(i, span)| (span.span_id.as_str(), i))
            .collect();
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for (i, span) in self.spans.iter().enumerate() {
            let parent = span
                .parent_span_id
                .as_deref()
                .and_then(|id| index.get(id).copied());
            match parent {
                Some(parent) if parent != i => children.entry(parent).or_default().push(i),
                _ => roots.push(i),
            }
        }

        let mut visited = vec![false; self.spans.len()];
        let mut entries = Vec::with_capacity(self.spans.len());
        let mut stack: Vec<(usize, usize, bool)> = Vec::new();
        // Spans caught in a parent cycle are reachable from no root; the
        // first of them is walked as an extra root.
        for start in roots.into_iter().chain(0..self.spans.len()) {
            if visited[start] {
                continue;
            }
            visited[start] = true;
            stack.push((start, 0, false));
            while let Some((i, depth, is_last)) = stack.pop() {
                entries.push(TreeEntry {
                    depth,
                    span: &self.spans[i],
                    is_last,
                });
                let next: Vec<usize> = children
                    .get(&i)
                    .map(|list| list.iter().copied().filter(|&c| !visited[c]).collect())
                    .unwrap_or_default();
                for (n, &child) in next.iter().enumerate().rev() {
                    visited[child] = true;
                    stack.push((child, depth + 1, n + 1 == next.len()));
                }
            }
        }
        if let Some(last_root) = entries.iter_mut().rev().find(|entry| entry.depth == 0) {
            last_root.is_last = true;
        }
        entries.into_iter()
    }
}

/// One span in [`Trace::walk`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TreeEntry<'a> {
    /// 0 for a root, 1 for its children, and so on.
    pub(crate) depth: usize,
    /// The span.
    pub(crate) span: &'a StoredSpan,
    /// Whether this is the last child of its parent (or the last root), which
    /// is what drawing `├─` versus `└─` needs.
    pub(crate) is_last: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span_store::SpanStatus;
    use crate::span_store::span::SpanKind;

    fn span(id: &str, parent: Option<&str>, start: u64) -> StoredSpan {
        StoredSpan {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_owned),
            name: id.into(),
            kind: SpanKind::Internal,
            start_unix_nanos: start,
            end_unix_nanos: start + 10,
            attributes: Vec::new(),
            status: SpanStatus::Unset,
            events: Vec::new(),
            service_name: None,
        }
    }

    fn shape(trace: &Trace) -> Vec<(usize, String, bool)> {
        trace
            .walk()
            .map(|entry| (entry.depth, entry.span.name.clone(), entry.is_last))
            .collect()
    }

    #[test]
    fn children_follow_parents_in_start_order() {
        let trace = Trace::new(
            "t".into(),
            vec![
                span("late", Some("root"), 30),
                span("grandchild", Some("early"), 25),
                span("root", None, 0),
                span("early", Some("root"), 20),
            ],
            0,
        );
        assert_eq!(
            shape(&trace),
            [
                (0, "root".into(), true),
                (1, "early".into(), false),
                (2, "grandchild".into(), true),
                (1, "late".into(), true),
            ]
        );
        assert_eq!(trace.duration(), Duration::from_nanos(40));
    }

    #[test]
    fn orphans_are_roots_and_duplicates_are_dropped() {
        let trace = Trace::new(
            "t".into(),
            vec![
                span("a", Some("missing"), 5),
                span("b", None, 1),
                span("b", None, 1),
            ],
            0,
        );
        assert_eq!(
            shape(&trace),
            [(0, "b".into(), false), (0, "a".into(), true)]
        );
    }

    #[test]
    fn parent_cycles_still_visit_every_span_once() {
        // A corrupt or hand-written file could make spans each other's parent.
        let trace = Trace::new(
            "t".into(),
            vec![
                span("x", Some("y"), 1),
                span("y", Some("x"), 2),
                span("z", Some("z"), 3),
            ],
            0,
        );
        assert_eq!(
            shape(&trace),
            [
                (0, "z".into(), false),
                (0, "x".into(), true),
                (1, "y".into(), true),
            ]
        );
    }
}
