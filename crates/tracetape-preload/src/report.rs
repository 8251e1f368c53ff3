//! One bypassing connection or resolution as a JSON line, and appending it
//! to the report.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::process::Parent;

/// What was reached for around the instrumented clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A TCP connection to this destination.
    Tcp(SocketAddr),
    /// A UDP socket connected to, or a datagram sent to, this destination.
    Udp(SocketAddr),
    /// A lookup of this host name through the C library.
    Dns(String),
    /// A DNS query for `host` sent to the name server `server` by a
    /// resolver speaking DNS itself.
    DnsQuery {
        /// The name the query's first question asks for.
        host: String,
        /// Where the query was sent.
        server: SocketAddr,
    },
}

/// One connection or resolution that did not go through the instrumented
/// clients.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) target: Target,
    /// For a [`Target::Tcp`] or [`Target::Udp`], the host name its address
    /// was resolved from in this process, when known (see the `names`
    /// module); not written for the other targets.
    pub(crate) host: Option<String>,
    pub(crate) pid: u32,
    pub(crate) tid: i64,
    /// When the call was made: nanoseconds since the Unix epoch.
    pub(crate) at: u64,
    pub(crate) blocked: bool,
    pub(crate) backtrace: Vec<String>,
    /// The process's command line, when it could be read.
    pub(crate) command: Option<String>,
    /// The process's parent, its parent's, and so on (see the `process`
    /// module).
    pub(crate) parents: Vec<Parent>,
}

impl Event {
    /// The report line, newline included:
    /// `{"kind":"tcp","address":…,"port":…,"pid":…,"tid":…,"at":…,"blocked":…,"backtrace":[…]}`
    /// for a TCP connection, the same with `"kind":"udp"` for a datagram
    /// (both with `"host":…` after `"port"` when the address's host name
    /// is known),
    /// `{"kind":"dns","host":…,"pid":…,…}` for a resolution, and
    /// `{"kind":"dns","host":…,"address":…,"port":…,"pid":…,…}` for a DNS
    /// query sent to a name server; each ends with the process's
    /// `"command"` and `"parents"` (its parent first, each
    /// `{"pid":…,"exe":…}`, the executable when known) when known.
    pub(crate) fn json_line(&self) -> String {
        let mut line = String::with_capacity(256);
        // Writing to a `String` cannot fail.
        match &self.target {
            Target::Tcp(dest) => push_destination(&mut line, "tcp", *dest, self.host.as_deref()),
            Target::Udp(dest) => push_destination(&mut line, "udp", *dest, self.host.as_deref()),
            Target::Dns(host) => {
                line.push_str(r#"{"kind":"dns","host":"#);
                push_json_string(&mut line, host);
                line.push(',');
            }
            Target::DnsQuery { host, server } => {
                line.push_str(r#"{"kind":"dns","host":"#);
                push_json_string(&mut line, host);
                let _ = write!(
                    line,
                    r#","address":"{}","port":{},"#,
                    server.ip(),
                    server.port()
                );
            }
        }
        let _ = write!(
            line,
            r#""pid":{},"tid":{},"at":{},"blocked":{},"backtrace":["#,
            self.pid, self.tid, self.at, self.blocked,
        );
        for (n, frame) in self.backtrace.iter().enumerate() {
            if n > 0 {
                line.push(',');
            }
            push_json_string(&mut line, frame);
        }
        line.push(']');
        if let Some(command) = &self.command {
            line.push_str(r#","command":"#);
            push_json_string(&mut line, command);
        }
        if !self.parents.is_empty() {
            line.push_str(r#","parents":["#);
            for (n, parent) in self.parents.iter().enumerate() {
                if n > 0 {
                    line.push(',');
                }
                let _ = write!(line, r#"{{"pid":{}"#, parent.pid);
                if let Some(exe) = &parent.exe {
                    line.push_str(r#","exe":"#);
                    push_json_string(&mut line, exe);
                }
                line.push('}');
            }
            line.push(']');
        }
        line.push_str("}\n");
        line
    }
}

/// Starts a line with its `kind`, the `address` and `port` of `dest` and,
/// when known, the `host` name its address was resolved from.
fn push_destination(line: &mut String, kind: &str, dest: SocketAddr, host: Option<&str>) {
    // Writing to a `String` cannot fail.
    let _ = write!(
        line,
        r#"{{"kind":"{kind}","address":"{}","port":{},"#,
        dest.ip(),
        dest.port()
    );
    if let Some(host) = host {
        line.push_str(r#""host":"#);
        push_json_string(line, host);
        line.push(',');
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
/// function `entry` (`connect`, `getaddrinfo`) so that the library's own
/// frames are left out.
pub(crate) fn backtrace(entry: &str) -> Vec<String> {
    let rendered = std::backtrace::Backtrace::force_capture().to_string();
    let frames = frames(&rendered);
    match frames.iter().position(|frame| is_entry(frame, entry)) {
        Some(start) => frames[start..].to_vec(),
        None => frames,
    }
}

/// Whether a rendered frame is the interposed function `entry` itself.
fn is_entry(frame: &str, entry: &str) -> bool {
    frame
        .strip_prefix(entry)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(" at "))
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
            target: Target::Tcp("[2001:db8::1]:443".parse().unwrap()),
            host: None,
            pid: 7,
            tid: 8,
            at: 1_700_000_000_123_456_789,
            blocked: false,
            backtrace: vec!["a\"b\\c".to_owned(), "tab\there\u{1}".to_owned()],
            command: None,
            parents: Vec::new(),
        };
        assert_eq!(
            event.json_line(),
            concat!(
                r#"{"kind":"tcp","address":"2001:db8::1","port":443,"pid":7,"tid":8,"#,
                r#""at":1700000000123456789,"#,
                r#""blocked":false,"backtrace":["a\"b\\c","tab\there\u0001"]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn a_resolution_s_line_names_the_host_instead_of_address_and_port() {
        let event = Event {
            target: Target::Dns("db.\"internal\"".to_owned()),
            host: None,
            pid: 7,
            tid: 8,
            at: 9,
            blocked: true,
            backtrace: vec!["getaddrinfo".to_owned()],
            command: None,
            parents: Vec::new(),
        };
        assert_eq!(
            event.json_line(),
            concat!(
                r#"{"kind":"dns","host":"db.\"internal\"","pid":7,"tid":8,"at":9,"blocked":true,"#,
                r#""backtrace":["getaddrinfo"]}"#,
                "\n"
            )
        );
        assert!(is_entry(
            "getaddrinfo at ./src/interpose.rs:1",
            "getaddrinfo"
        ));
        assert!(!is_entry("getaddrinfo_a", "getaddrinfo"));
    }

    #[test]
    fn a_datagram_s_line_is_udp_and_a_dns_query_s_names_host_and_server() {
        let udp = Event {
            target: Target::Udp("127.0.0.1:8125".parse().unwrap()),
            host: None,
            pid: 1,
            tid: 2,
            at: 3,
            blocked: true,
            backtrace: vec!["sendto".to_owned()],
            command: None,
            parents: Vec::new(),
        };
        assert_eq!(
            udp.json_line(),
            concat!(
                r#"{"kind":"udp","address":"127.0.0.1","port":8125,"pid":1,"tid":2,"at":3,"#,
                r#""blocked":true,"backtrace":["sendto"]}"#,
                "\n"
            )
        );
        let query = Event {
            target: Target::DnsQuery {
                host: "db.internal".to_owned(),
                server: "[::1]:53".parse().unwrap(),
            },
            // Never written for a DNS query: its `host` is the question's.
            host: Some("ignored".to_owned()),
            pid: 1,
            tid: 2,
            at: 3,
            blocked: false,
            backtrace: Vec::new(),
            command: None,
            parents: Vec::new(),
        };
        assert_eq!(
            query.json_line(),
            concat!(
                r#"{"kind":"dns","host":"db.internal","address":"::1","port":53,"pid":1,"#,
                r#""tid":2,"at":3,"blocked":false,"backtrace":[]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn a_connection_s_line_names_its_host_after_the_port_when_known() {
        let tcp = Event {
            target: Target::Tcp("127.0.0.1:5432".parse().unwrap()),
            host: Some("local\"host".to_owned()),
            pid: 1,
            tid: 2,
            at: 3,
            blocked: true,
            backtrace: vec!["connect".to_owned()],
            command: None,
            parents: Vec::new(),
        };
        assert_eq!(
            tcp.json_line(),
            concat!(
                r#"{"kind":"tcp","address":"127.0.0.1","port":5432,"host":"local\"host","#,
                r#""pid":1,"tid":2,"at":3,"blocked":true,"backtrace":["connect"]}"#,
                "\n"
            )
        );
        let udp = Event {
            target: Target::Udp("[::1]:8125".parse().unwrap()),
            host: Some("localhost".to_owned()),
            backtrace: Vec::new(),
            ..tcp
        };
        assert_eq!(
            udp.json_line(),
            concat!(
                r#"{"kind":"udp","address":"::1","port":8125,"host":"localhost","#,
                r#""pid":1,"tid":2,"at":3,"blocked":true,"backtrace":[]}"#,
                "\n"
            )
        );
        // A resolution's line has its own `host`, and only that one.
        let dns = Event {
            target: Target::Dns("db.internal".to_owned()),
            host: Some("ignored".to_owned()),
            ..udp
        };
        assert!(
            dns.json_line()
                .starts_with(r#"{"kind":"dns","host":"db.internal","pid":1,"#),
            "{}",
            dns.json_line()
        );
    }

    #[test]
    fn a_line_ends_with_the_process_s_command_line_and_parents() {
        let event = Event {
            target: Target::Tcp("127.0.0.1:80".parse().unwrap()),
            host: None,
            pid: 9,
            tid: 9,
            at: 1,
            blocked: true,
            backtrace: vec!["connect".to_owned()],
            command: Some("curl -s \"http://x\"".to_owned()),
            parents: vec![
                Parent {
                    pid: 8,
                    exe: Some("/bin/sh".to_owned()),
                },
                Parent { pid: 7, exe: None },
            ],
        };
        assert_eq!(
            event.json_line(),
            concat!(
                r#"{"kind":"tcp","address":"127.0.0.1","port":80,"pid":9,"tid":9,"at":1,"#,
                r#""blocked":true,"backtrace":["connect"],"command":"curl -s \"http://x\"","#,
                r#""parents":[{"pid":8,"exe":"/bin/sh"},{"pid":7}]}"#,
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
