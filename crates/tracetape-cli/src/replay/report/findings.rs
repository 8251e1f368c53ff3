//! Unpatched connections and resolutions as the text and JUnit reports
//! show them: one block each, and the summary line.

use super::super::unpatched::{Finding, Unpatched};
use crate::format::clean;

/// Backtrace frames shown per connection.
const SHOWN_FRAMES: usize = 3;

/// One connection or resolution: where to (or which host name), what became of it, which request made it,
/// and where in the service.
pub(crate) fn block(finding: &Finding) -> String {
    let during = match finding.during.as_slice() {
        [] => "outside the replayed requests (at start-up or shutdown)".to_owned(),
        [one] => format!("during {} ({})", clean(&one.request, 120), one.id),
        several => format!(
            "during one of the {} requests in flight: {}",
            several.len(),
            several
                .iter()
                .map(|candidate| format!("{} ({})", clean(&candidate.request, 120), candidate.id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut text = format!(
        "unpatched {}: {} {} {}, {during}, by process {}\n",
        if finding.is_resolution() {
            "resolution"
        } else {
            "connection"
        },
        finding.kind,
        clean(&finding.destination(), 200),
        if finding.blocked {
            "blocked"
        } else {
            "allowed"
        },
        finding.pid
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

/// `unpatched connections: 2 (1 blocked, 1 allowed)`, when detection was
/// on.
pub(crate) fn summary(unpatched: &Unpatched) -> Option<String> {
    if !unpatched.active {
        return None;
    }
    let blocked = unpatched.findings.iter().filter(|f| f.blocked).count();
    let mut line = format!(
        "unpatched connections: {} ({blocked} blocked, {} allowed)",
        unpatched.findings.len(),
        unpatched.findings.len() - blocked
    );
    if unpatched.ignored > 0 {
        line.push_str(&format!(
            "; {} from other processes of the service's group ignored",
            unpatched.ignored
        ));
    }
    Some(line)
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
        }
    }

    #[test]
    fn a_block_names_destination_request_and_frames() {
        assert_eq!(
            block(&finding(1)),
            "unpatched connection: tcp [::1]:5432 blocked, during POST /orders \
             (4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7), by process 7\n  \
             at svc::f1 at src/main.rs:1\n  at svc::f2 at src/main.rs:2\n  at svc::f3 at src/main.rs:3\n"
        );
        assert!(block(&finding(2)).contains(", during one of the 2 requests in flight: POST"));
        assert!(block(&finding(0)).contains(", outside the replayed requests"));
        let dns = Finding {
            kind: "dns".to_owned(),
            address: None,
            port: None,
            host: Some("localhost".to_owned()),
            ..finding(1)
        };
        assert!(
            block(&dns).starts_with("unpatched resolution: dns localhost blocked, during POST"),
            "{}",
            block(&dns)
        );
    }

    #[test]
    fn the_summary_counts_only_when_detection_was_on() {
        assert_eq!(summary(&Unpatched::default()), None);
        let mut unpatched = Unpatched {
            active: true,
            findings: vec![finding(1)],
            ignored: 2,
        };
        unpatched.findings[0].blocked = false;
        assert_eq!(
            summary(&unpatched).unwrap(),
            "unpatched connections: 1 (0 blocked, 1 allowed); 2 from other processes of the \
             service's group ignored"
        );
    }
}
