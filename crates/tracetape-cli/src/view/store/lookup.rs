//! One trace, whole: [`Store::trace`].

use std::collections::{HashMap, HashSet};

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

use super::Store;

/// Every stored span of one trace, with where each came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoredTrace {
    /// Each span with the id of its origin, in the order written; a span
    /// written twice is here once.
    pub(crate) spans: Vec<(Span, i64)>,
    pub(crate) origins: HashMap<i64, Origin>,
}

/// The resource and instrumentation scope of spans.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub(crate) service: Option<String>,
    pub(crate) resource: Resource,
    pub(crate) resource_schema_url: String,
    pub(crate) scope: InstrumentationScope,
    pub(crate) scope_schema_url: String,
}

/// An `origins` row (`service`, `resource`, `resource_schema_url`,
/// `scope`, `scope_schema_url`) as an [`Origin`].
fn origin_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Origin> {
    let resource: Vec<u8> = row.get(1)?;
    let scope: Vec<u8> = row.get(3)?;
    Ok(Origin {
        service: row.get(0)?,
        resource: Resource::decode(resource.as_slice()).unwrap_or_default(),
        resource_schema_url: row.get(2)?,
        scope: InstrumentationScope::decode(scope.as_slice()).unwrap_or_default(),
        scope_schema_url: row.get(4)?,
    })
}

impl Store {
    /// The trace with this id, or `None` when no span of it is stored.
    pub(crate) fn trace(&self, trace_id: &[u8]) -> anyhow::Result<Option<StoredTrace>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT s.origin, d.span FROM spans s JOIN span_data d ON d.id = s.id
                 WHERE s.trace_id = ?1 ORDER BY s.id",
            )?;
            let rows: Vec<(i64, Vec<u8>)> = statement
                .query_map([trace_id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut trace = StoredTrace::default();
            let mut ids = HashSet::new();
            let mut origin = conn.prepare_cached(
                "SELECT service, resource, resource_schema_url, scope, scope_schema_url
                 FROM origins WHERE id = ?1",
            )?;
            for (origin_id, bytes) in rows {
                // A row that does not decode was not written by this store.
                let Ok(span) = Span::decode(bytes.as_slice()) else {
                    continue;
                };
                if !ids.insert(span.span_id.clone()) {
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(entry) =
                    trace.origins.entry(origin_id)
                {
                    entry.insert(origin.query_row([origin_id], origin_row)?);
                }
                trace.spans.push((span, origin_id));
            }
            Ok(Some(trace))
        })
    }
}
