//! The report for people: each recording that did not pass, with what to
//! do about it, then a table per route and the totals.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, Write};

use super::super::outcome::{Outcome, Replayed};
use super::{Report, findings};
use crate::format::{clean, millis};
use crate::table::{self, Align, Column};
use tracetape::replay::LoggedCall;

const COLUMNS: [Column; 5] = [
    ("REQUEST", Align::Left),
    ("PASSED", Align::Right),
    ("DEVIATED", Align::Right),
    ("MOCK MISSING", Align::Right),
    ("ERRORED", Align::Right),
];

/// Whether expected and actual values are coloured (`--color`, decided
/// in `crate::color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    pub(crate) colour: bool,
}

impl Style {
    pub(crate) const PLAIN: Self = Self { colour: false };

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
}

pub(super) fn write(report: &Report, style: Style, out: &mut dyn Write) -> io::Result<()> {
    for block in grouped(report, style) {
        writeln!(out, "{block}")?;
    }
    if let Some(block) = background(report) {
        writeln!(out, "{block}")?;
    }
    for finding in &report.unpatched.findings {
        writeln!(
            out,
            "{}",
            findings::block(finding, report.fail_on_unpatched)
        )?;
    }
    for skipped in &report.skipped {
        writeln!(
            out,
            "skipped {}: {}",
            clean(&skipped.path.display().to_string(), usize::MAX),
            skipped.reason
        )?;
    }
    if !report.skipped.is_empty() {
        writeln!(out)?;
    }
    let summary = report.summary();
    let mut rows: Vec<[String; 5]> = summary
        .routes
        .iter()
        .map(|(request, counts)| {
            [
                clean(request, 80).into_owned(),
                counts.passed.to_string(),
                counts.deviated.to_string(),
                counts.mock_missing.to_string(),
                counts.errored.to_string(),
            ]
        })
        .collect();
    let totals = summary.totals;
    rows.push([
        "total".to_owned(),
        totals.passed.to_string(),
        totals.deviated.to_string(),
        totals.mock_missing.to_string(),
        totals.errored.to_string(),
    ]);
    table::write(&COLUMNS, &rows, out)?;
    writeln!(out)?;
    writeln!(
        out,
        "{} of {} recording{} of {} replayed against {} in {:.1} s: {} passed, {} deviated, \
         {} mock missing, {} errored",
        totals.total(),
        report.selected,
        if report.selected == 1 { "" } else { "s" },
        report.service,
        report.base_url,
        report.duration.as_secs_f64(),
        totals.passed,
        totals.deviated,
        totals.mock_missing,
        totals.errored,
    )?;
    let levels: Vec<String> = summary
        .levels
        .iter()
        .map(|(level, count)| format!("{count} {level}"))
        .collect();
    write!(
        out,
        "outbound calls answered from the recordings: {}",
        levels.join(", ")
    )?;
    if summary.unmatched > 0 {
        write!(out, "; {} with no recorded call", summary.unmatched)?;
    }
    writeln!(out)?;
    if let Some(line) = findings::summary(&report.unpatched, report.fail_on_unpatched) {
        writeln!(out, "{line}")?;
    }
    if report.restarts > 0 {
        writeln!(
            out,
            "the service died and was started again {} time{}",
            report.restarts,
            if report.restarts == 1 { "" } else { "s" }
        )?;
    }
    if let Some(failure) = &report.service_failure {
        writeln!(out, "the service stopped answering: {failure}")?;
    }
    if let Some(log) = &report.service_log {
        writeln!(out, "the service's log: {}", log.display())?;
    }
    if report.interrupted {
        writeln!(
            out,
            "interrupted: {} of {} recordings were replayed",
            totals.total(),
            report.selected
        )?;
    }
    Ok(())
}

/// Recordings listed by name under one that went wrong the same way, at
/// most.
const MAX_SAME: usize = 20;

/// The blocks of the recordings that did not pass (or had a call that
/// deviates), in report order, those that went wrong the same way (the
/// same outcome, and the same lines under the recording's: errors,
/// calls, deviations) as one block, the first in full followed by the
/// others' request, outcome, id and file.
fn grouped(report: &Report, style: Style) -> Vec<String> {
    // (first block, the others' lines)
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut by_problem: HashMap<(Outcome, String), usize> = HashMap::new();
    for result in &report.results {
        if result.outcome == Outcome::Passed && result.deviating_calls().next().is_none() {
            continue;
        }
        let block = recording(result, style);
        // Under the request line and the recording line.
        let problem = block.splitn(3, '\n').nth(2).unwrap_or("").to_owned();
        if problem.is_empty() {
            groups.push((block, Vec::new()));
            continue;
        }
        let line = format!(
            "    {}  {}  {}  {}",
            clean(&result.request(), 120),
            result.outcome.as_str(),
            result.id,
            clean(&result.file.display().to_string(), usize::MAX)
        );
        match by_problem.entry((result.outcome, problem)) {
            Entry::Occupied(first) => groups[*first.get()].1.push(line),
            Entry::Vacant(entry) => {
                entry.insert(groups.len());
                groups.push((block, Vec::new()));
            }
        }
    }
    groups
        .into_iter()
        .map(|(mut block, same)| {
            if !same.is_empty() {
                block.push_str(&format!(
                    "  the same in {} more recording{}:\n",
                    same.len(),
                    if same.len() == 1 { "" } else { "s" }
                ));
                for line in same.iter().take(MAX_SAME) {
                    block.push_str(line);
                    block.push('\n');
                }
                if same.len() > MAX_SAME {
                    block.push_str(&format!("    … and {} more\n", same.len() - MAX_SAME));
                }
            }
            block
        })
        .collect()
}

/// What the report says about the calls made outside the replayed
/// requests (at start-up, by background jobs) when any went wrong, or
/// why the service could not tell.
pub(super) fn background(report: &Report) -> Option<String> {
    let Some(background) = &report.background else {
        return report.background_unknown.as_ref().map(|why| {
            format!(
                "calls outside the replayed requests: unknown ({}): calls made at start-up or in \
                 the background are not checked\n",
                clean(why, usize::MAX)
            )
        });
    };
    let log = &background.log;
    let mut lines = Vec::new();
    for call in log.missing() {
        lines.push(format!(
            "  mock missing: {} {}: no background recording answers it; if the new build makes \
             this call on purpose (at start-up or in a background job), record the service \
             again",
            clean(&call.method, 20),
            clean(&call.url, usize::MAX)
        ));
    }
    for unused in &log.unused {
        lines.push(format!(
            "  mock unused: {} {} (background call {}): recorded once, at start-up or in the \
             background, and no longer made; if that is intended, record the service again",
            clean(&unused.method, 20),
            clean(&unused.url, usize::MAX),
            unused.index
        ));
    }
    if log.omitted_unmatched > 0 {
        lines.push(format!(
            "  … and {} more calls with no background recording to answer them",
            log.omitted_unmatched
        ));
    }
    for call in log.calls.iter().filter(|call| call.deviates()) {
        let answered = call.index.map_or_else(
            || "a background recording".to_owned(),
            |index| format!("background call {index}"),
        );
        deviating_call(&mut lines, call, background.calls_fail, &answered, "");
    }
    if background.late_omitted > 0 {
        lines.push(format!(
            "  {} more replayed requests made calls after their response: the service tells the \
             first 256, so theirs are not checked",
            background.late_omitted
        ));
    }
    if background.pending > 0 {
        lines.push(format!(
            "  {} replayed request{} still had work running when the replay stopped waiting (the \
             request timeout): calls it makes later are not checked",
            background.pending,
            if background.pending == 1 { "" } else { "s" }
        ));
    }
    if lines.is_empty() {
        return None;
    }
    let verdict = if background.fails() { "failed" } else { "note" };
    Some(format!(
        "calls outside the replayed requests (start-up, background)  {verdict}\n{}\n",
        lines.join("\n")
    ))
}

/// The lines of a call answered by `answered`, a recorded call that is not
/// the same call: what it is, then each difference.
fn deviating_call(
    lines: &mut Vec<String>,
    call: &LoggedCall,
    fails: bool,
    answered: &str,
    advice: &str,
) {
    let label = if fails {
        "call deviates"
    } else {
        "call deviates (warning)"
    };
    lines.push(format!(
        "  {label}: {} {}: answered by {answered}, which is not the same call{advice}",
        clean(&call.method, 20),
        clean(&call.url, usize::MAX),
    ));
    for difference in &call.differences {
        lines.push(format!(
            "    {}",
            clean(&difference.to_string(), usize::MAX)
        ));
    }
}

/// What the report says about one recording that did not pass: its
/// request, outcome and file, then each thing that went wrong, causes
/// first (an error, calls without a recorded answer, recorded calls left
/// unused, then the deviations they may explain), with what to do about
/// it.
pub(crate) fn recording(result: &Replayed, style: Style) -> String {
    let mut lines = vec![
        format!(
            "{}  {}  {}",
            clean(&result.request(), 120),
            result.outcome.as_str(),
            result.id
        ),
        format!(
            "  recording: {} ({})",
            clean(&result.file.display().to_string(), usize::MAX),
            millis(result.duration)
        ),
    ];
    if let Some(error) = &result.error {
        lines.push(format!("  error: {}", clean(error, usize::MAX)));
    }
    if result.recording_unknown {
        lines.push(format!(
            "  mock missing: the service has no recording {}: it loads the recordings once, at \
             start-up, from TRACETAPE_RECORD_DIR; check that it reads this directory and was \
             started after the recording was made",
            result.id
        ));
    }
    for call in result.missing() {
        lines.push(format!(
            "  mock missing: {} {}: no recorded call answers it; if the new build makes this \
             call on purpose, record this request again; if not, find out why the code makes it \
             now",
            clean(&call.method, 20),
            clean(&call.url, usize::MAX)
        ));
    }
    if result.late_calls > 0 {
        lines.push(format!(
            "  {} of its calls came after the response (work that carries the request's context)",
            result.late_calls
        ));
    }
    for (call, recorded) in result.deviating_calls() {
        let answered = match (call.index, recorded) {
            (Some(index), Some(recorded)) => format!(
                "recorded call {index} ({} {})",
                clean(&recorded.method, 20),
                clean(&recorded.url, usize::MAX)
            ),
            (Some(index), None) => format!("recorded call {index}"),
            (None, _) => "a recorded call".to_owned(),
        };
        deviating_call(
            &mut lines,
            call,
            result.calls_fail,
            &answered,
            "; if the new build makes this call on purpose, accept it or record this request again",
        );
    }
    if result.omitted_calls > 0 {
        lines.push(format!(
            "  … and {} more calls, not listed: the service logs the first {} of a request; {} of \
             them had no recorded call to answer it",
            result.omitted_calls,
            tracetape::replay::matching::LOG_ENTRIES,
            result.omitted_unmatched
        ));
    }
    for unused in &result.unused {
        lines.push(format!(
            "  mock unused: {} {} (recorded call {}): the new build no longer makes this call; \
             if that is intended, record this request again",
            clean(&unused.method, 20),
            clean(&unused.url, usize::MAX),
            unused.index
        ));
    }
    if result.omitted_unused > 0 {
        lines.push(format!(
            "  … and {} more unused recorded calls, not listed",
            result.omitted_unused
        ));
    }
    for deviation in &result.deviations {
        lines.push(format!("  {}", clean(&deviation.to_string(), usize::MAX)));
        // A diff shows both values better than they show themselves.
        let values = if deviation.detail.is_some() {
            (None, None)
        } else {
            (deviation.expected.as_ref(), deviation.actual.as_ref())
        };
        if let Some(expected) = values.0 {
            lines.push(format!(
                "    expected: {}",
                style.red(&clean(expected, usize::MAX))
            ));
        }
        if let Some(actual) = values.1 {
            lines.push(format!(
                "    actual:   {}",
                style.green(&clean(actual, usize::MAX))
            ));
        }
        for line in deviation.detail.iter().flat_map(|detail| detail.lines()) {
            let line = clean(line, usize::MAX);
            let line = match line.chars().next() {
                Some('-') => style.red(&line),
                Some('+') => style.green(&line),
                _ => line.into_owned(),
            };
            lines.push(format!("    | {line}"));
        }
        if !deviation.suggestion.is_empty() {
            lines.push(format!("    suggestion: {}", deviation.suggestion));
        }
    }
    if result.omitted_deviations > 0 {
        lines.push(format!(
            "  … and {} more deviations, not listed (the first {} are)",
            result.omitted_deviations,
            tracetape_compare::MAX_DEVIATIONS
        ));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::super::super::outcome::tests::{log, replayable};
    use super::super::super::outcome::{Judging, judge};
    use super::super::super::send::Reply;
    use super::*;
    use crate::testing::json_response;

    fn deviated() -> Replayed {
        judge(
            &replayable(r#"{"total": 5}"#),
            Ok(Reply {
                response: json_response(200, r#"{"total": 6}"#),
                log: Some(Ok(log(&[Some("exact"), None], 1, true))),
            }),
            &Judging::default(),
            Duration::from_micros(1500),
        )
    }

    #[test]
    fn a_recording_lists_what_went_wrong_and_what_to_do() {
        let text = recording(&deviated(), Style::PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "POST /orders  mock-missing  00000000000000000000000000004bf9-0000000000000010"
        );
        assert_eq!(lines[1], "  recording: /recordings/r.json (1.5 ms)");
        assert!(
            lines[2].starts_with("  mock missing: GET http://stock/1: no recorded call answers it"),
            "{text}"
        );
        assert!(
            lines[3].starts_with(
                "  mock unused: POST http://stock/reserve (recorded call 10): the new build no \
                 longer makes this call"
            ),
            "{text}"
        );
        assert_eq!(lines[4], "  body $.total: expected 5, actual 6");
        assert_eq!(lines[5], "    expected: 5");
        assert_eq!(lines[6], "    actual:   6");
        assert!(lines[7].starts_with("    suggestion: "), "{text}");
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn calls_past_the_log_s_limit_are_counted() {
        let mut replayed = deviated();
        replayed.omitted_calls = 1200;
        replayed.omitted_unmatched = 3;
        let text = recording(&replayed, Style::PLAIN);
        assert!(
            text.contains(
                "\n  … and 1200 more calls, not listed: the service logs the first 1000 of a \
                 request; 3 of them had no recorded call to answer it\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn deviations_and_unused_calls_past_their_limits_are_counted() {
        let mut replayed = deviated();
        replayed.omitted_deviations = 40;
        replayed.omitted_unused = 7;
        let text = recording(&replayed, Style::PLAIN);
        assert!(
            text.contains("\n  … and 7 more unused recorded calls, not listed\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\n  … and 40 more deviations, not listed (the first 100 are)\n"),
            "{text}"
        );
    }

    #[test]
    fn a_diff_stands_for_both_values() {
        let replayed = judge(
            &replayable("one\ntwo\n"),
            Ok(Reply {
                response: json_response(200, "one\nthree\n"),
                log: Some(Ok(log(&[], 0, true))),
            }),
            &Judging::default(),
            Duration::ZERO,
        );
        let text = recording(&replayed, Style { colour: true });
        assert!(!text.contains("expected: "), "{text}");
        assert!(text.contains("\n    | \x1b[31m-two\x1b[0m\n"), "{text}");
        assert!(text.contains("\n    | \x1b[32m+three\x1b[0m\n"), "{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        let coloured = recording(&deviated(), Style { colour: true });
        assert!(
            coloured.contains("    expected: \x1b[31m5\x1b[0m"),
            "{coloured}"
        );
        assert!(
            coloured.contains("    actual:   \x1b[32m6\x1b[0m"),
            "{coloured}"
        );
        assert!(!recording(&deviated(), Style::PLAIN).contains('\x1b'));
    }

    #[test]
    fn recordings_that_went_wrong_the_same_way_are_one_block() {
        let mut results: Vec<Replayed> = (0..3).map(|_| deviated()).collect();
        for (n, result) in results.iter_mut().enumerate() {
            result.id.span_id = tracetape::opentelemetry::trace::SpanId::from(n as u64 + 1);
            result.file = PathBuf::from(format!("/recordings/{n}.json"));
        }
        // Another problem: a block of its own.
        let mut other = deviated();
        other.error = Some("timed out".to_owned());
        results.insert(1, other);
        let report = Report {
            service: "orders".to_owned(),
            base_url: "http://127.0.0.1:8081/".to_owned(),
            recordings: PathBuf::from("/recordings"),
            selected: 4,
            results,
            skipped: Vec::new(),
            duration: Duration::ZERO,
            interrupted: false,
            restarts: 0,
            service_failure: None,
            service_log: None,
            unpatched: Default::default(),
            fail_on_unpatched: false,
            background: None,
            background_unknown: None,
        };
        let blocks = grouped(&report, Style::PLAIN);
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        assert!(
            blocks[0].ends_with(
                "    suggestion: if the new value is intended, record this request again; if it \
                 changes from run to run, add an ignore rule for $.total\n\
                 \x20 the same in 2 more recordings:\n\
                 \x20   POST /orders  mock-missing  00000000000000000000000000004bf9-0000000000000002  \
                 /recordings/1.json\n\
                 \x20   POST /orders  mock-missing  00000000000000000000000000004bf9-0000000000000003  \
                 /recordings/2.json\n"
            ),
            "{}",
            blocks[0]
        );
        assert!(blocks[1].contains("  error: timed out\n"), "{}", blocks[1]);
        assert!(!blocks[1].contains("the same in"), "{}", blocks[1]);
    }

    #[test]
    fn the_summary_counts_per_route_and_level() {
        let passed = judge(
            &replayable(r#"{"total": 5}"#),
            Ok(Reply {
                response: json_response(200, r#"{"total": 5}"#),
                log: Some(Ok(log(&[Some("dynamic")], 0, true))),
            }),
            &Judging::default(),
            Duration::ZERO,
        );
        let report = Report {
            service: "orders".to_owned(),
            base_url: "http://127.0.0.1:8081/".to_owned(),
            recordings: PathBuf::from("/recordings"),
            selected: 3,
            results: vec![deviated(), passed],
            skipped: Vec::new(),
            duration: Duration::from_millis(1234),
            interrupted: true,
            restarts: 1,
            service_failure: None,
            service_log: Some(PathBuf::from("/tmp/service.log")),
            unpatched: Default::default(),
            fail_on_unpatched: false,
            background: None,
            background_unknown: None,
        };
        let mut out = Vec::new();
        write(&report, Style::PLAIN, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let table = &text[text.find("REQUEST").unwrap()..];
        let table = &table[..table.find("\n\n").unwrap() + 1];
        assert_eq!(
            table,
            "REQUEST       PASSED  DEVIATED  MOCK MISSING  ERRORED\n\
             POST /orders       1         0             1        0\n\
             total              1         0             1        0\n"
        );
        assert!(
            text.contains(
                "2 of 3 recordings of orders replayed against http://127.0.0.1:8081/ in 1.2 s: \
                 1 passed, 0 deviated, 1 mock missing, 0 errored\n\
                 outbound calls answered from the recordings: 1 dynamic, 1 exact, 0 redacted, 0 similar; \
                 1 with no recorded call\n\
                 the service died and was started again 1 time\n\
                 the service's log: /tmp/service.log\n\
                 interrupted: 2 of 3 recordings were replayed\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn findings_come_before_the_table_and_are_counted_by_kind() {
        use super::super::super::unpatched::{Candidate, Finding, Unpatched};

        let finding =
            |kind: &str, address: Option<&str>, port: Option<u16>, host: Option<&str>| Finding {
                kind: kind.to_owned(),
                address: address.map(str::to_owned),
                port,
                host: host.map(str::to_owned),
                pid: 7,
                child: None,
                blocked: true,
                frames: vec!["svc::f at src/main.rs:1".to_owned()],
                during: vec![Candidate {
                    id: deviated().id,
                    request: "POST /orders".to_owned(),
                }],
                in_flight: Vec::new(),
            };
        let report = Report {
            service: "orders".to_owned(),
            base_url: "http://127.0.0.1:8081/".to_owned(),
            recordings: PathBuf::from("/recordings"),
            selected: 1,
            results: vec![deviated()],
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
                    finding("udp", Some("127.0.0.1"), Some(8125), None),
                    finding("dns", Some("127.0.0.53"), Some(53), Some("db.internal")),
                ],
                ignored: 0,
            },
            fail_on_unpatched: false,
            background: None,
            background_unknown: None,
        };
        let mut out = Vec::new();
        write(&report, Style::PLAIN, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let before_table = &text[..text.find("REQUEST").unwrap()];
        let headings: Vec<&str> = before_table
            .lines()
            .filter(|line| line.starts_with("unpatched "))
            .map(|line| &line[..line.find(" blocked").unwrap()])
            .collect();
        assert_eq!(
            headings,
            [
                "unpatched connection: tcp 127.0.0.1:5432",
                "unpatched connection: udp 127.0.0.1:8125",
                "unpatched resolution: dns db.internal via 127.0.0.53:53"
            ],
            "{text}"
        );
        assert!(
            text.contains("\nunpatched: 2 connections, 1 resolution (3 blocked, 0 allowed)\n"),
            "{text}"
        );
    }
}
