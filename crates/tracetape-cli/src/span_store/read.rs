//! Reading traces back: [`traces`] and [`trace`].
//!
//! Every batch file of the store ([`LocalStore::files`]) is read as one or more OTLP/JSON
//! `TracesData` documents. A file that cannot be read or decoded is left
//! out and counted in `skipped_files`; only a store directory that cannot be
//! listed is an error. A missing directory is an empty store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, status};
use serde::Deserialize;

use super::error::{FindTraceError, ReadError};
use super::span::{hex, render_value};
use super::{StoredSpan, Trace};
use tracetape::store::LocalStore;

/// The traces of a store, from [`traces`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TraceList {
    /// One summary per trace, newest first.
    pub(crate) traces: Vec<TraceSummary>,
    /// How many store files could not be read and were left out.
    pub(crate) skipped_files: usize,
}

/// One trace at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceSummary {
    /// The trace id, lowercase hex.
    pub(crate) trace_id: String,
    /// When the earliest span started, in nanoseconds since the Unix epoch.
    pub(crate) start_unix_nanos: u64,
    /// When the latest span ended, in nanoseconds since the Unix epoch.
    pub(crate) end_unix_nanos: u64,
    /// The name of the root span: a span without a parent if there is one,
    /// else the earliest span whose parent was not stored.
    pub(crate) root_name: String,
    /// The `service.name` of the root span's resource.
    pub(crate) service_name: Option<String>,
    /// How many distinct spans are stored.
    pub(crate) span_count: usize,
    /// Whether any span has an error status.
    pub(crate) has_error: bool,
}

impl TraceSummary {
    /// From the earliest start to the latest end of any span.
    pub(crate) fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nanos.saturating_sub(self.start_unix_nanos))
    }
}

/// Summarises every trace in `store`, newest first.
///
/// Spans are grouped by trace id across files, so a trace whose spans
/// were exported in several batches is one entry.
pub(crate) fn traces(store: &LocalStore) -> Result<TraceList, ReadError> {
    let mut by_trace: HashMap<Vec<u8>, Vec<Head>> = HashMap::new();
    let skipped_files = scan(store, |span, service| {
        by_trace
            .entry(span.trace_id.clone())
            .or_default()
            .push(Head::new(span, service));
    })?;
    let mut traces: Vec<TraceSummary> = by_trace
        .into_iter()
        .map(|(trace_id, heads)| summarize(&trace_id, heads))
        .collect();
    traces.sort_by(|a, b| {
        b.start_unix_nanos
            .cmp(&a.start_unix_nanos)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    Ok(TraceList {
        traces,
        skipped_files,
    })
}

/// Every stored span of the trace in `store` whose id is `id` or starts
/// with `id` (case-insensitive).
pub(crate) fn trace(store: &LocalStore, id: &str) -> Result<Trace, FindTraceError> {
    let prefix = id.trim().to_ascii_lowercase();
    if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FindTraceError::InvalidId { id: id.to_owned() });
    }
    let mut found: BTreeMap<String, Vec<StoredSpan>> = BTreeMap::new();
    let skipped_files = scan(store, |span, service| {
        let trace_id = hex(&span.trace_id);
        if trace_id.starts_with(&prefix) {
            found
                .entry(trace_id)
                .or_default()
                .push(StoredSpan::from_proto(span, service));
        }
    })
    .map_err(|source| FindTraceError::Read {
        id: id.to_owned(),
        source,
    })?;
    let mut matches = found.into_iter();
    match (matches.next(), matches.next()) {
        (Some((trace_id, spans)), None) => Ok(Trace::new(trace_id, spans, skipped_files)),
        (None, _) => Err(FindTraceError::NotFound {
            id: prefix,
            path: store.dir().to_owned(),
        }),
        (Some((first, _)), Some((second, _))) => {
            let mut ids = vec![first, second];
            ids.extend(matches.map(|(trace_id, _)| trace_id));
            Err(FindTraceError::Ambiguous {
                id: prefix,
                matches: ids,
            })
        }
    }
}

/// An OTLP/JSON `TracesData` document; unlike the generated type, a
/// document without `resourceSpans` is accepted as empty.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    resource_spans: Vec<ResourceSpans>,
}

/// Calls `visit` with every usable span of every batch file of `store` and
/// the `service.name` of its resource. Returns how many files were skipped.
fn scan(
    store: &LocalStore,
    mut visit: impl FnMut(&Span, Option<&str>),
) -> Result<usize, ReadError> {
    let paths = files(store).map_err(|source| ReadError::Store {
        path: store.dir().to_owned(),
        source,
    })?;
    let mut skipped = 0;
    for path in paths {
        let batches = match documents(&path) {
            Ok(batches) => batches,
            // Evicted while we were reading: not a bad file, just gone.
            Err(Unreadable::Gone) => continue,
            Err(Unreadable::Bad) => {
                skipped += 1;
                continue;
            }
        };
        for resource_spans in &batches {
            let service = service_name(resource_spans.resource.as_ref());
            let spans = resource_spans
                .scope_spans
                .iter()
                .flat_map(|scope| &scope.spans);
            for span in spans {
                // Without ids a span can be neither grouped nor placed in a tree.
                if !span.trace_id.is_empty() && !span.span_id.is_empty() {
                    visit(span, service.as_deref());
                }
            }
        }
    }
    Ok(skipped)
}

/// The store's batch files ([`LocalStore::files`]); a store not written
/// to yet has none.
pub(crate) fn files(store: &LocalStore) -> io::Result<Vec<PathBuf>> {
    match store.files() {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        listed => listed,
    }
}

/// Why a batch file gave no spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// It was evicted (or moved) after it was listed.
    Gone,
    /// It could not be read, or is not OTLP/JSON.
    Bad,
}

/// Every `ResourceSpans` of a batch file, whole or nothing.
pub(crate) fn documents(path: &Path) -> Result<Vec<ResourceSpans>, Unreadable> {
    Ok(load(path)?
        .into_iter()
        .flat_map(|document| document.resource_spans)
        .collect())
}

/// Reads a file of one or more concatenated `TracesData` documents. A file
/// is used whole or not at all, so a truncated file adds no partial trace.
fn load(path: &Path) -> Result<Vec<Document>, Unreadable> {
    let bytes = fs::read(path).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => Unreadable::Gone,
        _ => Unreadable::Bad,
    })?;
    let documents: Result<Vec<Document>, _> = serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<Document>()
        .collect();
    match documents {
        Ok(documents) if !documents.is_empty() => Ok(documents),
        _ => Err(Unreadable::Bad),
    }
}

/// The `service.name` attribute of a resource.
pub(crate) fn service_name(resource: Option<&Resource>) -> Option<String> {
    let attribute = resource?
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")?;
    let name = render_value(attribute.value.as_ref());
    (!name.is_empty()).then_some(name)
}

/// What a summary needs of one span.
struct Head {
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    start: u64,
    end: u64,
    name: String,
    service: Option<String>,
    is_error: bool,
}

impl Head {
    fn new(span: &Span, service: Option<&str>) -> Self {
        Self {
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            start: span.start_time_unix_nano,
            end: span.end_time_unix_nano,
            name: span.name.clone(),
            service: service.map(str::to_owned),
            is_error: span
                .status
                .as_ref()
                .is_some_and(|s| s.code == status::StatusCode::Error as i32),
        }
    }
}

fn summarize(trace_id: &[u8], heads: Vec<Head>) -> TraceSummary {
    let mut seen = HashSet::new();
    let heads: Vec<Head> = heads
        .into_iter()
        .filter(|head| seen.insert(head.span_id.clone()))
        .collect();
    // Prefer a true root, then a span whose parent was never stored, then
    // (only for cyclic parent ids) any span; the earliest of the best kind.
    let rank = |head: &Head| {
        if head.parent_span_id.is_empty() {
            0
        } else if !seen.contains(&head.parent_span_id) {
            1
        } else {
            2
        }
    };
    let root = heads
        .iter()
        .min_by(|a, b| (rank(a), a.start, &a.name).cmp(&(rank(b), b.start, &b.name)));
    TraceSummary {
        trace_id: hex(trace_id),
        start_unix_nanos: heads.iter().map(|h| h.start).min().unwrap_or(0),
        end_unix_nanos: heads.iter().map(|h| h.end).max().unwrap_or(0),
        root_name: root.map(|h| h.name.clone()).unwrap_or_default(),
        service_name: root.and_then(|h| h.service.clone()),
        span_count: heads.len(),
        has_error: heads.iter().any(|h| h.is_error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tracetape::opentelemetry::trace::TracerProvider as _;

    use super::*;
    use crate::span_store::SpanStatus;
    use crate::span_store::span::SpanKind;
    use crate::testing::{provider, record_request, temp_store};

    /// A hand-written OTLP/JSON document with one span per `(trace id, span
    /// id, parent id, name, start)`, as another OTLP/JSON writer could make.
    fn foreign_document(spans: &[(&str, &str, &str, &str, u64)]) -> String {
        let spans: Vec<String> = spans
            .iter()
            .map(|(trace, span, parent, name, start)| {
                format!(
                    r#"{{"traceId":"{trace}","spanId":"{span}","parentSpanId":"{parent}","name":"{name}","kind":2,"startTimeUnixNano":{start},"endTimeUnixNano":"{}","attributes":[{{"key":"n","value":{{"intValue":7}}}}],"status":{{"code":2,"message":"bad"}},"unknownField":true}}"#,
                    start + 1_000_000
                )
            })
            .collect();
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"other"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        )
    }

    #[test]
    fn spans_read_back_with_names_parents_attributes_and_service() {
        let (_tmp, store) = temp_store();
        let provider = provider(&store, "checkout");
        let trace_id = record_request(&provider, "/users/{id}");
        provider.shutdown().unwrap();

        let list = traces(&store).unwrap();
        assert_eq!(list.skipped_files, 0);
        let [summary] = list.traces.as_slice() else {
            panic!("expected one trace, got {:?}", list.traces);
        };
        assert_eq!(summary.trace_id, trace_id);
        assert_eq!(summary.root_name, "GET /users/{id}");
        assert_eq!(summary.service_name.as_deref(), Some("checkout"));
        assert_eq!(summary.span_count, 3);
        assert!(summary.has_error);
        assert!(summary.duration() > Duration::ZERO);

        let trace = trace(&store, &trace_id).unwrap();
        let walk: Vec<_> = trace.walk().collect();
        let names: Vec<(usize, &str)> = walk
            .iter()
            .map(|e| (e.depth, e.span.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [(0, "GET /users/{id}"), (1, "SELECT users"), (1, "render")]
        );
        let root = walk[0].span;
        assert_eq!(root.kind, SpanKind::Server);
        assert_eq!(root.parent_span_id, None);
        assert_eq!(root.service_name.as_deref(), Some("checkout"));
        assert_eq!(root.attribute("http.route"), Some("/users/{id}"));
        assert_eq!(root.attribute("http.response.status_code"), Some("500"));
        assert_eq!(
            root.status,
            SpanStatus::Error {
                message: "handler failed".into()
            }
        );
        for child in &walk[1..] {
            assert_eq!(
                child.span.parent_span_id.as_deref(),
                Some(root.span_id.as_str())
            );
            assert_eq!(child.span.trace_id, trace_id);
        }
        let render = walk[2].span;
        assert_eq!(render.events[0].name, "exception");
        assert_eq!(
            render.events[0].attribute("exception.type"),
            Some("TemplateError")
        );
    }

    #[test]
    fn traces_are_listed_newest_first() {
        let (_tmp, store) = temp_store();
        let provider = provider(&store, "svc");
        let tracer = provider.tracer("test");
        for name in ["first", "second", "third"] {
            tracetape::opentelemetry::trace::Tracer::in_span(&tracer, name, |_| {});
        }
        provider.shutdown().unwrap();

        let names: Vec<String> = traces(&store)
            .unwrap()
            .traces
            .into_iter()
            .map(|summary| summary.root_name)
            .collect();
        assert_eq!(names, ["third", "second", "first"]);
    }

    #[test]
    fn corrupt_and_truncated_files_are_skipped_and_counted() {
        let (_tmp, store) = temp_store();
        let provider = provider(&store, "svc");
        let trace_id = record_request(&provider, "/ok");
        provider.shutdown().unwrap();

        let good = store.files().unwrap();
        let text = fs::read_to_string(&good[0]).unwrap();
        fs::write(store.dir().join("0-garbage.json"), b"\x00\xffnot json").unwrap();
        fs::write(
            store.dir().join("1-truncated.json"),
            &text[..text.len() / 2],
        )
        .unwrap();
        fs::write(
            store.dir().join("2-wrong-shape.json"),
            br#"{"resourceSpans":7}"#,
        )
        .unwrap();
        fs::write(store.dir().join("3-empty.json"), b"").unwrap();

        let list = traces(&store).unwrap();
        assert_eq!(list.skipped_files, 4);
        assert_eq!(list.traces.len(), 1);
        assert_eq!(list.traces[0].span_count, 3);
        let trace = trace(&store, &trace_id).unwrap();
        assert_eq!(trace.skipped_files(), 4);
        assert_eq!(trace.spans().len(), 3);
    }

    #[test]
    fn leftover_temp_files_and_other_names_are_ignored() {
        let (_tmp, store) = temp_store();
        let provider = provider(&store, "svc");
        record_request(&provider, "/ok");
        provider.shutdown().unwrap();
        // A writer that crashed mid-write leaves its hidden temporary file.
        fs::write(store.dir().join(".123-4-000000.json.tmp"), b"{\"resourceSp").unwrap();
        fs::write(store.dir().join("README.txt"), b"hello").unwrap();
        fs::create_dir(store.dir().join("nested.json")).unwrap();

        let list = traces(&store).unwrap();
        assert_eq!(list.skipped_files, 0);
        assert_eq!(list.traces.len(), 1);
    }

    #[test]
    fn missing_store_is_empty() {
        let (_tmp, store) = temp_store();
        assert_eq!(traces(&store).unwrap(), TraceList::default());
        assert!(matches!(
            trace(&store, "abc"),
            Err(FindTraceError::NotFound { .. })
        ));
    }

    #[test]
    fn store_that_is_a_file_is_a_read_error() {
        let (tmp, _) = temp_store();
        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        let err = traces(&LocalStore::new(&file)).unwrap_err();
        assert!(
            err.to_string().starts_with("failed to read trace store "),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn foreign_otlp_json_reads_including_json_lines() {
        let (_tmp, store) = temp_store();
        fs::create_dir_all(store.dir()).unwrap();
        let trace_id = "0af7651916cd43dd8448eb211c80319c";
        let lines = [
            foreign_document(&[(trace_id, "b7ad6b7169203331", "", "root", 1_000)]),
            foreign_document(&[(
                trace_id,
                "00f067aa0ba902b7",
                "b7ad6b7169203331",
                "child",
                2_000,
            )]),
        ];
        fs::write(store.dir().join("collector.json"), lines.join("\n")).unwrap();

        let list = traces(&store).unwrap();
        assert_eq!(list.skipped_files, 0);
        assert_eq!(list.traces[0].root_name, "root");
        assert_eq!(list.traces[0].service_name.as_deref(), Some("other"));
        assert_eq!(list.traces[0].span_count, 2);

        let found = trace(&store, "0AF7").unwrap();
        let child = &found.spans()[1];
        assert_eq!(child.parent_span_id.as_deref(), Some("b7ad6b7169203331"));
        assert_eq!(child.attribute("n"), Some("7"));
        assert_eq!(child.duration(), Duration::from_millis(1));
    }

    #[test]
    fn lookup_accepts_a_unique_prefix_and_rejects_ambiguous_ones() {
        let (_tmp, store) = temp_store();
        fs::create_dir_all(store.dir()).unwrap();
        let document = foreign_document(&[
            (
                "abc10000000000000000000000000000",
                "0000000000000001",
                "",
                "one",
                1,
            ),
            (
                "abc20000000000000000000000000000",
                "0000000000000002",
                "",
                "two",
                2,
            ),
        ]);
        fs::write(store.dir().join("a.json"), document).unwrap();

        assert_eq!(trace(&store, "abc1").unwrap().spans()[0].name, "one");
        assert_eq!(
            trace(&store, "abc20000000000000000000000000000")
                .unwrap()
                .trace_id(),
            "abc20000000000000000000000000000"
        );
        match trace(&store, "abc") {
            Err(FindTraceError::Ambiguous { id, matches }) => {
                assert_eq!(id, "abc");
                assert_eq!(
                    matches,
                    [
                        "abc10000000000000000000000000000",
                        "abc20000000000000000000000000000"
                    ]
                );
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
        match trace(&store, "abc3") {
            Err(err @ FindTraceError::NotFound { .. }) => {
                assert!(
                    err.to_string().starts_with("no trace with id abc3 in "),
                    "{err}"
                );
            }
            other => panic!("expected not found, got {other:?}"),
        }
        for bad in ["", "xyz", "0123456789abcdef0123456789abcdef0"] {
            assert!(
                matches!(trace(&store, bad), Err(FindTraceError::InvalidId { .. })),
                "{bad:?} should be invalid"
            );
        }
    }
}
