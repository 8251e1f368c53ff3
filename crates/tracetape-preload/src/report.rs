//! One bypassing connection as a JSON line, and appending it to the report.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

/// One connection that did not go through the instrumented clients.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) dest: SocketAddr,
    pub(crate) pid: u32,
    pub(crate) tid: i64,
    pub(crate) blocked: bool,
    pub(crate) backtrace: Vec<String>,
}

impl Event {
    /// The report line, newline included:
    /// `{"kind":"tcp","address":…,"port":…,"pid":…,"tid":…,"blocked":…,"backtrace":[…]}`.
    pub(crate) fn json_line(&self) -> String {
        let mut line = String::with_capacity(256);
        // Writing to a `String` cannot fail.
        let _ = write!(
            line,
            r#"{{"kind":"tcp","address":"{}","port":{},"pid":{},"tid":{},"blocked":{},"backtrace":["#,
            self.dest.ip(),
            self.dest.port(),
            self.pid,
            self.tid,
            self.blocked,
        );
        for (n, frame) in self.backtrace.iter().enumerate() {
            if n > 0 {
                line.push(',');
            }
            push_json_string(&mut line, frame);
        }
        line.push_str("]}\n");
        line
    }
}

/// Appends `line` to the file at `path` with one `write` on a descriptor
/// opened with `O_APPEND`, so that lines from threads and processes sharing
/// the file do not interleave. Failures are ignored: reporting must never
/// break the connection's caller.
pub(crate) fn append(path: &Path, line: &str) {
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write(line.as_bytes());
    }
}

/// The frames of the current thread's stack, one string each
/// (`symbol at file:line` where known), starting at the interposed
/// `connect` so that the library's own frames are left out.
pub(crate) fn backtrace() -> Vec<String> {
    let rendered = std::backtrace::Backtrace::force_capture().to_string();
    let frames = frames(&rendered);
    match frames.iter().position(|frame| is_connect(frame)) {
        Some(start) => frames[start..].to_vec(),
        None => frames,
    }
}

/// Whether a rendered frame is the interposed `connect` itself.
fn is_connect(frame: &str) -> bool {
    frame == "connect" || frame.starts_with("connect at ")
}

/// Splits `std::backtrace::Backtrace`'s rendering (`   N: symbol` lines, each
/// followed by `             at file:line` lines) into one string per frame.
fn frames(rendered: &str) -> Vec<String> {
    let mut frames: Vec<String> = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if let Some(location) = line.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                frame.push_str(" at ");
                frame.push_str(location);
            }
        } else if let Some((index, symbol)) = line.split_once(": ")
            && !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
        {
            frames.push(symbol.to_owned());
        }
    }
    frames
}

/// `value` as a JSON string literal.
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_line_escapes_frames_and_ends_with_a_newline() {
        let event = Event {
            dest: "[2001:db8::1]:443".parse().unwrap(),
            pid: 7,
            tid: 8,
            blocked: false,
            backtrace: vec!["a\"b\\c".to_owned(), "tab\there\u{1}".to_owned()],
        };
        assert_eq!(
            event.json_line(),
            concat!(
                r#"{"kind":"tcp","address":"2001:db8::1","port":443,"pid":7,"tid":8,"#,
                r#""blocked":false,"backtrace":["a\"b\\c","tab\there\u0001"]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn frames_join_symbols_with_their_locations() {
        let rendered = "   0: tracetape_preload::report::backtrace\n             at ./src/report.rs:10:5\n   1: connect\n             at ./src/interpose.rs:3:1\n   2: child::main\n   3: <unknown>\n";
        assert_eq!(
            frames(rendered),
            [
                "tracetape_preload::report::backtrace at ./src/report.rs:10:5",
                "connect at ./src/interpose.rs:3:1",
                "child::main",
                "<unknown>",
            ]
        );
    }
}
