#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceId};

use super::*;
use crate::record::RecordingStore;
use crate::record::testing::{background_recording, rich_recording};

const TRACE: TraceId = TraceId::from_bytes([7; 16]);

/// A recorder whose recordings land in the returned list.
fn recorder_with_rate(sample_rate: f64) -> (Recorder, Arc<Mutex<Vec<Recording>>>) {
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let settings = RecordSettings {
        sample_rate,
        ..RecordSettings::default()
    };
    let recorder = Recorder::with_sink_fn(&settings, "checkout", {
        let delivered = Arc::clone(&delivered);
        move |recording| delivered.lock().unwrap().push(recording)
    });
    (recorder, delivered)
}

fn recorder() -> (Recorder, Arc<Mutex<Vec<Recording>>>) {
    recorder_with_rate(1.0)
}

fn exchange(kind: ExchangeKind, start: u64) -> Exchange {
    let mut exchange = background_recording(1).exchanges.remove(0);
    exchange.kind = kind;
    exchange.span_id = SpanId::from(start + 1);
    exchange.start_unix_nanos = start;
    exchange.end_unix_nanos = start + 5;
    exchange
}

fn starts(recording: &Recording) -> Vec<(ExchangeKind, u64)> {
    recording
        .exchanges
        .iter()
        .map(|exchange| (exchange.kind, exchange.start_unix_nanos))
        .collect()
}

#[test]
fn parts_finishing_in_any_order_deliver_once_with_every_exchange_in_order() {
    // Each permutation of three parts: the server's and two calls, the
    // second call having started before the first.
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let (recorder, delivered) = recorder();
        let (trace, server) = recorder.begin(TRACE, false);
        let mut parts = [
            Some((server, exchange(ExchangeKind::Server, 10))),
            Some((trace.part(), exchange(ExchangeKind::Client, 30))),
            Some((trace.part(), exchange(ExchangeKind::Client, 20))),
        ];
        for (n, &index) in order.iter().enumerate() {
            assert!(delivered.lock().unwrap().is_empty(), "{order:?} after {n}");
            let (part, exchange) = parts[index].take().unwrap();
            part.finish(exchange);
        }
        let delivered = delivered.lock().unwrap();
        assert_eq!(delivered.len(), 1, "{order:?}");
        let recording = &delivered[0];
        assert_eq!(recording.trace_id, TRACE);
        assert_eq!(recording.service_name, "checkout");
        assert!(!recording.background);
        assert_eq!(
            starts(recording),
            [
                (ExchangeKind::Server, 10),
                (ExchangeKind::Client, 20),
                (ExchangeKind::Client, 30)
            ],
            "{order:?}"
        );
    }
}

#[test]
fn a_dropped_part_adds_nothing_and_still_closes() {
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let failed_to_capture = trace.part();
    let call = trace.part();
    server.finish(exchange(ExchangeKind::Server, 1));
    call.finish(exchange(ExchangeKind::Client, 2));
    assert!(delivered.lock().unwrap().is_empty());
    drop(failed_to_capture);
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        starts(&delivered[0]),
        [(ExchangeKind::Server, 1), (ExchangeKind::Client, 2)]
    );
}

#[test]
fn a_recording_whose_every_part_was_dropped_delivers_nothing() {
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let call = trace.part();
    drop(server);
    drop(call);
    drop(trace);
    assert!(delivered.lock().unwrap().is_empty());
}

#[test]
fn handles_in_contexts_do_not_keep_the_recording_open() {
    // A context that outlives the request (held by a spawned task, say)
    // must not hold its recording back.
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let cx = Context::new().with_value(trace);
    let call = cx.get::<TraceRecording>().unwrap().part();
    // An outbound call finds the recorder's settings through it too.
    assert_eq!(
        cx.get::<TraceRecording>()
            .unwrap()
            .recorder()
            .max_body_bytes(),
        recorder.max_body_bytes()
    );
    call.finish(exchange(ExchangeKind::Client, 2));
    server.finish(exchange(ExchangeKind::Server, 1));
    assert_eq!(delivered.lock().unwrap().len(), 1);

    // A call started after that is not recorded, and nothing is delivered
    // again.
    let late = cx.get::<TraceRecording>().unwrap().part();
    late.finish(exchange(ExchangeKind::Client, 3));
    drop(cx);
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].exchanges.len(), 2);
}

#[test]
fn parts_finished_from_many_threads_deliver_once() {
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let barrier = Arc::new(Barrier::new(101));
    let threads: Vec<_> = (0..100_u64)
        .map(|n| {
            let trace = trace.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let part = trace.part();
                drop(trace);
                // Every part is taken before any finishes.
                barrier.wait();
                // Started in the reverse of the threads' order.
                part.finish(exchange(ExchangeKind::Client, 1000 - n));
            })
        })
        .collect();
    drop(trace);
    barrier.wait();
    server.finish(exchange(ExchangeKind::Server, 1));
    for thread in threads {
        thread.join().unwrap();
    }

    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    let starts = starts(&delivered[0]);
    assert_eq!(starts.len(), 101);
    assert_eq!(starts[0], (ExchangeKind::Server, 1));
    let calls: Vec<(ExchangeKind, u64)> = (901..=1000)
        .map(|start| (ExchangeKind::Client, start))
        .collect();
    assert_eq!(starts[1..], calls[..]);
}

#[test]
fn sample_rate_zero_never_and_one_always() {
    let (never, _) = recorder_with_rate(0.0);
    let (always, _) = recorder_with_rate(1.0);
    let (nan, _) = recorder_with_rate(f64::NAN);
    for _ in 0..10_000 {
        assert!(!never.sample());
        assert!(always.sample());
        assert!(!nan.sample());
    }
}

#[test]
fn sample_rate_one_half_records_about_half() {
    let (recorder, _) = recorder_with_rate(0.5);
    let recorded = (0..10_000).filter(|_| recorder.sample()).count();
    // Five standard deviations are 250; this allows 1000.
    assert!((4_000..=6_000).contains(&recorded), "{recorded}");
}

#[test]
fn sampling_threads_do_not_share_a_sequence() {
    let (recorder, _) = recorder_with_rate(0.5);
    let sequence = || -> Vec<bool> { (0..64).map(|_| recorder.sample()).collect() };
    let here = sequence();
    let there = thread::scope(|scope| scope.spawn(sequence).join().unwrap());
    assert_ne!(here, there);
}

#[test]
fn background_calls_are_recordings_of_their_own() {
    let (recorder, delivered) = recorder();
    recorder.record_background(TRACE, exchange(ExchangeKind::Client, 5));
    let (_trace, part) = recorder.begin(TraceId::from(9_u128), true);
    part.finish(exchange(ExchangeKind::Client, 6));

    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 2);
    for recording in delivered.iter() {
        assert!(recording.background);
        assert_eq!(recording.service_name, "checkout");
        assert_eq!(recording.exchanges.len(), 1);
        assert!(recording.inbound().is_none());
    }
    assert_eq!(delivered[0].trace_id, TRACE);
    assert_eq!(delivered[1].trace_id, TraceId::from(9_u128));
}

#[test]
fn started_recorder_writes_files_the_store_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = RecordSettings {
        dir: tmp.path().join("recordings"),
        queue: 8,
        ..RecordSettings::default()
    };
    let recorder = Recorder::start(&settings, "checkout").unwrap();
    let expected = rich_recording();
    let (trace, server) = recorder.begin(expected.trace_id, false);
    let mut exchanges = expected.exchanges.clone().into_iter();
    let server_exchange = exchanges.next().unwrap();
    // The calls finish last first, the server's exchange in the middle.
    let calls: Vec<(Part, Exchange)> = exchanges.map(|e| (trace.part(), e)).collect();
    let mut calls = calls.into_iter().rev();
    let (part, call) = calls.next().unwrap();
    part.finish(call);
    server.finish(server_exchange);
    for (part, call) in calls {
        part.finish(call);
    }
    recorder.record_background(TraceId::from(42_u128), {
        background_recording(42).exchanges.remove(0)
    });
    recorder.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (recorder.written(), recorder.failed(), recorder.dropped()),
        (2, 0, 0)
    );

    let loaded = RecordingStore::new(&settings.dir).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let read: Vec<&Recording> = loaded.recordings.iter().map(|s| &s.recording).collect();
    // Newest first, and redacted on the way (the fixture carries
    // `Set-Cookie` headers).
    // The key is the one the recorder left beside the recordings.
    let key = crate::record::RedactionKey::load_or_create(&settings.dir).unwrap();
    let redactor = crate::record::Redactor::new(Vec::new(), key);
    let redact = |recording| redactor.apply(recording).unwrap();
    assert_eq!(read, [&redact(background_recording(42)), &redact(expected)]);
}

#[test]
fn recorder_and_trace_recording_can_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Recorder>();
    send_sync::<TraceRecording>();
    send_sync::<Part>();
}
