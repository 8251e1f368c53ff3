//! From the writer to the reader: what is recorded is what is read back,
//! and the files on disk are OTLP/JSON that other tools read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::TracesData;

use super::testing::{background_recording, rich_recording};
use super::writer::{RecordingWriter, WriterConfig};
use super::{Recording, RecordingStore, StoredRecording};

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
fn every_line_of_a_segment_is_otlp_json_traces_data() {
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

    let text = fs::read(&path).unwrap();
    let documents: Vec<TracesData> = text
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let [header, document] = documents.as_slice() else {
        panic!("expected a header and one recording, got {documents:?}");
    };
    assert!(header.resource_spans[0].scope_spans.is_empty());
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
fn a_line_damaged_on_disk_is_reported_and_the_others_read() {
    let tmp = tempfile::tempdir().unwrap();
    let writer = RecordingWriter::start(WriterConfig::new(tmp.path())).unwrap();
    for trace in 1..=3 {
        writer.try_record(background_recording(trace));
    }
    drop(writer);
    let store = RecordingStore::new(tmp.path());
    let [path] = store.paths().unwrap().try_into().unwrap();
    // The middle recording (line 3, after the header) loses its end, as
    // if something had overwritten part of it.
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let cut = &lines[2][..lines[2].len() - 10];
    lines[2] = cut;
    fs::write(&path, lines.join("\n") + "\n").unwrap();

    let loaded = store.load().unwrap();
    let traces: Vec<_> = loaded
        .recordings
        .iter()
        .map(|stored| (stored.recording.trace_id, stored.line))
        .collect();
    assert_eq!(traces, [(3_u128.into(), 4), (1_u128.into(), 2)]);
    let [err] = loaded.errors.as_slice() else {
        panic!("{:?}", loaded.errors);
    };
    assert_eq!((err.path(), err.line()), (path.as_path(), Some(3)));
    assert!(
        err.to_string()
            .starts_with("failed to read the recording on line 3 of "),
        "{err}"
    );
}

/// A directory holding files of the one-file-per-recording layout (as
/// earlier versions wrote them, and as `Recording::write_to` writes) and
/// segments reads as one store, newest first by file name.
#[test]
fn a_directory_of_both_layouts_reads_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // As the previous version named and wrote them: one document per file,
    // encoded through opentelemetry-proto's messages.
    fs::write(
        dir.join("00000000000000000001-4242-000000-00000000000000000000000000000007.json"),
        super::file::previous_version_document(&background_recording(7)),
    )
    .unwrap();
    let writer = RecordingWriter::start(WriterConfig::new(dir)).unwrap();
    writer.try_record(background_recording(8));
    writer.try_record(background_recording(9));
    drop(writer);
    // A hand-edited, pretty-printed one, newest of all.
    let pretty: serde_json::Value =
        serde_json::from_slice(&rich_recording().to_otlp_json().unwrap()).unwrap();
    fs::write(
        dir.join("99999999999999999999-1-000000-edited.json"),
        serde_json::to_vec_pretty(&pretty).unwrap(),
    )
    .unwrap();

    let store = RecordingStore::new(dir);
    let loaded = store.load().unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let read = with_lines(&loaded.recordings);
    assert_eq!(
        read,
        [
            (rich_recording(), 1),
            (background_recording(9), 3),
            (background_recording(8), 2),
            (background_recording(7), 1),
        ]
    );
    assert_eq!(store.count().unwrap(), 4);
    assert_eq!(
        loaded.recordings[3].location(),
        loaded.recordings[3].path.display().to_string()
    );
    assert!(loaded.recordings[1].location().ends_with(".jsonl:3"));
}

/// What a collector's file exporter writes: documents of several
/// recordings merged into one line, lines of other telemetry.
#[test]
fn a_collectors_output_reads_recording_by_recording() {
    let tmp = tempfile::tempdir().unwrap();
    let one: TracesData =
        serde_json::from_slice(&background_recording(1).to_otlp_json().unwrap()).unwrap();
    let two: TracesData =
        serde_json::from_slice(&rich_recording().to_otlp_json().unwrap()).unwrap();
    let mut merged = one.clone();
    merged
        .resource_spans
        .extend(two.resource_spans.iter().cloned());
    // Two recordings under one resource and scope, as a batch merges them.
    let mut same_scope = one.clone();
    same_scope.resource_spans[0].scope_spans[0].spans.extend(
        background_recording(3).to_otlp_json().ok().map(|json| {
            let doc: TracesData = serde_json::from_slice(&json).unwrap();
            doc.resource_spans[0].scope_spans[0].spans[0].clone()
        }),
    );
    let other = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},"scopeSpans":[]}]}"#;
    let text = format!(
        "{}\n{other}\n{}\n",
        serde_json::to_string(&merged).unwrap(),
        serde_json::to_string(&same_scope).unwrap()
    );
    let path = tmp.path().join("traces.jsonl");
    fs::write(&path, text).unwrap();
    let file = RecordingStore::read_file(&path);
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let read = with_lines(&file.recordings);
    assert_eq!(
        read,
        [
            (background_recording(1), 1),
            (rich_recording(), 1),
            (background_recording(1), 3),
            (background_recording(3), 3),
        ]
    );
}

/// Each recording read, with the line it was read from.
fn with_lines(read: &[StoredRecording]) -> Vec<(Recording, u64)> {
    read.iter()
        .map(|stored| (stored.recording.clone(), stored.line))
        .collect()
}
