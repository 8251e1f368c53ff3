//! A stored trace written back as one OTLP/JSON `TracesData` document (the
//! download), spans grouped by their resource and scope as received.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, TracesData};

use super::store::StoredTrace;

/// The trace as `TracesData`, origins in the order first seen.
pub(crate) fn traces_data(trace: &StoredTrace) -> TracesData {
    let mut groups: BTreeMap<usize, (i64, ScopeSpans)> = BTreeMap::new();
    let mut first_seen: Vec<i64> = Vec::new();
    for (span, origin) in &trace.spans {
        let at = match first_seen.iter().position(|seen| seen == origin) {
            Some(at) => at,
            None => {
                first_seen.push(*origin);
                first_seen.len() - 1
            }
        };
        let (_, group) = groups.entry(at).or_insert_with(|| {
            let known = trace.origins.get(origin);
            (
                *origin,
                ScopeSpans {
                    scope: known.map(|known| known.scope.clone()),
                    spans: Vec::new(),
                    schema_url: known
                        .map(|known| known.scope_schema_url.clone())
                        .unwrap_or_default(),
                },
            )
        });
        group.spans.push(span.clone());
    }
    let resource_spans = groups
        .into_values()
        .map(|(origin, scope_spans)| {
            let known = trace.origins.get(&origin);
            ResourceSpans {
                resource: known.map(|known| known.resource.clone()),
                scope_spans: vec![scope_spans],
                schema_url: known
                    .map(|known| known.resource_schema_url.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    TracesData { resource_spans }
}
