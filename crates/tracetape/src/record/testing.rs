//! Recordings for the record module's tests, with every awkward case the
//! format has to carry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use opentelemetry::trace::{SpanId, TraceId};

use super::{
    BodyRecord, Exchange, ExchangeKind, HeaderRecord, Recording, RequestRecord, ResponseRecord,
};

pub(crate) const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// A header with the bytes of `value`.
pub(crate) fn header(name: &str, value: impl AsRef<[u8]>) -> HeaderRecord {
    HeaderRecord {
        name: name.to_owned(),
        value: Bytes::copy_from_slice(value.as_ref()),
    }
}

/// A body kept whole: every byte, not truncated.
pub(crate) fn whole(bytes: impl AsRef<[u8]>) -> BodyRecord {
    let bytes = bytes.as_ref();
    BodyRecord {
        bytes: Bytes::copy_from_slice(bytes),
        truncated: false,
        size: bytes.len() as u64,
    }
}

fn span_id(n: u64) -> SpanId {
    SpanId::from_bytes(n.to_be_bytes())
}

/// An inbound request with a binary body (every byte value), a non-UTF-8
/// header value and repeated headers; an outbound call whose response body
/// was truncated; an outbound call that failed with no response; and an
/// outbound call with an extension method and empty bodies.
pub(crate) fn rich_recording() -> Recording {
    let every_byte: Vec<u8> = (0..=255).collect();
    let server = Exchange {
        kind: ExchangeKind::Server,
        span_id: span_id(0x0102_0304_0506_0708),
        parent_span_id: span_id(0x00f0_67aa_0ba9_02b7),
        name: "POST /upload/{id}".to_owned(),
        route: Some("/upload/{id}".to_owned()),
        start_unix_nanos: 1_700_000_000_123_456_789,
        end_unix_nanos: 1_700_000_000_223_456_789,
        request: RequestRecord {
            method: "POST".to_owned(),
            url: "/upload/7?dry_run&tag=a%20b".to_owned(),
            headers: vec![
                header("accept", b"*/*"),
                header("x-tag", b"first"),
                header("x-raw", b"\xff\xfe caf\xc3"),
                header("x-tag", b"second"),
                header("content-type", b"application/octet-stream"),
            ],
            body: whole(&every_byte),
        },
        response: Some(ResponseRecord {
            status: 201,
            headers: vec![
                header("set-cookie", b"a=1"),
                header("content-type", b"application/json"),
                header("set-cookie", b"b=2"),
            ],
            body: whole(br#"{"ok":true}"#),
            trailers: Vec::new(),
        }),
        error: None,
    };
    let truncated = Exchange {
        kind: ExchangeKind::Client,
        span_id: span_id(0x1111_1111_1111_1111),
        parent_span_id: server.span_id,
        name: "GET".to_owned(),
        route: None,
        start_unix_nanos: 1_700_000_000_130_000_000,
        end_unix_nanos: 1_700_000_000_140_000_000,
        request: RequestRecord {
            method: "GET".to_owned(),
            url: "http://inventory:8080/items?id=3".to_owned(),
            headers: vec![header("traceparent", b"00-4bf9-01")],
            body: BodyRecord::default(),
        },
        response: Some(ResponseRecord {
            status: 200,
            headers: vec![header("content-encoding", b"gzip")],
            body: BodyRecord {
                bytes: Bytes::from_static(b"\x1f\x8b\x08\x00partial"),
                truncated: true,
                size: 5 * 1024 * 1024,
            },
            trailers: Vec::new(),
        }),
        error: None,
    };
    let failed = Exchange {
        kind: ExchangeKind::Client,
        span_id: span_id(0x2222_2222_2222_2222),
        parent_span_id: server.span_id,
        name: "PUT".to_owned(),
        route: None,
        start_unix_nanos: 1_700_000_000_150_000_000,
        end_unix_nanos: 1_700_000_000_160_000_000,
        request: RequestRecord {
            method: "PUT".to_owned(),
            url: "http://pricing:9090/prices/7".to_owned(),
            headers: Vec::new(),
            body: whole("prix: 7 €".as_bytes()),
        },
        response: None,
        error: Some("connection refused".to_owned()),
    };
    let extension = Exchange {
        kind: ExchangeKind::Client,
        span_id: span_id(0x3333_3333_3333_3333),
        parent_span_id: server.span_id,
        name: "HTTP".to_owned(),
        route: None,
        start_unix_nanos: 1_700_000_000_170_000_000,
        end_unix_nanos: 1_700_000_000_180_000_000,
        request: RequestRecord {
            method: "PURGE".to_owned(),
            url: "http://cache/".to_owned(),
            headers: Vec::new(),
            body: BodyRecord::default(),
        },
        response: Some(ResponseRecord {
            status: 204,
            headers: Vec::new(),
            body: BodyRecord::default(),
            trailers: Vec::new(),
        }),
        error: None,
    };
    Recording {
        trace_id: TraceId::from_hex(TRACE_ID).unwrap_or(TraceId::INVALID),
        service_name: "checkout".to_owned(),
        background: false,
        exchanges: vec![server, truncated, failed, extension],
    }
}

/// A start-up call made outside any request.
pub(crate) fn background_recording(trace: u128) -> Recording {
    Recording {
        trace_id: TraceId::from(trace),
        service_name: "checkout".to_owned(),
        background: true,
        exchanges: vec![Exchange {
            kind: ExchangeKind::Client,
            span_id: span_id(0x4444_4444_4444_4444),
            parent_span_id: SpanId::INVALID,
            name: "get".to_owned(),
            route: Some("/items/{id}".to_owned()),
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            request: RequestRecord {
                method: "get".to_owned(),
                url: "http://config/settings".to_owned(),
                headers: vec![header("accept", b"application/json")],
                body: BodyRecord::default(),
            },
            response: Some(ResponseRecord {
                status: 200,
                headers: Vec::new(),
                body: whole(b"{}"),
                trailers: Vec::new(),
            }),
            error: None,
        }],
    }
}

/// Recordings handed on by a recorder, kept in memory, with a signal to
/// wait on instead of sleeping.
#[derive(Clone)]
pub(crate) struct Collected {
    recordings: std::sync::Arc<std::sync::Mutex<Vec<super::Recording>>>,
    delivered: std::sync::Arc<tokio::sync::watch::Sender<usize>>,
    service: &'static str,
}

impl Collected {
    /// Recordings of a service named `service`.
    pub(crate) fn new(service: &'static str) -> Self {
        Self {
            recordings: std::sync::Arc::default(),
            delivered: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
            service,
        }
    }

    /// A recorder that hands its recordings here.
    pub(crate) fn recorder(&self, settings: &super::RecordSettings) -> super::Recorder {
        let collected = self.clone();
        super::Recorder::with_sink_fn(settings, self.service, move |recording| {
            collected.recordings.lock().unwrap().push(recording);
            collected.delivered.send_modify(|count| *count += 1);
        })
    }

    /// The recordings so far, leaving none.
    pub(crate) fn take(&self) -> Vec<super::Recording> {
        std::mem::take(&mut *self.recordings.lock().unwrap())
    }

    /// The one recording so far.
    pub(crate) fn only(&self) -> super::Recording {
        let mut recordings = self.take();
        assert_eq!(recordings.len(), 1, "{recordings:#?}");
        recordings.remove(0)
    }

    /// Waits (at most five seconds) for a recording, which a real server
    /// hands on after its client already has the response, and returns
    /// the only one.
    pub(crate) async fn wait_for_one(&self) -> super::Recording {
        let mut delivered = self.delivered.subscribe();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            delivered.wait_for(|_| !self.recordings.lock().unwrap().is_empty()),
        )
        .await
        .unwrap_or_else(|_| panic!("no recording within 5s"))
        .unwrap();
        self.only()
    }

    /// Waits (at most five seconds) until `count` recordings have come,
    /// and returns them all.
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<super::Recording> {
        let mut delivered = self.delivered.subscribe();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            delivered.wait_for(|_| self.recordings.lock().unwrap().len() >= count),
        )
        .await
        .unwrap_or_else(|_| panic!("fewer than {count} recordings within 5s"))
        .unwrap();
        self.take()
    }
}
