//! The report as one JSON document. Every field is described in
//! docs/replay-report.md, and docs/replay-report.schema.json is its JSON
//! Schema; change all three together (a test checks reports against the
//! schema). Absent values are `null`, never left out.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use tracetape::replay::matching::CallDifference;
use tracetape::replay::{LoggedCall, LoggedUnused};

use super::super::outcome::Replayed;
use super::Report;
use super::summary::Counts;

/// The report format's version: a new field keeps it, a changed or
/// removed one raises it.
const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    version: u32,
    service: &'a str,
    base_url: &'a str,
    recordings_dir: String,
    interrupted: bool,
    duration_ms: f64,
    selected: usize,
    totals: JsonCounts,
    routes: Vec<JsonRoute>,
    levels: BTreeMap<&'static str, usize>,
    unmatched_calls: usize,
    service_restarts: usize,
    service_failure: Option<&'a str>,
    service_log: Option<String>,
    recordings: Vec<JsonRecording<'a>>,
    skipped: Vec<JsonSkipped<'a>>,
    unpatched_detection: bool,
    unpatched_ignored: usize,
    unpatched: Vec<JsonUnpatched<'a>>,
    /// The run passed: every recording, the calls outside them, and no
    /// connection around tracetape that fails it.
    passed: bool,
    background: JsonBackground<'a>,
}

/// The calls made outside the replayed requests.
#[derive(Debug, Serialize)]
struct JsonBackground<'a> {
    /// Whether the service told them.
    checked: bool,
    /// Why not.
    unknown: Option<&'a str>,
    failed: bool,
    pending: usize,
    /// Replayed requests with calls after their response not told.
    late_omitted: usize,
    calls: Vec<JsonCall<'a>>,
    omitted_calls: usize,
    omitted_unmatched: usize,
    /// Recorded calls made once (at start-up) that nothing made.
    unused_calls: Vec<JsonUnused<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonUnpatched<'a> {
    kind: &'a str,
    address: Option<&'a str>,
    port: Option<u16>,
    host: Option<&'a str>,
    pid: u32,
    /// The command line of a process the service started, which made it.
    child_command: Option<&'a str>,
    blocked: bool,
    frames: &'a [String],
    recordings: Vec<String>,
    /// When no request is known to have made it: those in flight then.
    in_flight: Vec<String>,
}

#[derive(Debug, Serialize)]
struct JsonCounts {
    recordings: usize,
    passed: usize,
    deviated: usize,
    mock_missing: usize,
    errored: usize,
}

impl From<Counts> for JsonCounts {
    fn from(counts: Counts) -> Self {
        Self {
            recordings: counts.total(),
            passed: counts.passed,
            deviated: counts.deviated,
            mock_missing: counts.mock_missing,
            errored: counts.errored,
        }
    }
}

#[derive(Debug, Serialize)]
struct JsonRoute {
    request: String,
    counts: JsonCounts,
}

#[derive(Debug, Serialize)]
struct JsonRecording<'a> {
    id: String,
    trace_id: String,
    file: String,
    /// The line of `file` holding the recording.
    line: u64,
    method: &'a str,
    route: &'a str,
    target: &'a str,
    outcome: &'static str,
    duration_ms: f64,
    recorded_status: Option<u16>,
    status: Option<u16>,
    error: Option<&'a str>,
    recording_unknown: bool,
    deviations: Vec<JsonDeviation<'a>>,
    /// Deviations past the comparison's limit, not listed.
    omitted_deviations: usize,
    calls: Vec<JsonCall<'a>>,
    omitted_calls: usize,
    omitted_unmatched: usize,
    /// Of `calls`, those made after the response.
    late_calls: usize,
    unused_calls: Vec<JsonUnused<'a>>,
    /// Unused recorded calls past the replay log's limits, not listed.
    omitted_unused: usize,
}

#[derive(Debug, Serialize)]
struct JsonDeviation<'a> {
    kind: String,
    change: String,
    path: Option<&'a str>,
    header: Option<&'a str>,
    message: &'a str,
    expected: Option<&'a str>,
    actual: Option<&'a str>,
    detail: Option<&'a str>,
    suggestion: &'a str,
}

#[derive(Debug, Serialize)]
struct JsonCall<'a> {
    method: &'a str,
    url: &'a str,
    level: Option<&'static str>,
    index: Option<usize>,
    reused: bool,
    /// The recorded call that answered, by method and URL.
    answered_by: Option<JsonRecordedCall<'a>>,
    /// At the similar level: the call deviates.
    deviates: bool,
    differences: &'a [CallDifference],
}

#[derive(Debug, Serialize)]
struct JsonRecordedCall<'a> {
    method: &'a str,
    url: &'a str,
}

#[derive(Debug, Serialize)]
struct JsonUnused<'a> {
    index: usize,
    method: &'a str,
    url: &'a str,
}

#[derive(Debug, Serialize)]
struct JsonSkipped<'a> {
    file: String,
    reason: &'a str,
    /// The file could not be read (`--skip-unreadable`).
    unreadable: bool,
}

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let summary = report.summary();
    let json = JsonReport {
        version: VERSION,
        service: &report.service,
        base_url: &report.base_url,
        recordings_dir: report.recordings.display().to_string(),
        interrupted: report.interrupted,
        duration_ms: millis(report.duration),
        selected: report.selected,
        totals: summary.totals.into(),
        routes: summary
            .routes
            .into_iter()
            .map(|(request, counts)| JsonRoute {
                request,
                counts: counts.into(),
            })
            .collect(),
        levels: summary.levels,
        unmatched_calls: summary.unmatched,
        service_restarts: report.restarts,
        service_failure: report.service_failure.as_deref(),
        service_log: report
            .service_log
            .as_ref()
            .map(|log| log.display().to_string()),
        recordings: report.results.iter().map(recording).collect(),
        skipped: report
            .skipped
            .iter()
            .map(|skipped| JsonSkipped {
                file: skipped.path.display().to_string(),
                reason: &skipped.reason,
                unreadable: skipped.unreadable,
            })
            .collect(),
        unpatched_detection: report.unpatched.active,
        unpatched_ignored: report.unpatched.ignored,
        unpatched: report
            .unpatched
            .findings
            .iter()
            .map(|finding| JsonUnpatched {
                kind: &finding.kind,
                address: finding.address.as_deref(),
                port: finding.port,
                host: finding.host.as_deref(),
                pid: finding.pid,
                child_command: finding.child.as_deref(),
                blocked: finding.blocked,
                frames: &finding.frames,
                recordings: finding
                    .during
                    .iter()
                    .map(|candidate| candidate.id.to_string())
                    .collect(),
                in_flight: finding
                    .in_flight
                    .iter()
                    .map(|candidate| candidate.id.to_string())
                    .collect(),
            })
            .collect(),
        passed: report.passed(),
        background: background(report),
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

fn recording(result: &Replayed) -> JsonRecording<'_> {
    JsonRecording {
        id: result.id.to_string(),
        trace_id: result.id.trace_id.to_string(),
        file: result.file.display().to_string(),
        line: result.line,
        method: &result.method,
        route: &result.route,
        target: &result.target,
        outcome: result.outcome.as_str(),
        duration_ms: millis(result.duration),
        recorded_status: result.recorded_status,
        status: result.status,
        error: result.error.as_deref(),
        recording_unknown: result.recording_unknown,
        deviations: result
            .deviations
            .iter()
            .map(|deviation| JsonDeviation {
                kind: name(deviation.kind),
                change: name(deviation.change),
                path: deviation.path.as_deref(),
                header: deviation.header.as_deref(),
                message: &deviation.message,
                expected: deviation.expected.as_deref(),
                actual: deviation.actual.as_deref(),
                detail: deviation.detail.as_deref(),
                suggestion: &deviation.suggestion,
            })
            .collect(),
        omitted_deviations: result.omitted_deviations,
        calls: result
            .calls
            .iter()
            .map(|call| {
                json_call(
                    call,
                    result.answered_by(call).map(|recorded| JsonRecordedCall {
                        method: &recorded.method,
                        url: &recorded.url,
                    }),
                )
            })
            .collect(),
        omitted_calls: result.omitted_calls,
        omitted_unmatched: result.omitted_unmatched,
        late_calls: result.late_calls,
        unused_calls: json_unused(&result.unused),
        omitted_unused: result.omitted_unused,
    }
}

fn json_unused(unused: &[LoggedUnused]) -> Vec<JsonUnused<'_>> {
    unused
        .iter()
        .map(|unused| JsonUnused {
            index: unused.index,
            method: &unused.method,
            url: &unused.url,
        })
        .collect()
}

fn json_call<'a>(call: &'a LoggedCall, answered_by: Option<JsonRecordedCall<'a>>) -> JsonCall<'a> {
    JsonCall {
        method: &call.method,
        url: &call.url,
        level: call.level.map(|level| level.as_str()),
        index: call.index,
        reused: call.reused,
        answered_by,
        deviates: call.deviates(),
        differences: &call.differences,
    }
}

fn background(report: &Report) -> JsonBackground<'_> {
    match &report.background {
        Some(background) => JsonBackground {
            checked: true,
            unknown: None,
            failed: background.fails(),
            pending: background.pending,
            late_omitted: background.late_omitted,
            calls: background
                .log
                .calls
                .iter()
                .map(|call| json_call(call, None))
                .collect(),
            omitted_calls: background.log.omitted_calls,
            omitted_unmatched: background.log.omitted_unmatched,
            unused_calls: json_unused(&background.log.unused),
        },
        None => JsonBackground {
            checked: false,
            unknown: report.background_unknown.as_deref(),
            failed: false,
            pending: 0,
            late_omitted: 0,
            calls: Vec::new(),
            omitted_calls: 0,
            omitted_unmatched: 0,
            unused_calls: Vec::new(),
        },
    }
}

/// A duration in milliseconds, to the microsecond.
fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The name a library enum serializes as (`body`, `type-changed`).
fn name(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// The JSON Schema check the integration tests run reports through.
#[cfg(test)]
#[path = "../../../tests/replay_support/schema.rs"]
#[allow(unreachable_pub, dead_code, clippy::unwrap_used)]
mod schema;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::super::super::unpatched::{Candidate, Finding, Unpatched};
    use super::schema;
    use super::*;

    fn finding(
        kind: &str,
        address: Option<&str>,
        port: Option<u16>,
        host: Option<&str>,
    ) -> Finding {
        Finding {
            kind: kind.to_owned(),
            address: address.map(str::to_owned),
            port,
            host: host.map(str::to_owned),
            pid: 7,
            child: None,
            blocked: kind != "udp",
            frames: vec!["svc::f at src/main.rs:1".to_owned()],
            during: vec![Candidate {
                id: "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
                    .parse()
                    .unwrap(),
                request: "POST /orders".to_owned(),
            }],
            in_flight: Vec::new(),
        }
    }

    #[test]
    fn findings_of_every_kind_are_in_the_report_and_match_the_schema() {
        let report = Report {
            service: "orders".to_owned(),
            base_url: "http://127.0.0.1:8081/".to_owned(),
            recordings: PathBuf::from("/recordings"),
            selected: 0,
            results: Vec::new(),
            skipped: Vec::new(),
            duration: Duration::from_millis(5),
            interrupted: false,
            restarts: 0,
            service_failure: None,
            service_log: None,
            unpatched: Unpatched {
                active: true,
                findings: vec![
                    finding("tcp", Some("127.0.0.1"), Some(5432), None),
                    finding("udp", Some("::1"), Some(8125), None),
                    finding("dns", None, None, Some("localhost")),
                    finding("dns", Some("127.0.0.53"), Some(53), Some("db.internal")),
                ],
                ignored: 0,
            },
            fail_on_unpatched: false,
            background: None,
            background_unknown: None,
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let written: Value = serde_json::from_slice(&out).unwrap();
        let schema: Value = serde_json::from_str(include_str!(
            "../../../../../docs/replay-report.schema.json"
        ))
        .unwrap();
        assert_eq!(schema::violations(&schema, &written), Vec::<String>::new());
        let fields: Vec<Value> = written["unpatched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!([f["kind"], f["address"], f["port"], f["host"], f["blocked"]]))
            .collect();
        assert_eq!(
            fields,
            [
                json!(["tcp", "127.0.0.1", 5432, null, true]),
                json!(["udp", "::1", 8125, null, false]),
                json!(["dns", null, null, "localhost", true]),
                json!(["dns", "127.0.0.53", 53, "db.internal", true]),
            ]
        );
        // A kind the schema does not know fails the check.
        let mut unknown = written.clone();
        unknown["unpatched"][0]["kind"] = json!("sctp");
        assert_eq!(schema::violations(&schema, &unknown).len(), 1);
    }
}
