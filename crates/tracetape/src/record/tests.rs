//! From the writer to the reader: what is recorded is what is read back,
//! and the files on disk are OTLP/JSON that other tools read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::TracesData;

use super::testing::{background_recording, rich_recording};
use super::writer::{RecordingWriter, WriterConfig};
use super::{Recording, RecordingStore};

#[test]
fn written_recordings_read_back_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("recordings");
    let writer = RecordingWriter::start(WriterConfig::new(&dir)).unwrap();
    let recorded = [rich_recording(), background_recording(42)];
    for recording in &recorded {
        assert!(writer.try_record(recording.clone()));
    }
    drop(writer);

    let loaded = RecordingStore::new(&dir).load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let read: Vec<&Recording> = loaded.recordings.iter().map(|s| &s.recording).collect();
    // Newest first.
    assert_eq!(read, [&recorded[1], &recorded[0]]);
}

#[test]
fn a_written_file_is_otlp_json_traces_data() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = RecordingWriter::start(WriterConfig::new(tmp.path())).unwrap();
    let recording = rich_recording();
    writer.try_record(recording.clone());
    writer.flush(Duration::from_secs(10)).unwrap();
    let [path] = RecordingStore::new(tmp.path())
        .paths()
        .unwrap()
        .try_into()
        .unwrap();

    let document: TracesData = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let spans = &document.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), recording.exchanges.len());
    for (span, exchange) in spans.iter().zip(&recording.exchanges) {
        assert_eq!(span.trace_id, recording.trace_id.to_bytes());
        assert_eq!(span.span_id, exchange.span_id.to_bytes());
        assert_eq!(span.name, exchange.name);
        let method = span
            .attributes
            .iter()
            .find(|kv| kv.key == "http.request.method")
            .and_then(|kv| kv.value.clone());
        assert!(method.is_some(), "{span:?}");
    }
}

#[test]
fn a_file_truncated_on_disk_is_reported_and_the_others_read() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = RecordingWriter::start(WriterConfig::new(tmp.path())).unwrap();
    for trace in 1..=3 {
        writer.try_record(background_recording(trace));
    }
    writer.flush(Duration::from_secs(10)).unwrap();
    let store = RecordingStore::new(tmp.path());
    let paths = store.paths().unwrap();
    // The middle one loses its end, as after a crash of something that
    // copied it.
    let bytes = fs::read(&paths[1]).unwrap();
    fs::write(&paths[1], &bytes[..bytes.len() - 10]).unwrap();

    let loaded = store.load().unwrap();
    assert_eq!(loaded.recordings.len(), 2);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].path(), paths[1]);
}
