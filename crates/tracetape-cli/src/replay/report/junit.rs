//! The report as JUnit XML, for CI systems that show test results: one
//! `<testcase>` per replayed recording (classname: the service; name:
//! `METHOD route (replay id)`), a `<failure>` for one that deviated or
//! missed a mock and an `<error>` for one that errored, each holding what
//! the text report says about it.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::super::outcome::{Outcome, Replayed};
use super::Report;
use super::text::{Style, recording};

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let totals = report.summary().totals;
    let counts = format!(
        r#"tests="{}" failures="{}" errors="{}" skipped="0" time="{:.3}""#,
        totals.total(),
        totals.deviated + totals.mock_missing,
        totals.errored,
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
        testcase(&mut xml, &report.service, result);
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

fn testcase(xml: &mut String, service: &str, result: &Replayed) {
    let _ = write!(
        xml,
        r#"    <testcase classname="{}" name="{}" file="{}" time="{:.3}""#,
        escape(service),
        escape(&format!("{} ({})", result.request(), result.id)),
        escape(&result.file.display().to_string()),
        result.duration.as_secs_f64()
    );
    let element = match result.outcome {
        Outcome::Passed => {
            xml.push_str("/>\n");
            return;
        }
        Outcome::Deviated | Outcome::MockMissing => "failure",
        Outcome::Errored => "error",
    };
    let text = recording(result, Style::PLAIN);
    // The line after the heading and the file: the first thing wrong.
    let message = text.lines().nth(2).unwrap_or_default().trim();
    let _ = write!(
        xml,
        ">\n      <{element} type=\"{}\" message=\"{}\">{}</{element}>\n    </testcase>\n",
        result.outcome.as_str(),
        escape(message),
        escape_text(&text)
    );
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
