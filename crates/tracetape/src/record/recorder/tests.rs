#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
        // The request's context is gone; only the parts keep it open.
        drop(trace);
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
    drop(trace);
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
fn a_context_holding_the_recording_keeps_it_open_for_calls_after_the_response() {
    // A task spawned with the request's context makes a call after the
    // server's exchange has finished: the call is the request's.
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let cx = Context::new().with_value(trace);
    let during = cx.get::<TraceRecording>().unwrap().part();
    // An outbound call finds the recorder's settings through it too.
    assert_eq!(
        cx.get::<TraceRecording>()
            .unwrap()
            .recorder()
            .max_body_bytes(),
        recorder.max_body_bytes()
    );
    during.finish(exchange(ExchangeKind::Client, 2));
    server.finish(exchange(ExchangeKind::Server, 1));
    assert!(delivered.lock().unwrap().is_empty(), "the context holds it");

    let spawned = cx.clone();
    drop(cx);
    let late = spawned.get::<TraceRecording>().unwrap().part();
    late.finish(exchange(ExchangeKind::Client, 3));
    assert!(delivered.lock().unwrap().is_empty(), "a clone holds it");
    drop(spawned);
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        starts(&delivered[0]),
        [
            (ExchangeKind::Server, 1),
            (ExchangeKind::Client, 2),
            (ExchangeKind::Client, 3)
        ]
    );
    assert_eq!(recorder.late_calls_dropped(), 0);
}

#[test]
fn the_last_context_dropped_before_the_last_part_closes_leaves_it_to_the_part() {
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let call = trace.part();
    drop(trace);
    server.finish(exchange(ExchangeKind::Server, 1));
    assert!(delivered.lock().unwrap().is_empty());
    call.finish(exchange(ExchangeKind::Client, 2));
    assert_eq!(delivered.lock().unwrap().len(), 1);
}

#[test]
fn a_recording_held_past_its_linger_time_is_delivered_and_later_calls_dropped() {
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let kept_forever = Context::new().with_value(trace);
    server.finish(exchange(ExchangeKind::Server, 1));
    let t0 = Instant::now();
    // Not yet: checked before the linger time is up.
    recorder.inner.lingering.sweep(t0, false);
    assert!(delivered.lock().unwrap().is_empty());

    // A call in flight when the time is up is waited for.
    let in_flight = kept_forever.get::<TraceRecording>().unwrap().part();
    recorder.inner.lingering.sweep(t0 + LINGER + LINGER, false);
    assert!(delivered.lock().unwrap().is_empty());
    in_flight.finish(exchange(ExchangeKind::Client, 2));
    assert_eq!(delivered.lock().unwrap().len(), 1);

    // A call after that is not recorded, and counted.
    let late = kept_forever.get::<TraceRecording>().unwrap().part();
    late.finish(exchange(ExchangeKind::Client, 3));
    drop(kept_forever);
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        starts(&delivered[0]),
        [(ExchangeKind::Server, 1), (ExchangeKind::Client, 2)]
    );
    assert_eq!(recorder.late_calls_dropped(), 1);
}

#[test]
fn a_lingering_recording_is_delivered_by_the_next_request_once_due() {
    let (recorder, delivered) = recorder();
    let recorder = recorder.with_linger(Duration::ZERO);
    let (trace, server) = recorder.begin(TRACE, false);
    let _kept = Context::new().with_value(trace);
    server.finish(exchange(ExchangeKind::Server, 1));
    assert!(delivered.lock().unwrap().is_empty());

    let (next, _part) = recorder.begin(TraceId::from(8_u128), false);
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].trace_id, TRACE);
    drop(next);
}

#[test]
fn flush_delivers_lingering_recordings() {
    let (recorder, delivered) = recorder();
    let mut kept = Vec::new();
    for n in 0..3_u128 {
        let (trace, server) = recorder.begin(TraceId::from(n + 1), false);
        kept.push(Context::new().with_value(trace));
        server.finish(exchange(ExchangeKind::Server, 1));
    }
    assert!(delivered.lock().unwrap().is_empty());
    recorder.flush(Duration::from_secs(1)).unwrap();
    assert_eq!(delivered.lock().unwrap().len(), 3);
    assert_eq!(recorder.inner.lingering.len(), 0);
    drop(kept);
    assert_eq!(delivered.lock().unwrap().len(), 3, "never twice");
}

#[test]
fn flush_hands_on_a_lingering_recording_once_its_call_in_flight_ends() {
    let (recorder, delivered) = recorder();
    let (trace, server) = recorder.begin(TRACE, false);
    let kept = Context::new().with_value(trace);
    server.finish(exchange(ExchangeKind::Server, 1));
    let call = kept.get::<TraceRecording>().unwrap().part();
    recorder.flush(Duration::from_secs(1)).unwrap();
    assert!(
        delivered.lock().unwrap().is_empty(),
        "its call is in flight"
    );
    call.finish(exchange(ExchangeKind::Client, 2));
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].exchanges.len(), 2);
    drop(kept);
}

#[test]
fn at_most_max_lingering_recordings_wait() {
    let (recorder, delivered) = recorder();
    let mut kept = Vec::new();
    for n in 0..(MAX_LINGERING as u128 + 10) {
        let (trace, server) = recorder.begin(TraceId::from(n + 1), false);
        kept.push(Context::new().with_value(trace));
        server.finish(exchange(ExchangeKind::Server, 1));
    }
    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 10);
    // The oldest first.
    let traces: Vec<TraceId> = delivered.iter().map(|r| r.trace_id).collect();
    let oldest: Vec<TraceId> = (1..=10_u128).map(TraceId::from).collect();
    assert_eq!(traces, oldest);
    assert_eq!(recorder.inner.lingering.len(), MAX_LINGERING);
}

#[test]
fn recordings_delivered_by_their_last_context_leave_the_lingering_list() {
    let (recorder, delivered) = recorder();
    for n in 0..(MAX_LINGERING as u128 * 2) {
        let (trace, server) = recorder.begin(TraceId::from(n + 1), false);
        let task = Context::new().with_value(trace);
        server.finish(exchange(ExchangeKind::Server, 1));
        drop(task);
    }
    // Each went when its context did, none early; the list holds the
    // last one's dead entry at most.
    assert_eq!(delivered.lock().unwrap().len(), MAX_LINGERING * 2);
    assert!(recorder.inner.lingering.len() <= 1);
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
    let (trace, part) = recorder.begin(TraceId::from(9_u128), true);
    drop(trace);
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
    drop(trace);
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

// A rule built in code that can never match was once accepted, and the
// recorder wrote what it was meant to hide.
#[test]
fn a_rule_that_can_never_match_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = RecordSettings {
        dir: tmp.path().join("recordings"),
        redact: vec![
            crate::record::RedactRule::header("x-token"),
            crate::record::RedactRule::header("x token"),
        ],
        ..RecordSettings::default()
    };
    let err = Recorder::start(&settings, "svc").unwrap_err();
    assert!(
        matches!(err, StartRecorderError::InvalidRule { index: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        crate::diag::chain(&err),
        "invalid redaction rule 1: header \"x token\" is not a header name, so the rule could \
         never match"
    );
    assert!(!settings.dir.exists(), "nothing was made");
}
