//! What a `tracetape replay --format json` report says (the fields are in
//! docs/replay-report.md), as findings: each deviation, each call with no
//! recorded answer, each recorded call left unused, each errored
//! recording, each unpatched connection; and whether a changed build's
//! findings name the change at its right place.
//!
//! Call findings are looked for wherever the report names a call by URL:
//! in a recording's `calls` (`level: null`: no recorded answer; a
//! non-empty `deviations`: a deviation of the call), its `unused_calls`,
//! a deviation that names a URL, and any other part of the report whose
//! key says unused, missing, unanswered, unmatched or deviation (start-up
//! and background calls belong to no request), so that reports that name
//! more than today's still count.

use std::collections::HashSet;

use serde_json::Value;

use super::change::{Change, Expect, Place};

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    Status,
    /// A response header, lower-case.
    Header(String),
    /// The body; the JSON path when there is one.
    Body(Option<String>),
    /// An outbound call: `how` it is wrong (mock missing, mock unused, call
    /// deviation), its method and its URL's path (no query).
    Call {
        how: &'static str,
        method: String,
        path: String,
    },
    /// The recording errored (no response to judge).
    Error,
    /// A connection or resolution around tracetape's clients.
    Unpatched,
}

/// One thing a report says is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// The replay id; empty outside any recording.
    pub(crate) recording: String,
    /// `METHOD route` of the recording; `(outside requests)` otherwise.
    pub(crate) request: String,
    pub(crate) found: Found,
    /// What the report said, one line.
    pub(crate) message: String,
}

/// Outside any recording.
const OUTSIDE: &str = "(outside requests)";

impl Finding {
    /// The place, as one string: `status`, `header x`, `$.path`, `body`,
    /// `mock missing GET /path`, `errored`, `unpatched`.
    pub(crate) fn place(&self) -> String {
        match &self.found {
            Found::Status => "status".to_owned(),
            Found::Header(name) => format!("header {name}"),
            Found::Body(Some(path)) => path.clone(),
            Found::Body(None) => "body".to_owned(),
            Found::Call { how, method, path } => format!("{how} {method} {path}"),
            Found::Error => "errored".to_owned(),
            Found::Unpatched => "unpatched".to_owned(),
        }
    }

    /// What identifies it across runs of one set of recordings: the
    /// request and the place, array indices left out. Not the recording:
    /// what the unchanged build reports varies from run to run (which
    /// concurrent call got which answer), so a place where any recording
    /// of a request deviated when nothing changed cannot tell a change.
    pub(crate) fn key(&self) -> String {
        format!("{} {}", self.request, any_index(&self.place()))
    }

    /// `GET /quote $.bikes_available: message`.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}: {}", self.request, self.place(), self.message)
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The path of a URL, without scheme, host or query.
fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = match rest.find('/') {
        Some(at) if url.contains("://") => &rest[at..],
        Some(_) | None if url.contains("://") => "/",
        _ => rest,
    };
    path.split(['?', '#']).next().unwrap_or_default().to_owned()
}

fn call_finding(
    recording: &str,
    request: &str,
    how: &'static str,
    call: &Value,
    message: String,
) -> Finding {
    let call = if call.get("url").is_some() {
        call
    } else {
        &call["call"]
    };
    Finding {
        recording: recording.to_owned(),
        request: request.to_owned(),
        found: Found::Call {
            how,
            method: text(&call["method"]).to_owned(),
            path: url_path(text(&call["url"])),
        },
        message,
    }
}

/// Whether the report says the call deviates: answered by a recorded
/// call that is not the same call (`deviates`, with its `differences`).
fn has_deviations(call: &Value) -> bool {
    call["deviates"] == true || call["deviations"].as_array().is_some_and(|d| !d.is_empty())
}

/// The first way a deviating call differs, as the report words it.
fn first_difference(call: &Value) -> String {
    let difference = &call["differences"][0];
    if difference.is_object() {
        format!(
            "{} {}: expected {}, actual {}",
            text(&difference["part"]),
            text(&difference["at"]),
            difference["expected"].as_str().unwrap_or("nothing"),
            difference["actual"].as_str().unwrap_or("nothing")
        )
    } else {
        text(&call["deviations"][0]["message"]).to_owned()
    }
}

/// The findings of one recording of the report.
fn recording_findings(recording: &Value, out: &mut Vec<Finding>) {
    let id = text(&recording["id"]);
    let request = format!(
        "{} {}",
        text(&recording["method"]),
        text(&recording["route"])
    );
    let finding = |found: Found, message: String| Finding {
        recording: id.to_owned(),
        request: request.clone(),
        found,
        message,
    };
    if recording["outcome"] == "errored" || recording["recording_unknown"] == true {
        let why = recording["error"]
            .as_str()
            .unwrap_or("the recording was unknown");
        out.push(finding(Found::Error, why.to_owned()));
    }
    for deviation in recording["deviations"].as_array().into_iter().flatten() {
        let message = text(&deviation["message"]).to_owned();
        if deviation.get("url").is_some_and(Value::is_string)
            || deviation["call"].get("url").is_some()
            || deviation["kind"] == "call"
        {
            out.push(call_finding(
                id,
                &request,
                "call deviation",
                deviation,
                message,
            ));
            continue;
        }
        let found = match text(&deviation["kind"]) {
            "status" => Found::Status,
            "header" => Found::Header(text(&deviation["header"]).to_ascii_lowercase()),
            _ => Found::Body(deviation["path"].as_str().map(str::to_owned)),
        };
        out.push(finding(found, message));
    }
    for call in recording["calls"].as_array().into_iter().flatten() {
        let described = format!("{} {}", text(&call["method"]), text(&call["url"]));
        if call.get("level").is_some_and(Value::is_null) {
            out.push(call_finding(
                id,
                &request,
                "mock missing",
                call,
                format!("mock missing: {described}"),
            ));
        } else if has_deviations(call) {
            let first = first_difference(call);
            out.push(call_finding(
                id,
                &request,
                "call deviation",
                call,
                format!("call deviation: {described}: {first}"),
            ));
        }
    }
    for unused in recording["unused_calls"].as_array().into_iter().flatten() {
        let described = format!("{} {}", text(&unused["method"]), text(&unused["url"]));
        out.push(call_finding(
            id,
            &request,
            "mock unused",
            unused,
            format!("mock unused: {described}"),
        ));
    }
}

/// Calls named by URL outside the recordings, where the key path says
/// they went wrong.
fn outside_findings(value: &Value, keys: &str, out: &mut Vec<Finding>) {
    match value {
        Value::Object(fields) => {
            let wrong = ["unused", "missing", "unanswered", "unmatched", "deviation"]
                .iter()
                .any(|word| keys.contains(word));
            if fields.get("url").is_some_and(Value::is_string)
                && (wrong
                    || fields.get("level").is_some_and(Value::is_null)
                    || has_deviations(value))
            {
                let how = if keys.contains("unused") {
                    "mock unused"
                } else if fields.get("level").is_some_and(Value::is_null)
                    || keys.contains("missing")
                    || keys.contains("unanswered")
                    || keys.contains("unmatched")
                {
                    "mock missing"
                } else {
                    "call deviation"
                };
                let message = format!(
                    "{how} ({}): {} {}",
                    keys.trim_start_matches('.'),
                    text(&value["method"]),
                    text(&value["url"])
                );
                out.push(call_finding("", OUTSIDE, how, value, message));
                return;
            }
            for (key, field) in fields {
                outside_findings(field, &format!("{keys}.{key}"), out);
            }
        }
        Value::Array(items) => {
            for item in items {
                outside_findings(item, keys, out);
            }
        }
        _ => {}
    }
}

/// Everything `report` says went wrong.
pub(crate) fn findings(report: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for recording in report["recordings"].as_array().into_iter().flatten() {
        recording_findings(recording, &mut out);
    }
    if let Some(fields) = report.as_object() {
        for (key, value) in fields {
            if !matches!(
                key.as_str(),
                "recordings" | "routes" | "skipped" | "levels" | "totals" | "unpatched"
            ) {
                outside_findings(value, &format!(".{key}"), &mut out);
            }
        }
    }
    for unpatched in report["unpatched"].as_array().into_iter().flatten() {
        let recordings: Vec<&str> = unpatched["recordings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        out.push(Finding {
            recording: recordings.first().copied().unwrap_or_default().to_owned(),
            request: OUTSIDE.to_owned(),
            found: Found::Unpatched,
            message: format!(
                "{} {}:{} {}",
                text(&unpatched["kind"]),
                unpatched["address"],
                unpatched["port"],
                if unpatched["blocked"] == true {
                    "blocked"
                } else {
                    "allowed"
                }
            ),
        });
    }
    out
}

/// `$.options[0].kind` as `$.options[*].kind`.
fn any_index(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].bytes().all(|b| b.is_ascii_digit()) && close > 0 => {
                out.push_str("[*]");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `finding` is at `place`.
pub(crate) fn at_place(place: Place, finding: &Finding) -> bool {
    match (place, &finding.found) {
        (Place::Status, Found::Status) => true,
        (Place::Header(name), Found::Header(found)) => found.eq_ignore_ascii_case(name),
        (Place::Path(path), Found::Body(Some(found))) => any_index(found) == any_index(path),
        (Place::Under(path), Found::Body(Some(found))) => {
            let found = any_index(found);
            found
                .strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        }
        (Place::Field(field), Found::Body(Some(found))) => found.contains(field),
        (Place::Body, Found::Body(_)) => true,
        (
            Place::Call { method, path },
            Found::Call {
                method: m, path: p, ..
            },
        ) => m.eq_ignore_ascii_case(method) && p.starts_with(path),
        _ => false,
    }
}

/// How a changed build's replay was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The report had findings the unchanged runs did not.
    pub(crate) caught: bool,
    /// One of those is at the change's right place.
    pub(crate) right_place: bool,
    /// Findings the unchanged runs did not have.
    pub(crate) new: usize,
    /// What the report said: the finding at the right place, else the
    /// first new one, else why nothing counts.
    pub(crate) said: String,
}

/// Judges a changed build's `findings`, leaving out those whose
/// [`Finding::key`] is in `noise` (the request and place of anything the
/// unchanged build's replays reported: a change cannot be told from it
/// there).
pub(crate) fn judge(change: Change, findings: &[Finding], noise: &HashSet<String>) -> Verdict {
    let new: Vec<&Finding> = findings
        .iter()
        .filter(|finding| !noise.contains(&finding.key()))
        .collect();
    let at_its_place = |finding: &&Finding| match change.expect() {
        Expect::Caught { request, place } => {
            at_place(place, finding) && request.is_none_or(|r| r == finding.request)
        }
        Expect::Nothing => false,
    };
    let right = new.iter().copied().find(at_its_place);
    let masked = findings.iter().find(at_its_place);
    let said = match (right, new.first().copied()) {
        (Some(finding), _) | (None, Some(finding)) => finding.describe(),
        (None, None) if findings.is_empty() => "passed".to_owned(),
        (None, None) if masked.is_some() => format!(
            "masked: {} (the unchanged build deviates there too)",
            masked.map(Finding::describe).unwrap_or_default()
        ),
        (None, None) => format!(
            "only what the unchanged build also showed ({} findings)",
            findings.len()
        ),
    };
    Verdict {
        caught: !new.is_empty(),
        right_place: right.is_some(),
        new: new.len(),
        said,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(recordings: Vec<Value>) -> Value {
        json!({ "version": 1, "recordings": recordings, "unpatched": [] })
    }

    fn deviated(id: &str, route: &str, deviations: Value) -> Value {
        json!({
            "id": id, "method": "POST", "route": route, "outcome": "deviated",
            "error": null, "recording_unknown": false, "deviations": deviations,
            "calls": [], "unused_calls": [],
        })
    }

    #[test]
    fn a_deviation_at_due_date_is_the_date_arithmetic_change_at_its_place() {
        let report = report(vec![deviated(
            "t-1",
            "/rentals",
            json!([{ "kind": "body", "change": "changed", "path": "$.due_date", "header": null,
                     "message": "expected 2027-01-05, actual 2026-12-20" }]),
        )]);
        let found = findings(&report);
        assert_eq!(found.len(), 1);
        let verdict = judge(Change::DateArithmetic, &found, &HashSet::new());
        assert!(verdict.caught && verdict.right_place, "{verdict:?}");
        // Elsewhere in the body it is caught, not at the right place.
        let verdict = judge(Change::Rounding, &found, &HashSet::new());
        assert!(verdict.caught && !verdict.right_place, "{verdict:?}");
        // What the unchanged build also showed does not count.
        let noise = found.iter().map(Finding::key).collect();
        let verdict = judge(Change::DateArithmetic, &found, &noise);
        assert!(!verdict.caught && !verdict.right_place, "{verdict:?}");
        assert!(
            verdict.said.starts_with("masked: POST /rentals $.due_date"),
            "{verdict:?}"
        );
    }

    #[test]
    fn array_paths_match_any_index_and_below() {
        let report = report(vec![json!({
            "id": "t-2", "method": "GET", "route": "/quote", "outcome": "deviated",
            "deviations": [
                { "kind": "header", "header": "X-Quote-Version", "path": null, "message": "m" },
                { "kind": "body", "path": "$.options[0].kind", "header": null, "message": "m" },
            ],
            "calls": [], "unused_calls": [],
        })]);
        let found = findings(&report);
        assert!(at_place(Place::Under("$.options"), &found[1]));
        assert!(at_place(Place::Path("$.options[*].kind"), &found[1]));
        assert!(!at_place(Place::Under("$.opt"), &found[1]));
        assert!(at_place(Place::Header("x-quote-version"), &found[0]));
        assert!(judge(Change::ArrayOrder, &found, &HashSet::new()).right_place);
        assert!(judge(Change::HeaderValue, &found, &HashSet::new()).right_place);
    }

    #[test]
    fn calls_are_found_in_recordings_and_outside_them() {
        let mut recording = deviated("t-3", "/rentals", json!([]));
        recording["calls"] = json!([
            { "method": "GET", "url": "http://127.0.0.1:9/promotions?depot=1", "level": null },
            { "method": "GET", "url": "http://127.0.0.1:9/rates?kind=city", "level": "similar" },
        ]);
        recording["unused_calls"] =
            json!([{ "index": 1, "method": "POST", "url": "http://127.0.0.1:9/reservations" }]);
        let mut report = report(vec![recording]);
        // A section for calls outside requests, as a later report may have.
        report["background"] = json!({ "unanswered": [
            { "method": "GET", "url": "http://127.0.0.1:8/config?env=staging&ts=1&sig=ab" }
        ]});
        let found = findings(&report);
        let places: Vec<String> = found.iter().map(Finding::place).collect();
        assert_eq!(
            places,
            [
                "mock missing GET /promotions",
                "mock unused POST /reservations",
                "mock missing GET /config"
            ]
        );
        for change in [
            Change::NewEndpoint,
            Change::SkippedCall,
            Change::StartupChanged,
        ] {
            assert!(
                judge(change, &found, &HashSet::new()).right_place,
                "{change:?}"
            );
        }
        // A call answered loosely is not a finding.
        assert!(!judge(Change::QueryChanged, &found, &HashSet::new()).right_place);
    }

    #[test]
    fn url_paths_drop_origin_and_query() {
        assert_eq!(url_path("http://127.0.0.1:1/a/b?x=1"), "/a/b");
        assert_eq!(url_path("http://h"), "/");
        assert_eq!(url_path("/c?d"), "/c");
        assert_eq!(any_index("$[3].wind_ms"), "$[*].wind_ms");
        assert_eq!(any_index("$['a[1]']"), "$['a[*]']");
    }
}
