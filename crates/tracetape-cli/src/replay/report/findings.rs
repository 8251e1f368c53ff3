//! Unpatched connections and resolutions as the text and JUnit reports
//! show them: one block each, and the summary line.

use super::super::unpatched::{Finding, Unpatched};
use crate::format::clean;

/// Backtrace frames shown per connection.
const SHOWN_FRAMES: usize = 3;

/// One connection or resolution: its kind and where to (or which host
/// name), what became of it, which request made it, which process (a
/// child of the service with its command line), whether it fails the run
/// (`fails`: with `--fail-on-unpatched`, every finding does), and where in
/// the service: `unpatched connection: tcp 127.0.0.1:5432 blocked, …`,
/// `unpatched connection: tcp db.internal (10.0.0.5:5432) blocked, …` when
/// the host name the address was resolved from is known, `unpatched
/// connection: udp 10.0.0.7:8125 …`, `unpatched resolution: dns
/// db.internal via 127.0.0.53:53 …`.
pub(crate) fn block(finding: &Finding, fails: bool) -> String {
    let listed = |requests: &[super::super::unpatched::Candidate]| {
        requests
            .iter()
            .map(|candidate| format!("{} ({})", clean(&candidate.request, 120), candidate.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let during = match (finding.during.as_slice(), finding.in_flight.as_slice()) {
        ([one], _) => format!("during {} ({})", clean(&one.request, 120), one.id),
        ([], []) => "outside the replayed requests (at start-up or shutdown)".to_owned(),
        ([], in_flight) => format!(
            "by no replayed request's work (not on a thread running one then; in flight: {})",
            listed(in_flight)
        ),
        (several, _) => format!("during one of {}", listed(several)),
    };
    let by = match &finding.child {
        Some(command) => format!(
            "by process {} started by the service: {}",
            finding.pid,
            clean(command, 200)
        ),
        None => format!("by process {}", finding.pid),
    };
    let mut text = format!(
        "unpatched {}: {} {} {}, {during}, {by}{}\n",
        finding.noun(),
        clean(&finding.kind, 20),
        clean(&finding.destination(), 200),
        if finding.blocked {
            "blocked"
        } else {
            "allowed"
        },
        if fails {
            "; fails the run (--fail-on-unpatched)"
        } else {
            ""
        }
    );
    for frame in finding.frames.iter().take(SHOWN_FRAMES) {
        text.push_str("  at ");
        text.push_str(&clean(frame, usize::MAX));
        text.push('\n');
    }
    if finding.frames.is_empty() {
        text.push_str("  (no frame of the service's own in its backtrace)\n");
    }
    text
}

/// `unpatched: 2 connections, 1 resolution (2 blocked, 1 allowed)`, when
/// detection was on: connections (`tcp`, `udp`) and resolutions (`dns`)
/// counted apart, then what became of them all, and, when there are any
/// and `fails` (`--fail-on-unpatched`), that they fail the run.
pub(crate) fn summary(unpatched: &Unpatched, fails: bool) -> Option<String> {
    if !unpatched.active {
        return None;
    }
    let findings = &unpatched.findings;
    let resolutions = findings.iter().filter(|f| f.is_resolution()).count();
    let connections = findings.len() - resolutions;
    let blocked = findings.iter().filter(|f| f.blocked).count();
    let mut line = format!(
        "unpatched: {}, {} ({blocked} blocked, {} allowed)",
        counted(connections, "connection"),
        counted(resolutions, "resolution"),
        findings.len() - blocked
    );
    if unpatched.ignored > 0 {
        line.push_str(&format!(
            "; {} from other processes of the service's group ignored",
            unpatched.ignored
        ));
    }
    if fails && !findings.is_empty() {
        line.push_str(&format!(
            "; {} the run (--fail-on-unpatched)",
            if findings.len() == 1 {
                "it fails"
            } else {
                "they fail"
            }
        ));
    }
    Some(line)
}

/// `1 connection`, `0 connections`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::super::unpatched::Candidate;
    use super::*;

    fn finding(during: usize) -> Finding {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7";
        Finding {
            kind: "tcp".to_owned(),
            address: Some("::1".to_owned()),
            port: Some(5432),
            host: None,
            pid: 7,
            child: None,
            blocked: true,
            frames: (1..=4)
                .map(|n| format!("svc::f{n} at src/main.rs:{n}"))
                .collect(),
            during: (0..during)
                .map(|_| Candidate {
                    id: id.parse().unwrap(),
                    request: "POST /orders".to_owned(),
                })
                .collect(),
            in_flight: Vec::new(),
        }
    }

    fn udp(address: &str, port: u16) -> Finding {
        Finding {
            kind: "udp".to_owned(),
            address: Some(address.to_owned()),
            port: Some(port),
            ..finding(1)
        }
    }

    /// A resolution of `host`, asked of `server` (`address`, `port`) when
    /// the service's own resolver sent the query.
    fn dns(host: &str, server: Option<(&str, u16)>) -> Finding {
        Finding {
            kind: "dns".to_owned(),
            address: server.map(|(address, _)| address.to_owned()),
            port: server.map(|(_, port)| port),
            host: Some(host.to_owned()),
            ..finding(1)
        }
    }

    fn first_line(finding: &Finding) -> String {
        block(finding, false).lines().next().unwrap().to_owned()
    }

    #[test]
    fn a_block_names_destination_request_and_frames() {
        assert_eq!(
            block(&finding(1), false),
            "unpatched connection: tcp [::1]:5432 blocked, during POST /orders \
             (4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7), by process 7\n  \
             at svc::f1 at src/main.rs:1\n  at svc::f2 at src/main.rs:2\n  at svc::f3 at src/main.rs:3\n"
        );
        assert!(block(&finding(2), false).contains(", during one of POST /orders ("));
        let unattributed = Finding {
            in_flight: finding(1).during,
            ..finding(0)
        };
        assert!(
            first_line(&unattributed).contains(
                ", by no replayed request's work (not on a thread running one then; in flight: \
                 POST /orders (4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7)), by process 7"
            ),
            "{}",
            first_line(&unattributed)
        );
        let child = Finding {
            pid: 9,
            child: Some("curl -s http://127.0.0.1:9/".to_owned()),
            ..finding(1)
        };
        assert!(
            first_line(&child)
                .ends_with(", by process 9 started by the service: curl -s http://127.0.0.1:9/"),
            "{}",
            first_line(&child)
        );
        assert!(
            block(&finding(1), true)
                .lines()
                .next()
                .unwrap()
                .ends_with(", by process 7; fails the run (--fail-on-unpatched)"),
            "{}",
            block(&finding(1), true)
        );
        assert!(block(&finding(0), false).contains(", outside the replayed requests"));
        let no_frames = Finding {
            frames: Vec::new(),
            ..finding(1)
        };
        assert!(
            block(&no_frames, false)
                .ends_with("\n  (no frame of the service's own in its backtrace)\n"),
            "{}",
            block(&no_frames, false)
        );
    }

    #[test]
    fn a_tcp_connection_shows_its_address_and_port() {
        let v4 = Finding {
            address: Some("127.0.0.1".to_owned()),
            ..finding(1)
        };
        assert_eq!(v4.destination(), "127.0.0.1:5432");
        assert_eq!(finding(1).destination(), "[::1]:5432");
        assert!(!v4.is_resolution());
        assert!(
            first_line(&v4).starts_with("unpatched connection: tcp 127.0.0.1:5432 blocked, during"),
            "{}",
            block(&v4, false)
        );
    }

    #[test]
    fn a_connection_with_a_known_host_shows_it_before_address_and_port() {
        let named = Finding {
            address: Some("10.0.0.5".to_owned()),
            host: Some("db.internal".to_owned()),
            ..finding(1)
        };
        assert_eq!(named.destination(), "db.internal (10.0.0.5:5432)");
        assert!(!named.is_resolution());
        assert_eq!(named.noun(), "connection");
        assert_eq!(
            first_line(&named),
            "unpatched connection: tcp db.internal (10.0.0.5:5432) blocked, during \
             POST /orders (4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7), by process 7"
        );
        let v6 = Finding {
            host: Some("localhost".to_owned()),
            ..finding(1)
        };
        assert_eq!(v6.destination(), "localhost ([::1]:5432)");
        let statsd = Finding {
            host: Some("statsd".to_owned()),
            ..udp("10.0.0.7", 8125)
        };
        assert_eq!(statsd.destination(), "statsd (10.0.0.7:8125)");
        assert!(
            first_line(&statsd)
                .starts_with("unpatched connection: udp statsd (10.0.0.7:8125) blocked, during"),
            "{}",
            block(&statsd, false)
        );
        // A line with a host but no address still names where it went.
        let no_address = Finding {
            address: None,
            port: None,
            ..named
        };
        assert_eq!(no_address.destination(), "db.internal");
    }

    #[test]
    fn a_udp_connection_shows_its_address_and_port() {
        let statsd = udp("10.0.0.7", 8125);
        assert_eq!(statsd.destination(), "10.0.0.7:8125");
        assert_eq!(udp("fe80::1", 53).destination(), "[fe80::1]:53");
        assert!(!statsd.is_resolution());
        assert_eq!(statsd.noun(), "connection");
        assert!(
            first_line(&statsd)
                .starts_with("unpatched connection: udp 10.0.0.7:8125 blocked, during"),
            "{}",
            block(&statsd, false)
        );
    }

    #[test]
    fn a_resolution_shows_its_host_and_the_name_server_when_known() {
        let through_libc = dns("localhost", None);
        assert!(through_libc.is_resolution());
        assert_eq!(through_libc.noun(), "resolution");
        assert_eq!(through_libc.destination(), "localhost");
        assert!(
            first_line(&through_libc)
                .starts_with("unpatched resolution: dns localhost blocked, during POST"),
            "{}",
            block(&through_libc, false)
        );
        // The service's own resolver asked a name server over UDP.
        let own = Finding {
            blocked: false,
            ..dns("db.internal", Some(("127.0.0.53", 53)))
        };
        assert_eq!(own.destination(), "db.internal via 127.0.0.53:53");
        assert_eq!(
            dns("db.internal", Some(("::1", 53))).destination(),
            "db.internal via [::1]:53"
        );
        assert!(
            first_line(&own).starts_with(
                "unpatched resolution: dns db.internal via 127.0.0.53:53 allowed, during POST"
            ),
            "{}",
            block(&own, false)
        );
        // A line without its host still says which name server.
        let unknown = Finding {
            host: None,
            ..dns("x", Some(("127.0.0.53", 53)))
        };
        assert_eq!(unknown.destination(), "(unknown host) via 127.0.0.53:53");
    }

    #[test]
    fn the_summary_counts_connections_and_resolutions_apart() {
        assert_eq!(summary(&Unpatched::default(), false), None);
        let none = Unpatched {
            active: true,
            ..Unpatched::default()
        };
        assert_eq!(
            summary(&none, false).unwrap(),
            "unpatched: 0 connections, 0 resolutions (0 blocked, 0 allowed)"
        );
        let mut unpatched = Unpatched {
            active: true,
            findings: vec![finding(1)],
            ignored: 2,
        };
        unpatched.findings[0].blocked = false;
        assert_eq!(
            summary(&unpatched, false).unwrap(),
            "unpatched: 1 connection, 0 resolutions (0 blocked, 1 allowed); 2 from other \
             processes of the service's group ignored"
        );
        let unpatched = Unpatched {
            active: true,
            findings: vec![
                finding(1),
                udp("10.0.0.7", 8125),
                dns("localhost", None),
                Finding {
                    blocked: false,
                    ..dns("db.internal", Some(("127.0.0.53", 53)))
                },
            ],
            ignored: 0,
        };
        assert_eq!(
            summary(&unpatched, false).unwrap(),
            "unpatched: 2 connections, 2 resolutions (3 blocked, 1 allowed)"
        );
        let one_resolution = Unpatched {
            active: true,
            findings: vec![dns("localhost", None)],
            ignored: 0,
        };
        assert_eq!(
            summary(&one_resolution, false).unwrap(),
            "unpatched: 0 connections, 1 resolution (1 blocked, 0 allowed)"
        );
        assert_eq!(
            summary(&one_resolution, true).unwrap(),
            "unpatched: 0 connections, 1 resolution (1 blocked, 0 allowed); it fails the run \
             (--fail-on-unpatched)"
        );
        assert_eq!(
            summary(&none, true).unwrap(),
            "unpatched: 0 connections, 0 resolutions (0 blocked, 0 allowed)"
        );
    }
}
