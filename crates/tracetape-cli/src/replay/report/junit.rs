//! The report as JUnit XML, for CI systems that show test results: one
//! `<testcase>` per replayed recording (classname: the service; name:
//! `METHOD route (replay id)`), a `<failure>` for one that deviated or
//! missed a mock and an `<error>` for one that errored, each holding what
//! the text report says about it; one with `<skipped>` per recording
//! skipped (no recorded response, or, with `--skip-unreadable`, a file
//! that cannot be read). An unpatched connection (`tcp`, `udp`)
//! or resolution (`dns`) made by one request is in its test case's
//! `<system-out>`, or, with
//! `--fail-on-unpatched`, a `<failure type="unpatched">` of a test case
//! that would have passed; the others are in the suite's `<system-out>`,
//! or, with `--fail-on-unpatched`, the `<failure type="unpatched">` of a
//! test case of their own, since they fail the run too.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::super::outcome::{Outcome, Replayed};
use super::super::unpatched::Finding;
use super::text::{Style, recording};
use super::{Report, findings};

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let totals = report.summary().totals;
    let own = |result: &Replayed| -> Vec<&Finding> {
        report
            .unpatched
            .findings
            .iter()
            .filter(|finding| finding.request() == Some(result.id))
            .collect()
    };
    let failed_by_unpatched = if report.fail_on_unpatched {
        report
            .results
            .iter()
            .filter(|result| result.outcome == Outcome::Passed && !own(result).is_empty())
            .count()
    } else {
        0
    };
    // The calls outside the replayed requests are a test case of their
    // own when any of them failed.
    let background = report
        .background
        .as_ref()
        .filter(|background| background.fails())
        .and_then(|_| super::text::background(report));
    let elsewhere: String = report
        .unpatched
        .findings
        .iter()
        .filter(|finding| finding.request().is_none())
        .map(|finding| findings::block(finding, report.fail_on_unpatched))
        .collect();
    let elsewhere_fails = report.fail_on_unpatched && !elsewhere.is_empty();
    let extra = usize::from(background.is_some()) + usize::from(elsewhere_fails);
    let counts = format!(
        r#"tests="{}" failures="{}" errors="{}" skipped="{}" time="{:.3}""#,
        totals.total() + extra + report.skipped.len(),
        totals.deviated + totals.mock_missing + failed_by_unpatched + extra,
        totals.errored,
        report.skipped.len(),
        report.duration.as_secs_f64()
    );
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, r#"<testsuites name="tracetape replay" {counts}>"#);
    let _ = writeln!(
        xml,
        r#"  <testsuite name="{}" {counts}>"#,
        escape(&format!("tracetape replay: {}", report.service))
    );
    for result in &report.results {
        testcase(
            &mut xml,
            &report.service,
            result,
            &own(result),
            report.fail_on_unpatched,
        );
    }
    for skipped in &report.skipped {
        // A file that could not be read has no request to name it by.
        let file = skipped.path.display().to_string();
        let _ = writeln!(
            xml,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"0.000\">\n      <skipped message=\"{}\"/>\n    </testcase>",
            escape(&report.service),
            escape(&format!("skipped {file}")),
            escape(&file),
            escape(&skipped.reason)
        );
    }
    if let Some(text) = background {
        let _ = write!(
            xml,
            "    <testcase name=\"calls outside the replayed requests\" classname=\"{}\" time=\"0.000\">\n      <failure type=\"background\" message=\"a call made at start-up or in the background had no recorded answer, or deviated\">{}</failure>\n    </testcase>\n",
            escape(&report.service),
            escape_text(&text)
        );
    }
    if elsewhere_fails {
        let message = elsewhere.lines().next().unwrap_or_default();
        let _ = write!(
            xml,
            "    <testcase name=\"connections and resolutions outside the replayed requests' work\" classname=\"{}\" time=\"0.000\">\n      <failure type=\"unpatched\" message=\"{}\">{}</failure>\n    </testcase>\n",
            escape(&report.service),
            escape(message),
            escape_text(&elsewhere)
        );
    } else if !elsewhere.is_empty() {
        let _ = writeln!(
            xml,
            "    <system-out>{}</system-out>",
            escape_text(&elsewhere)
        );
    }
    let mut notes = Vec::new();
    if let Some(failure) = &report.service_failure {
        notes.push(format!("the service stopped answering: {failure}"));
    }
    if report.interrupted {
        notes.push(format!(
            "interrupted: {} of {} recordings were replayed",
            totals.total(),
            report.selected
        ));
    }
    if !notes.is_empty() {
        let _ = writeln!(
            xml,
            "    <system-err>{}</system-err>",
            escape_text(&notes.join("\n"))
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    out.write_all(xml.as_bytes())
}

fn testcase(
    xml: &mut String,
    service: &str,
    result: &Replayed,
    unpatched: &[&Finding],
    fail_on_unpatched: bool,
) {
    let _ = write!(
        xml,
        r#"    <testcase classname="{}" name="{}" file="{}" time="{:.3}""#,
        escape(service),
        escape(&format!("{} ({})", result.request(), result.id)),
        escape(&result.file.display().to_string()),
        result.duration.as_secs_f64()
    );
    let blocks: String = unpatched
        .iter()
        .map(|finding| findings::block(finding, fail_on_unpatched))
        .collect();
    let element = match result.outcome {
        Outcome::Passed if fail_on_unpatched && !blocks.is_empty() => {
            let message = blocks.lines().next().unwrap_or_default();
            let _ = write!(
                xml,
                ">\n      <failure type=\"unpatched\" message=\"{}\">{}</failure>\n    </testcase>\n",
                escape(message),
                escape_text(&blocks)
            );
            return;
        }
        Outcome::Passed if blocks.is_empty() => {
            xml.push_str("/>\n");
            return;
        }
        Outcome::Passed => None,
        Outcome::Deviated | Outcome::MockMissing => Some("failure"),
        Outcome::Errored => Some("error"),
    };
    xml.push_str(">\n");
    if let Some(element) = element {
        let text = recording(result, Style::PLAIN);
        // The line after the heading and the file: the first thing wrong.
        let message = text.lines().nth(2).unwrap_or_default().trim();
        let _ = writeln!(
            xml,
            "      <{element} type=\"{}\" message=\"{}\">{}</{element}>",
            result.outcome.as_str(),
            escape(message),
            escape_text(&text)
        );
    }
    if !blocks.is_empty() {
        let _ = writeln!(
            xml,
            "      <system-out>{}</system-out>",
            escape_text(&blocks)
        );
    }
    xml.push_str("    </testcase>\n");
}

/// `text` as an XML attribute value: markup escaped, line breaks and
/// tabs as character references (an attribute's own would become spaces),
/// and the characters XML 1.0 cannot hold at all written as `\u{..}`.
fn escape(text: &str) -> String {
    escape_as(text, true)
}

/// `text` as XML character data: as [`escape`], but line breaks and tabs
/// as they are.
fn escape_text(text: &str) -> String {
    escape_as(text, false)
}

fn escape_as(text: &str, attribute: bool) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' | '\t' if !attribute => escaped.push(c),
            '\n' => escaped.push_str("&#10;"),
            '\t' => escaped.push_str("&#9;"),
            // A parser would read a raw one as a line feed.
            '\r' => escaped.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                escaped.extend(c.escape_unicode());
            }
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_forbidden_characters_are_escaped() {
        assert_eq!(
            escape("a<b>&\"c\"'d'\n\t\u{1b}[31m\u{0}é"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#10;&#9;\\u{1b}[31m\\u{0}é"
        );
        assert_eq!(escape_text("<a>\n\tb\r"), "&lt;a&gt;\n\tb&#13;");
    }
}
