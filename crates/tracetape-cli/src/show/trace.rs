//! `tracetape show` for a trace of the span store: its spans as a tree.

use std::io::{self, Write};

use crate::span_store::{self, FindTraceError, SpanEvent, SpanStatus, StoredSpan, Trace};

use super::ShowArgs;
use crate::exit::Failure;
use crate::format::{clean, millis, rfc3339};
use crate::output::OutputFormat;
use crate::tree::Rails;

/// Attributes shown first, in this order, when a span has them.
const KEY_ATTRIBUTES: [&str; 8] = [
    "http.request.method",
    "http.route",
    "url.path",
    "url.full",
    "http.response.status_code",
    "http.request.resend_count",
    "error.type",
    "server.address",
];
const MAX_NAME: usize = 80;
const MAX_KEY: usize = 48;
const MAX_VALUE: usize = 48;
const MAX_MESSAGE: usize = 120;

pub(crate) fn run(
    args: &ShowArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    let trace = span_store::trace(&args.store.open(), &args.id).map_err(|err| match err {
        FindTraceError::InvalidId { .. } => Failure::Usage(err.into()),
        _ => Failure::Failed(err.into()),
    })?;
    match args.format {
        OutputFormat::Text => render(&trace, out, notes)?,
        OutputFormat::Json => super::document::trace(&trace, out)?,
    }
    Ok(())
}

pub(crate) fn render(trace: &Trace, out: &mut dyn Write, notes: &mut dyn Write) -> io::Result<()> {
    if trace.skipped_files() > 0 {
        writeln!(
            notes,
            "note: skipped {} unreadable file(s); this trace may be incomplete",
            trace.skipped_files()
        )?;
    }
    let count = trace.spans().len();
    writeln!(
        out,
        "trace {}  {count} span{}  {}  {}",
        trace.trace_id(),
        if count == 1 { "" } else { "s" },
        millis(trace.duration()),
        rfc3339(trace.start_unix_nanos()),
    )?;

    let entries: Vec<_> = trace.walk().collect();
    let mut rails = Rails::default();
    // The service of each span on the path to the current one.
    let mut services: Vec<Option<&str>> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let depth = entry.depth;
        services.truncate(depth);
        let service = entry.span.service_name.as_deref();
        let show_service = depth == 0 || services.last().is_some_and(|parent| *parent != service);
        services.push(service);

        let has_children = entries.get(i + 1).is_some_and(|next| next.depth > depth);
        let prefixes = rails.next(depth, entry.is_last, has_children);
        writeln!(
            out,
            "{}{}",
            prefixes.node,
            span_line(entry.span, show_service.then_some(service).flatten())
        )?;
        for event in &entry.span.events {
            writeln!(out, "{}{}", prefixes.below, event_line(event))?;
        }
    }
    Ok(())
}

/// `name  kind  duration  [service]  ERROR: message  key=value ...`
fn span_line(span: &StoredSpan, service: Option<&str>) -> String {
    let mut parts = vec![
        clean(&span.name, MAX_NAME).into_owned(),
        span.kind.to_string(),
        millis(span.duration()),
    ];
    if let Some(service) = service {
        parts.push(format!("[{}]", clean(service, MAX_VALUE)));
    }
    if let SpanStatus::Error { message } = &span.status {
        parts.push(if message.is_empty() {
            "ERROR".to_owned()
        } else {
            format!("ERROR: {}", clean(message, MAX_MESSAGE))
        });
    }
    let attributes = attribute_list(span);
    if !attributes.is_empty() {
        parts.push(attributes);
    }
    parts.join("  ")
}

/// The span's attributes as `key=value` pairs, the well-known HTTP ones
/// first and the rest in recorded order.
fn attribute_list(span: &StoredSpan) -> String {
    let key_attributes = KEY_ATTRIBUTES
        .iter()
        .filter_map(|&key| span.attribute(key).map(|value| (key, value)));
    let others = span
        .attributes
        .iter()
        .filter(|(key, _)| !KEY_ATTRIBUTES.contains(&key.as_str()))
        .map(|(key, value)| (key.as_str(), value.as_str()));
    key_attributes
        .chain(others)
        .map(|(key, value)| pair(key, value))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `key=value`, with the value quoted when it is empty or has spaces.
fn pair(key: &str, value: &str) -> String {
    let value = clean(value, MAX_VALUE);
    let key = clean(key, MAX_KEY);
    if value.is_empty() || value.contains(char::is_whitespace) || value.contains('"') {
        format!("{key}=\"{}\"", value.replace('"', "\\\""))
    } else {
        format!("{key}={value}")
    }
}

/// `! exception Type: message` for exceptions, `· name key=value ...` for
/// other events.
fn event_line(event: &SpanEvent) -> String {
    if event.name == "exception" {
        let kind = event.attribute("exception.type").unwrap_or_default();
        let message = event.attribute("exception.message").unwrap_or_default();
        let detail = match (kind.is_empty(), message.is_empty()) {
            (false, false) => format!(
                " {}: {}",
                clean(kind, MAX_VALUE),
                clean(message, MAX_MESSAGE)
            ),
            (false, true) => format!(" {}", clean(kind, MAX_VALUE)),
            (true, false) => format!(" {}", clean(message, MAX_MESSAGE)),
            (true, true) => String::new(),
        };
        return format!("! exception{detail}");
    }
    let attributes: Vec<String> = event
        .attributes
        .iter()
        .map(|(key, value)| pair(key, value))
        .collect();
    format!(
        "· {} {}",
        clean(&event.name, MAX_NAME),
        attributes.join(" ")
    )
    .trim_end()
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_spaces_are_quoted() {
        assert_eq!(pair("k", "v"), "k=v");
        assert_eq!(pair("k", ""), "k=\"\"");
        assert_eq!(
            pair("user_agent", "curl/8 (x)"),
            "user_agent=\"curl/8 (x)\""
        );
        assert_eq!(pair("q", "say \"hi\""), "q=\"say \\\"hi\\\"\"");
    }

    #[test]
    fn long_values_are_truncated() {
        let long = "x".repeat(200);
        let shown = pair("url.full", &long);
        assert_eq!(shown.chars().count(), "url.full=".len() + MAX_VALUE);
        assert!(shown.ends_with('…'));
    }
}
