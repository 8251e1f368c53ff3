//! A stored trace as the web UI draws it: [`Waterfall`]. Spans in tree
//! order (each after its parent, siblings by start), times relative to
//! the trace's start, services numbered for their colours, errors and the
//! critical path marked.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};
use serde::Serialize;

use super::store::{Origin, StoredTrace};
use crate::span_store::{hex, render_value};

/// The document `GET /api/traces/{id}` answers.
#[derive(Debug, Serialize)]
pub(crate) struct Waterfall {
    pub(crate) trace_id: String,
    /// Nanoseconds since the Unix epoch, as a string (JSON numbers lose
    /// precision past 2^53).
    pub(crate) start_ns: String,
    pub(crate) duration_ns: u64,
    /// Service names in order of first appearance: a span's `service`
    /// index picks its colour.
    pub(crate) services: Vec<String>,
    pub(crate) spans: Vec<Row>,
    /// Whether a recording of this trace exists (`/recording`).
    pub(crate) recorded: bool,
}

/// One span, one row of the waterfall.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) span_id: String,
    pub(crate) parent_id: Option<String>,
    /// The parent is named but not stored: the span is drawn as a root.
    pub(crate) parent_missing: bool,
    pub(crate) depth: usize,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) service: usize,
    pub(crate) offset_ns: u64,
    pub(crate) duration_ns: u64,
    pub(crate) error: bool,
    pub(crate) status: &'static str,
    pub(crate) status_message: String,
    /// On the critical path: what the trace's end waited for.
    pub(crate) critical: bool,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) scope: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) offset_ns: u64,
    pub(crate) attributes: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Link {
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    pub(crate) attributes: Vec<(String, String)>,
}

impl Waterfall {
    pub(crate) fn new(trace_id: &str, trace: &StoredTrace, recorded: bool) -> Self {
        let spans: Vec<&Span> = trace.spans.iter().map(|(span, _)| span).collect();
        let start = spans
            .iter()
            .map(|span| span.start_time_unix_nano)
            .min()
            .unwrap_or(0);
        let end = spans
            .iter()
            .map(|span| span.end_time_unix_nano)
            .max()
            .unwrap_or(start);
        let order = tree_order(&spans);
        let critical = critical_path(&spans);
        let mut services: Vec<String> = Vec::new();
        let default_origin = Origin::default();
        let rows = order
            .into_iter()
            .map(|(index, depth, parent_missing)| {
                let (span, origin) = &trace.spans[index];
                let origin = trace.origins.get(origin).unwrap_or(&default_origin);
                let service_name = origin.service.clone().unwrap_or_else(|| "?".to_owned());
                let service = match services.iter().position(|known| *known == service_name) {
                    Some(at) => at,
                    None => {
                        services.push(service_name);
                        services.len() - 1
                    }
                };
                row(
                    span,
                    origin,
                    start,
                    depth,
                    parent_missing,
                    service,
                    critical[index],
                )
            })
            .collect();
        Self {
            trace_id: trace_id.to_owned(),
            start_ns: start.to_string(),
            duration_ns: end.saturating_sub(start),
            services,
            spans: rows,
            recorded,
        }
    }
}

fn row(
    span: &Span,
    origin: &Origin,
    start: u64,
    depth: usize,
    parent_missing: bool,
    service: usize,
    critical: bool,
) -> Row {
    let code = span.status.as_ref().map_or(0, |status| status.code);
    Row {
        span_id: hex(&span.span_id),
        parent_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
        parent_missing,
        depth,
        name: span.name.clone(),
        kind: kind(span.kind),
        service,
        offset_ns: span.start_time_unix_nano.saturating_sub(start),
        duration_ns: span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano),
        error: code == status::StatusCode::Error as i32,
        status: match status::StatusCode::try_from(code) {
            Ok(status::StatusCode::Ok) => "ok",
            Ok(status::StatusCode::Error) => "error",
            _ => "unset",
        },
        status_message: span
            .status
            .as_ref()
            .map(|status| status.message.clone())
            .unwrap_or_default(),
        critical,
        attributes: pairs(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| Event {
                name: event.name.clone(),
                offset_ns: event.time_unix_nano.saturating_sub(start),
                attributes: pairs(&event.attributes),
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|link| Link {
                trace_id: hex(&link.trace_id),
                span_id: hex(&link.span_id),
                attributes: pairs(&link.attributes),
            })
            .collect(),
        resource: pairs(&origin.resource.attributes),
        scope: match origin.scope.version.as_str() {
            "" => origin.scope.name.clone(),
            version => format!("{} {version}", origin.scope.name),
        },
    }
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), render_value(kv.value.as_ref())))
        .collect()
}

fn kind(kind: i32) -> &'static str {
    match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Internal) => "internal",
        Ok(span::SpanKind::Server) => "server",
        Ok(span::SpanKind::Client) => "client",
        Ok(span::SpanKind::Producer) => "producer",
        Ok(span::SpanKind::Consumer) => "consumer",
        _ => "unspecified",
    }
}

/// The children of each span (indexes into `spans`), by start; and the
/// roots: spans without a parent, or whose parent is not among them.
fn children(spans: &[&Span]) -> (Vec<usize>, HashMap<usize, Vec<usize>>) {
    let by_id: HashMap<&[u8], usize> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| (span.span_id.as_slice(), index))
        .collect();
    let mut roots = Vec::new();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, span) in spans.iter().enumerate() {
        match by_id.get(span.parent_span_id.as_slice()) {
            Some(&parent) if parent != index && !span.parent_span_id.is_empty() => {
                children.entry(parent).or_default().push(index);
            }
            _ => roots.push(index),
        }
    }
    let by_start = |list: &mut Vec<usize>| {
        list.sort_by_key(|&index| (spans[index].start_time_unix_nano, index));
    };
    by_start(&mut roots);
    children.values_mut().for_each(by_start);
    (roots, children)
}

/// Each span once as (index, depth, parent named but missing), every
/// span after its parent. A cycle of parents (which well-formed spans
/// never make) puts its spans at the end, at depth 0.
fn tree_order(spans: &[&Span]) -> Vec<(usize, usize, bool)> {
    let (roots, children) = children(spans);
    let mut order = Vec::with_capacity(spans.len());
    let mut placed = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&root| (root, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut placed[index], true) {
            continue;
        }
        order.push((
            index,
            depth,
            !spans[index].parent_span_id.is_empty() && depth == 0,
        ));
        if let Some(kids) = children.get(&index) {
            stack.extend(kids.iter().rev().map(|&kid| (kid, depth + 1)));
        }
    }
    for (index, done) in placed.iter().enumerate() {
        if !done {
            order.push((index, 0, true));
        }
    }
    order
}

/// Which spans are on the critical path: from each root, the child that
/// ended last, then the one that ended last before that one started, and
/// so on, each followed down the same way.
fn critical_path(spans: &[&Span]) -> Vec<bool> {
    let (roots, children) = children(spans);
    let mut critical = vec![false; spans.len()];
    // (span, the time its part of the path ends)
    let mut stack: Vec<(usize, u64)> = roots
        .iter()
        .map(|&root| (root, spans[root].end_time_unix_nano))
        .collect();
    while let Some((index, until)) = stack.pop() {
        if std::mem::replace(&mut critical[index], true) {
            continue;
        }
        let Some(kids) = children.get(&index) else {
            continue;
        };
        let mut by_end = kids.clone();
        by_end.sort_by_key(|&kid| std::cmp::Reverse(spans[kid].end_time_unix_nano));
        let mut cursor = until.min(spans[index].end_time_unix_nano);
        for kid in by_end {
            let span = spans[kid];
            if span.start_time_unix_nano >= cursor {
                continue;
            }
            stack.push((kid, cursor.min(span.end_time_unix_nano)));
            cursor = span.start_time_unix_nano;
        }
    }
    critical
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn span(id: u8, parent: u8, start: u64, end: u64) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![id; 8],
            parent_span_id: if parent == 0 {
                Vec::new()
            } else {
                vec![parent; 8]
            },
            name: format!("span {id}"),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..Span::default()
        }
    }

    #[test]
    fn spans_come_after_their_parents_siblings_by_start() {
        let spans = [
            span(3, 1, 50, 60),
            span(1, 0, 0, 100),
            span(2, 1, 10, 40),
            span(4, 2, 20, 30),
        ];
        let refs: Vec<&Span> = spans.iter().collect();
        let order: Vec<(usize, usize, bool)> = tree_order(&refs);
        // root 1 (index 1), its child 2 (index 2) with grandchild 4
        // (index 3), then child 3 (index 0).
        assert_eq!(
            order,
            vec![(1, 0, false), (2, 1, false), (3, 2, false), (0, 1, false)]
        );
    }

    #[test]
    fn a_span_whose_parent_is_missing_is_a_root_marked_so() {
        let spans = [span(2, 9, 10, 20), span(1, 0, 0, 5)];
        let refs: Vec<&Span> = spans.iter().collect();
        assert_eq!(tree_order(&refs), vec![(1, 0, false), (0, 0, true)]);
    }

    #[test]
    fn a_cycle_of_parents_still_places_every_span_once() {
        let spans = [span(1, 2, 0, 10), span(2, 1, 0, 10)];
        let refs: Vec<&Span> = spans.iter().collect();
        let order = tree_order(&refs);
        assert_eq!(order.len(), 2);
    }

    #[test]
    fn the_critical_path_follows_what_ended_last() {
        // root 0..100; a 0..30 then b 30..90 in sequence, c 10..20 in
        // parallel with a; b's child d 40..85.
        let spans = [
            span(1, 0, 0, 100),
            span(2, 1, 0, 30),
            span(3, 1, 30, 90),
            span(4, 1, 10, 20),
            span(5, 3, 40, 85),
        ];
        let refs: Vec<&Span> = spans.iter().collect();
        assert_eq!(critical_path(&refs), vec![true, true, true, false, true]);
    }
}
