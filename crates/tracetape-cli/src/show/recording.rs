//! `tracetape show` for a recorded trace: each recording file of the trace,
//! in time order and headed by its service, as a tree of its exchanges,
//! with the headers and body of every request and response.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use tracetape::opentelemetry::trace::SpanId;
use tracetape::record::{Exchange, ExchangeKind, HeaderRecord, Recording, StoredRecording};

use super::body::{self, ShownBody};
use crate::format::{clean, millis, rfc3339, width};
use crate::recordings::start_unix_nanos;
use crate::tree::Rails;

/// Lines of a body shown unless `--full`.
const MAX_BODY_LINES: usize = 40;
/// However deep a line is indented, this many columns of its text are kept.
const MIN_TEXT: usize = 16;
/// Parts of an exchange's line cut short when lines are cut, so that its
/// status and duration stay in sight.
const MAX_URL: usize = 80;
const MAX_ERROR: usize = 120;
const MAX_SERVICE: usize = 48;

/// How much of a recording is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Lines are cut at this many columns.
    width: Option<usize>,
    /// Bodies show at most this many lines.
    body_lines: Option<usize>,
}

impl Layout {
    /// `--width` (0 for no limit) and `--full` (everything, whole).
    pub(super) fn new(width: usize, full: bool) -> Self {
        if full {
            Self {
                width: None,
                body_lines: None,
            }
        } else {
            Self {
                width: (width > 0).then_some(width),
                body_lines: Some(MAX_BODY_LINES),
            }
        }
    }

    /// `text` cleaned, and cut at `max` characters when lines are cut at
    /// all (not with `--full` or `--width 0`).
    fn cut(self, text: &str, max: usize) -> String {
        clean(text, self.width.map_or(usize::MAX, |_| max)).into_owned()
    }
}

/// Prints the recordings of the trace `trace_id`.
pub(super) fn render(
    trace_id: &str,
    recordings: &[StoredRecording],
    layout: Layout,
    out: &mut dyn Write,
) -> io::Result<()> {
    let count = recordings.len();
    writeln!(
        out,
        "trace {trace_id}  {count} recording{}",
        if count == 1 { "" } else { "s" }
    )?;
    let mut in_time_order: Vec<&StoredRecording> = recordings.iter().collect();
    in_time_order.sort_by_key(|stored| {
        (
            start_unix_nanos(&stored.recording),
            &stored.path,
            stored.line,
        )
    });
    let mut printer = Printer { out, layout };
    for stored in in_time_order {
        writeln!(printer.out)?;
        printer.recording(stored)?;
    }
    Ok(())
}

/// Writes lines cut to the layout's width.
struct Printer<'a> {
    out: &'a mut dyn Write,
    layout: Layout,
}

impl Printer<'_> {
    /// `[service]  time  path`, then the exchanges as a tree.
    fn recording(&mut self, stored: &StoredRecording) -> io::Result<()> {
        let recording = &stored.recording;
        let mut heading = vec![format!(
            "[{}]",
            self.layout.cut(&recording.service_name, MAX_SERVICE)
        )];
        heading.extend(start_unix_nanos(recording).map(rfc3339));
        if recording.background {
            heading.push("calls made outside any request".to_owned());
        }
        heading.push(clean(&stored.location(), usize::MAX).into_owned());
        writeln!(self.out, "{}", heading.join("  "))?;

        let nodes = walk(recording);
        if nodes.is_empty() {
            return self.line("", 0, "(no exchanges)");
        }
        let mut rails = Rails::default();
        for (i, node) in nodes.iter().enumerate() {
            let has_children = nodes.get(i + 1).is_some_and(|next| next.depth > node.depth);
            let prefixes = rails.next(node.depth, node.is_last, has_children);
            let exchange = &recording.exchanges[node.index];
            self.line(&prefixes.node, 0, &self.exchange_line(exchange))?;
            self.exchange(&prefixes.below, exchange)?;
        }
        Ok(())
    }

    /// `outbound  GET http://inventory/stock/tea  200  3.1 ms`, or
    /// `database  SELECT postgresql://db:5432/shop  2.0 ms` (its results
    /// and any error are in its response body).
    fn exchange_line(&self, exchange: &Exchange) -> String {
        let kind = match exchange.kind {
            ExchangeKind::Server => "inbound",
            ExchangeKind::Client => "outbound",
            ExchangeKind::Database => "database",
        };
        let request = &exchange.request;
        let mut parts = vec![
            kind.to_owned(),
            format!(
                "{} {}",
                self.layout.cut(&request.method, MAX_URL),
                self.layout.cut(&request.url, MAX_URL)
            ),
        ];
        if let Some(response) = &exchange.response
            && exchange.kind != ExchangeKind::Database
        {
            parts.push(response.status.to_string());
        }
        match &exchange.error {
            Some(error) => parts.push(format!("error: {}", self.layout.cut(error, MAX_ERROR))),
            None if exchange.response.is_none() => parts.push("no response".to_owned()),
            None => {}
        }
        let nanos = exchange
            .end_unix_nanos
            .saturating_sub(exchange.start_unix_nanos);
        parts.push(millis(Duration::from_nanos(nanos)));
        parts.join("  ")
    }

    /// The request and the response, under the exchange's line.
    fn exchange(&mut self, prefix: &str, exchange: &Exchange) -> io::Result<()> {
        let request = &exchange.request;
        let body = body::show(
            &request.body,
            &request.headers,
            request.decoded_body(),
            self.layout.body_lines,
        );
        self.side(prefix, "request", &request.headers, body)?;
        if let Some(response) = &exchange.response {
            let body = body::show(
                &response.body,
                &response.headers,
                response.decoded_body(),
                self.layout.body_lines,
            );
            self.side(prefix, "response", &response.headers, body)?;
            if !response.trailers.is_empty() {
                self.line(prefix, 0, "trailers")?;
                for trailer in &response.trailers {
                    let value = String::from_utf8_lossy(&trailer.value);
                    self.line(prefix, 2, &format!("{}: {value}", trailer.name))?;
                }
            }
        }
        Ok(())
    }

    /// `request` or `response`, its headers one per line, then its body.
    fn side(
        &mut self,
        prefix: &str,
        label: &str,
        headers: &[HeaderRecord],
        body: Option<ShownBody>,
    ) -> io::Result<()> {
        if headers.is_empty() && body.is_none() {
            return self.line(prefix, 0, &format!("{label}: no headers, empty body"));
        }
        self.line(prefix, 0, label)?;
        for header in headers {
            let value = String::from_utf8_lossy(&header.value);
            self.line(prefix, 2, &format!("{}: {value}", header.name))?;
        }
        if let Some(body) = body {
            self.line(prefix, 2, &body.heading)?;
            for line in &body.lines {
                self.line(prefix, 4, line)?;
            }
        }
        Ok(())
    }

    /// `prefix`, `indent` spaces and `text`, control characters escaped and
    /// the text cut so that the line fits the width.
    fn line(&mut self, prefix: &str, indent: usize, text: &str) -> io::Result<()> {
        let used = width(prefix) + indent;
        let max = self
            .layout
            .width
            .map_or(usize::MAX, |width| width.saturating_sub(used).max(MIN_TEXT));
        let line = format!("{prefix}{:indent$}{}", "", clean(text, max));
        writeln!(
            self.out,
            "{}",
            if text.is_empty() {
                line.trim_end()
            } else {
                &line
            }
        )
    }
}

/// One exchange in [`walk`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    /// Its position in the recording.
    index: usize,
    /// 0 at the top level, 1 under it, and so on.
    depth: usize,
    /// Whether it is its parent's last child (or the last at the top).
    is_last: bool,
}

/// The exchanges depth first, each under its parent span when the parent
/// is in the recording, else under the inbound exchange (an outbound call
/// made from a span of the handler's own) or at the top level (the inbound
/// exchange, calls made outside any request). Siblings are in the order
/// they started. Every exchange is visited once, even when parent ids form
/// a cycle.
fn walk(recording: &Recording) -> Vec<Node> {
    let exchanges = &recording.exchanges;
    let mut by_span: HashMap<SpanId, usize> = HashMap::new();
    for (i, exchange) in exchanges.iter().enumerate() {
        by_span.entry(exchange.span_id).or_insert(i);
    }
    let inbound = exchanges
        .iter()
        .position(|exchange| exchange.kind == ExchangeKind::Server);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); exchanges.len()];
    let mut roots = Vec::new();
    for (i, exchange) in exchanges.iter().enumerate() {
        let parent = match by_span.get(&exchange.parent_span_id) {
            Some(&parent) if parent != i && exchange.parent_span_id != SpanId::INVALID => {
                Some(parent)
            }
            _ => inbound.filter(|&inbound| inbound != i),
        };
        match parent {
            Some(parent) => children[parent].push(i),
            None => roots.push(i),
        }
    }
    let started = |&i: &usize| exchanges[i].start_unix_nanos;
    roots.sort_by_key(started);
    for siblings in &mut children {
        siblings.sort_by_key(started);
    }

    let mut visited = vec![false; exchanges.len()];
    let mut nodes = Vec::with_capacity(exchanges.len());
    let mut stack: Vec<Node> = Vec::new();
    // Exchanges caught in a parent cycle are reachable from no root; the
    // first of them is walked as an extra root.
    for start in roots.into_iter().chain(0..exchanges.len()) {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        stack.push(Node {
            index: start,
            depth: 0,
            is_last: false,
        });
        while let Some(node) = stack.pop() {
            nodes.push(node);
            let next: Vec<usize> = children[node.index]
                .iter()
                .copied()
                .filter(|&child| !visited[child])
                .collect();
            for (n, &child) in next.iter().enumerate().rev() {
                visited[child] = true;
                stack.push(Node {
                    index: child,
                    depth: node.depth + 1,
                    is_last: n + 1 == next.len(),
                });
            }
        }
    }
    if let Some(last_root) = nodes.iter_mut().rev().find(|node| node.depth == 0) {
        last_root.is_last = true;
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{exchange, recording};

    fn shape(exchanges: Vec<Exchange>) -> Vec<(usize, usize, bool)> {
        let mut recording = recording(1, "s", exchanges);
        recording.background = false;
        walk(&recording)
            .into_iter()
            .map(|node| (node.index, node.depth, node.is_last))
            .collect()
    }

    #[test]
    fn calls_hang_under_their_parent_or_the_inbound_exchange() {
        use ExchangeKind::{Client, Server};
        let walked = shape(vec![
            exchange(Server, 1, 99, 10),
            // Its parent (an internal span) is not recorded.
            exchange(Client, 3, 50, 30),
            exchange(Client, 2, 1, 20),
            // Under the call before it.
            exchange(Client, 4, 3, 40),
        ]);
        assert_eq!(
            walked,
            [(0, 0, true), (2, 1, false), (1, 1, true), (3, 2, true)]
        );
    }

    #[test]
    fn background_calls_are_at_the_top_and_cycles_are_walked_once() {
        use ExchangeKind::Client;
        let walked = shape(vec![
            exchange(Client, 1, 0, 10),
            exchange(Client, 2, 3, 20),
            exchange(Client, 3, 2, 30),
            exchange(Client, 4, 4, 40),
        ]);
        assert_eq!(
            walked,
            [(0, 0, false), (3, 0, false), (1, 0, true), (2, 1, true)]
        );
    }
}
