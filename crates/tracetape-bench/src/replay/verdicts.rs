//! What `tracetape replay --format json` reported for one round (the
//! fields are described in docs/replay-report.md), and the check that
//! every recording passed with all of its calls answered.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// Recordings that did not pass, described at most, when a round fails.
const FAILURES_SHOWN: usize = 5;

/// One round's JSON report, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Verdicts {
    /// `duration_ms`: from the readiness probe to the last verdict.
    pub(crate) window: Duration,
    pub(crate) selected: u64,
    pub(crate) totals: Totals,
    pub(crate) interrupted: bool,
    pub(crate) service_failure: Option<String>,
    /// Outbound calls answered at each match level (`levels`).
    pub(crate) levels: BTreeMap<String, u64>,
    /// Outbound calls no recorded call answered (`unmatched_calls`).
    pub(crate) unmatched: u64,
    /// The outbound calls of each recording, as the replay log told them.
    pub(crate) calls: Vec<usize>,
    /// Each recording's time from sending to the last byte of the
    /// response, milliseconds, sorted.
    pub(crate) latencies_ms: Vec<f64>,
    /// The recordings that did not pass, one line each (the first few).
    pub(crate) failures: Vec<String>,
}

/// `totals`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) recordings: u64,
    pub(crate) passed: u64,
    pub(crate) deviated: u64,
    pub(crate) mock_missing: u64,
    pub(crate) errored: u64,
}

fn count(value: &Value, field: &str) -> anyhow::Result<u64> {
    value[field]
        .as_u64()
        .with_context(|| format!("the report has no count {field:?}"))
}

impl Verdicts {
    /// Reads the JSON report.
    pub(crate) fn parse(json: &[u8]) -> anyhow::Result<Self> {
        let report: Value = serde_json::from_slice(json).context("the report is not JSON")?;
        let duration_ms = report["duration_ms"]
            .as_f64()
            .context("the report has no duration_ms")?;
        let totals = &report["totals"];
        let recordings = report["recordings"]
            .as_array()
            .context("the report has no recordings array")?;
        let mut latencies_ms: Vec<f64> = recordings
            .iter()
            .filter_map(|recording| recording["duration_ms"].as_f64())
            .collect();
        latencies_ms.sort_by(f64::total_cmp);
        let levels = report["levels"]
            .as_object()
            .map(|levels| {
                levels
                    .iter()
                    .filter_map(|(level, n)| Some((level.clone(), n.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Verdicts {
            window: Duration::try_from_secs_f64(duration_ms / 1000.0)
                .with_context(|| format!("duration_ms {duration_ms}"))?,
            selected: count(&report, "selected")?,
            totals: Totals {
                recordings: count(totals, "recordings")?,
                passed: count(totals, "passed")?,
                deviated: count(totals, "deviated")?,
                mock_missing: count(totals, "mock_missing")?,
                errored: count(totals, "errored")?,
            },
            interrupted: report["interrupted"].as_bool().unwrap_or(false),
            service_failure: report["service_failure"].as_str().map(str::to_owned),
            levels,
            unmatched: report["unmatched_calls"].as_u64().unwrap_or(0),
            calls: recordings
                .iter()
                .map(|recording| recording["calls"].as_array().map_or(0, Vec::len))
                .collect(),
            latencies_ms,
            failures: recordings
                .iter()
                .filter(|recording| recording["outcome"] != "passed")
                .take(FAILURES_SHOWN)
                .map(describe_failure)
                .collect(),
        })
    }

    /// Fails unless all `expected` recordings were replayed and passed,
    /// each with `calls_each` outbound calls answered from its recording.
    pub(crate) fn check(&self, expected: u64, calls_each: usize) -> anyhow::Result<()> {
        let totals = self.totals;
        let mut problems = Vec::new();
        if self.interrupted {
            problems.push("the replay was interrupted".to_owned());
        }
        if let Some(why) = &self.service_failure {
            problems.push(format!("the service failed: {why}"));
        }
        if self.selected != expected
            || totals.recordings != expected
            || self.calls.len() as u64 != expected
        {
            problems.push(format!(
                "{expected} recordings made, {} selected, {} replayed, {} reported",
                self.selected,
                totals.recordings,
                self.calls.len()
            ));
        }
        if totals.passed != totals.recordings {
            problems.push(format!(
                "{} passed, {} deviated, {} mock missing, {} errored",
                totals.passed, totals.deviated, totals.mock_missing, totals.errored
            ));
        }
        let short = self.calls.iter().filter(|&&n| n != calls_each).count();
        if short > 0 || self.unmatched > 0 {
            problems.push(format!(
                "{short} recordings did not make {calls_each} outbound calls; {} calls had no \
                 recorded answer",
                self.unmatched
            ));
        }
        if problems.is_empty() {
            return Ok(());
        }
        let mut message = format!("the replay did not pass: {}", problems.join("; "));
        for failure in &self.failures {
            message.push_str(&format!("\n  {failure}"));
        }
        bail!(message)
    }

    /// Recordings replayed per second of the window.
    pub(crate) fn rate(&self) -> f64 {
        self.totals.recordings as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// The `p`-th quantile (0 to 1) of the per-recording latencies.
    pub(crate) fn latency_ms(&self, p: f64) -> Option<f64> {
        let n = self.latencies_ms.len();
        if n == 0 {
            return None;
        }
        let rank = ((n as f64) * p).ceil() as usize;
        self.latencies_ms.get(rank.clamp(1, n) - 1).copied()
    }

    /// Outbound calls answered from the recordings, in all.
    pub(crate) fn answered(&self) -> u64 {
        self.levels.values().sum()
    }
}

/// `{id} {method} {route}: {outcome}: {what went wrong first}`.
fn describe_failure(recording: &Value) -> String {
    let text = |value: &Value| value.as_str().unwrap_or("?").to_owned();
    let call = |call: &Value| format!("{} {}", text(&call["method"]), text(&call["url"]));
    let why = if let Some(error) = recording["error"].as_str() {
        error.to_owned()
    } else if let Some(missing) = recording["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|call| call["level"].is_null()))
    {
        format!("mock missing: {}", call(missing))
    } else if let Some(unused) = recording["unused_calls"]
        .as_array()
        .and_then(|unused| unused.first())
    {
        format!("mock unused: {}", call(unused))
    } else if let Some(deviation) = recording["deviations"]
        .as_array()
        .and_then(|deviations| deviations.first())
    {
        text(&deviation["message"])
    } else {
        "no detail".to_owned()
    };
    format!(
        "{} {} {}: {}: {why}",
        text(&recording["id"]),
        text(&recording["method"]),
        text(&recording["route"]),
        text(&recording["outcome"])
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn recording(id: &str, outcome: &str, duration_ms: f64, levels: &[Value]) -> Value {
        let calls: Vec<Value> = levels
            .iter()
            .map(|level| json!({"method": "GET", "url": "http://dep/customers/7", "level": level}))
            .collect();
        json!({
            "id": id, "method": "POST", "route": "/orders", "outcome": outcome,
            "duration_ms": duration_ms, "error": null, "deviations": [],
            "calls": calls, "unused_calls": [],
        })
    }

    fn report(recordings: Vec<Value>, passed: u64, mock_missing: u64, unmatched: u64) -> Vec<u8> {
        json!({
            "version": 1, "duration_ms": 250.0, "selected": recordings.len(),
            "interrupted": false, "service_failure": null,
            "totals": {"recordings": recordings.len(), "passed": passed, "deviated": 0,
                       "mock_missing": mock_missing, "errored": 0},
            "levels": {"exact": 5, "redacted": 0, "similar": 0},
            "unmatched_calls": unmatched,
            "recordings": recordings,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_passing_report_is_read_and_checked() -> anyhow::Result<()> {
        let three = [json!("exact"), json!("exact"), json!("exact")];
        let verdicts = Verdicts::parse(&report(
            vec![
                recording("a-1", "passed", 3.0, &three),
                recording("b-2", "passed", 1.0, &three),
            ],
            2,
            0,
            0,
        ))?;
        assert_eq!(verdicts.window, Duration::from_millis(250));
        assert_eq!(verdicts.totals.passed, 2);
        assert_eq!(verdicts.latencies_ms, [1.0, 3.0]);
        assert_eq!(verdicts.latency_ms(0.5), Some(1.0));
        assert_eq!(verdicts.latency_ms(0.99), Some(3.0));
        assert!((verdicts.rate() - 8.0).abs() < 1e-9);
        assert_eq!(verdicts.answered(), 5);
        verdicts.check(2, 3)?;
        // Another count of recordings, or of calls, fails.
        assert!(verdicts.check(3, 3).is_err());
        assert!(verdicts.check(2, 2).is_err());
        Ok(())
    }

    #[test]
    fn a_failing_report_names_what_failed() -> anyhow::Result<()> {
        let verdicts = Verdicts::parse(&report(
            vec![
                recording("a-1", "passed", 3.0, &[json!("exact")]),
                recording("b-2", "mock-missing", 1.0, &[json!("exact"), Value::Null]),
            ],
            1,
            1,
            1,
        ))?;
        let err = verdicts
            .check(2, 2)
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with(
                "the replay did not pass: 1 passed, 0 deviated, 1 mock missing, 0 errored; 1 \
                 recordings did not make 2 outbound calls; 1 calls had no recorded answer"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "\n  b-2 POST /orders: mock-missing: mock missing: GET http://dep/customers/7"
            ),
            "{err}"
        );
        assert!(Verdicts::parse(b"{}").is_err());
        Ok(())
    }
}
