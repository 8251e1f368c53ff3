use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use tracetape::store::LocalStore;

use super::search::Page;
use super::*;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// Span `span` of trace `trace` (ids made of those bytes), `parent` 0 for
/// a root, times in milliseconds.
fn span(trace: u8, span: u8, parent: u8, name: &str, start_ms: u64, end_ms: u64) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![span; 8],
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            vec![parent; 8]
        },
        name: name.to_owned(),
        start_time_unix_nano: start_ms * 1_000_000,
        end_time_unix_nano: end_ms * 1_000_000,
        ..Span::default()
    }
}

fn batch(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", service)],
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(
        &dir.path().join("view.sqlite"),
        Retention {
            max_bytes: None,
            max_age: None,
        },
    )
    .expect("the store opens")
}

fn ids(page: &Page) -> Vec<String> {
    page.traces
        .iter()
        .map(|row| row.trace_id[..2].to_owned())
        .collect()
}

fn all(query: Query) -> Query {
    Query { limit: 50, ..query }
}

/// Three traces: 01 (checkout -> inventory, an error in inventory), 02
/// (checkout, slow), 03 (pricing, spans written in two batches).
fn three_traces(store: &Store) {
    let mut failing = span(1, 12, 11, "GET /stock", 1_010, 1_020);
    failing.status = Some(Status {
        code: status::StatusCode::Error as i32,
        ..Status::default()
    });
    failing.attributes = vec![text("http.route", "/stock"), text("sku", "a-1")];
    let mut root = span(1, 11, 0, "POST /orders", 1_000, 1_050);
    root.attributes = vec![text("http.route", "/orders"), text("sku", "a-1")];
    store
        .ingest(&[
            batch("checkout", vec![root]),
            batch("inventory", vec![failing]),
        ])
        .expect("written");
    let mut slow = span(2, 21, 0, "POST /orders", 2_000, 4_000);
    slow.attributes = vec![text("http.route", "/orders"), text("sku", "b-2")];
    store
        .ingest(&[batch("checkout", vec![slow])])
        .expect("written");
    store
        .ingest(&[batch(
            "pricing",
            vec![span(3, 32, 31, "lookup", 3_010, 3_020)],
        )])
        .expect("written");
    store
        .ingest(&[batch(
            "pricing",
            vec![span(3, 31, 0, "GET /price", 3_000, 3_100)],
        )])
        .expect("written");
}

#[test]
fn traces_are_listed_newest_first_with_their_roots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    three_traces(&store);
    let page = store.search(&all(Query::default())).expect("searched");
    assert_eq!(ids(&page), ["03", "02", "01"]);
    let pricing = &page.traces[0];
    // The root arrived after its child: it is still the root.
    assert_eq!(pricing.root_name, "GET /price");
    assert_eq!(pricing.root_service.as_deref(), Some("pricing"));
    assert_eq!((pricing.spans, pricing.errors), (2, 0));
    assert_eq!(pricing.duration_ns, 100_000_000);
    assert_eq!(page.traces[2].errors, 1);
    assert_eq!(
        store.services().expect("listed"),
        ["checkout", "inventory", "pricing"]
    );
}

#[test]
fn search_narrows_by_each_condition() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    three_traces(&store);
    let search = |query: Query| ids(&store.search(&all(query)).expect("searched"));
    assert_eq!(
        search(Query {
            service: Some("checkout".into()),
            ..Query::default()
        }),
        ["02", "01"]
    );
    assert_eq!(
        search(Query {
            service: Some("inventory".into()),
            ..Query::default()
        }),
        ["01"]
    );
    assert_eq!(
        search(Query {
            name: Some("price".into()),
            ..Query::default()
        }),
        ["03"]
    );
    assert_eq!(
        search(Query {
            name: Some("post /ORD".into()),
            ..Query::default()
        }),
        ["02", "01"]
    );
    assert_eq!(
        search(Query {
            errors: true,
            ..Query::default()
        }),
        ["01"]
    );
    assert_eq!(
        search(Query {
            min_duration: Some(Duration::from_millis(100)),
            ..Query::default()
        }),
        ["03", "02"]
    );
    let attr = |pairs: &[(&str, &str)]| Query {
        attributes: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Query::default()
    };
    assert_eq!(search(attr(&[("sku", "a-1")])), ["01"]);
    assert_eq!(search(attr(&[("http.route", "/orders")])), ["02", "01"]);
    assert_eq!(
        search(attr(&[("http.route", "/orders"), ("sku", "b-2")])),
        ["02"]
    );
    assert_eq!(
        search(attr(&[("http.route", "/stock"), ("sku", "b-2")])),
        Vec::<String>::new()
    );
    assert_eq!(
        search(Query {
            from: Some(1_500_000_000),
            to: Some(3_005_000_000),
            ..Query::default()
        }),
        ["03", "02"]
    );
    // A `%` is a character, not a wildcard.
    assert_eq!(
        search(Query {
            name: Some("%".into()),
            ..Query::default()
        }),
        Vec::<String>::new()
    );
}

#[test]
fn pages_follow_one_another_without_gaps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    for trace in 1..=25u8 {
        let start = u64::from(trace) * 1_000;
        store
            .ingest(&[batch(
                "svc",
                vec![span(trace, 1, 0, "GET /", start, start + 5)],
            )])
            .expect("written");
    }
    for spanwise in [false, true] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let query = Query {
                limit: 10,
                after: after.clone(),
                service: spanwise.then(|| "svc".to_owned()),
                ..Query::default()
            };
            let page = store.search(&query).expect("searched");
            seen.extend(page.traces.iter().map(|row| row.trace_id.clone()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25, "spanwise: {spanwise}");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 25, "no trace twice (spanwise: {spanwise})");
        assert_eq!(seen[0], "19".repeat(16), "newest first");
    }
}

#[test]
fn a_trace_is_looked_up_whole_with_its_origins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    three_traces(&store);
    let trace = store.trace(&[1; 16]).expect("read").expect("found");
    let names: Vec<&str> = trace
        .spans
        .iter()
        .map(|(span, _)| span.name.as_str())
        .collect();
    assert_eq!(names, ["POST /orders", "GET /stock"]);
    let services: Vec<Option<&str>> = trace
        .spans
        .iter()
        .map(|(_, origin)| trace.origins[origin].service.as_deref())
        .collect();
    assert_eq!(services, [Some("checkout"), Some("inventory")]);
    assert!(store.trace(&[9; 16]).expect("read").is_none());
}

#[test]
fn retention_by_size_removes_the_oldest_traces_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("view.sqlite");
    let store = Store::open(
        &path,
        Retention {
            max_bytes: None,
            max_age: None,
        },
    )
    .expect("opened");
    let padding = "x".repeat(2_000);
    for trace in 1..=200u8 {
        let start = u64::from(trace) * 1_000;
        let spans = (1..=5u8)
            .map(|id| {
                let mut span = span(
                    trace,
                    id,
                    if id == 1 { 0 } else { 1 },
                    "work",
                    start,
                    start + 1,
                );
                span.attributes = vec![text("padding", &padding), text("n", &id.to_string())];
                span
            })
            .collect();
        store.ingest(&[batch("svc", spans)]).expect("written");
    }
    drop(store);
    let limited = Retention {
        max_bytes: Some(1_000_000),
        max_age: None,
    };
    let store = Store::open(&path, limited).expect("reopened");
    let removed = store.enforce_retention().expect("applied");
    assert!(removed > 0);
    let page = store
        .search(&Query {
            limit: 500,
            ..Query::default()
        })
        .expect("searched");
    assert_eq!(page.traces.len() as u64, 200 - removed);
    // The newest stayed, each with all five spans; the oldest went whole.
    assert_eq!(page.traces[0].trace_id, "c8".repeat(16));
    assert!(page.traces.iter().all(|row| row.spans == 5));
    assert!(store.trace(&[1; 16]).expect("read").is_none());
    // Their attribute index entries went with them.
    let found = store
        .search(&Query {
            attributes: vec![("n".into(), "3".into())],
            limit: 500,
            ..Query::default()
        })
        .expect("searched");
    assert_eq!(found.traces.len(), page.traces.len());
}

#[test]
fn retention_by_age_removes_what_ended_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let retention = Retention {
        max_bytes: None,
        max_age: Some(Duration::from_secs(3600)),
    };
    let store = Store::open(&dir.path().join("view.sqlite"), retention).expect("opened");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    store
        .ingest(&[batch(
            "svc",
            vec![
                span(1, 1, 0, "old", now_ms - 7_200_000, now_ms - 7_100_000),
                span(2, 1, 0, "new", now_ms - 1_000, now_ms),
            ],
        )])
        .expect("written");
    assert_eq!(store.enforce_retention().expect("applied"), 1);
    let page = store.search(&all(Query::default())).expect("searched");
    assert_eq!(ids(&page), ["02"]);
}

#[test]
fn the_local_store_is_imported_once_per_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let local = LocalStore::new(dir.path().join("traces"));
    assert_eq!(store.import(&local).expect("nothing yet").spans, 0);
    std::fs::create_dir_all(local.dir()).expect("dir");
    let document =
        serde_json::json!({ "resourceSpans": [batch("svc", vec![span(7, 1, 0, "stored", 1, 2)])] });
    std::fs::write(local.dir().join("0001.json"), document.to_string()).expect("written");
    std::fs::write(local.dir().join("0002.json"), "not json").expect("written");
    let first = store.import(&local).expect("imported");
    assert_eq!((first.files, first.spans), (1, 1));
    assert_eq!(first.unreadable, [local.dir().join("0002.json")]);
    let again = store.import(&local).expect("imported");
    assert_eq!(
        (again.files, again.spans, again.unreadable.len()),
        (0, 0, 0)
    );
    assert!(store.trace(&[7; 16]).expect("read").is_some());
}

#[test]
fn a_store_of_another_layout_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("view.sqlite");
    drop(open(&dir));
    let conn = rusqlite::Connection::open(&path).expect("opened");
    conn.pragma_update(None, "user_version", 99).expect("set");
    drop(conn);
    let err = Store::open(
        &path,
        Retention {
            max_bytes: None,
            max_age: None,
        },
    )
    .err()
    .expect("refused");
    assert!(
        format!("{err:#}").contains("another version of tracetape"),
        "{err:#}"
    );
}
