//! Which process made a call, for a report line: its command line and its
//! parents, read from `/proc` when the call is made, since a short-lived
//! child (a `curl` the service runs) is gone by the time the report is
//! read. With the parents, `tracetape replay` tells the service's children
//! (whose lines count) from the wrappers around it (whose lines do not);
//! each parent's executable tells a process that was a wrapper then and
//! became the service later (`sh -c 'a; exec svc'`: `a`'s parent is the
//! shell, whose process id the service takes over).

/// The longest command line written, in characters; longer ones are cut
/// and end with `…`.
const MAX_COMMAND: usize = 300;

/// Parents followed up from the process at most.
const MAX_PARENTS: usize = 16;

/// The calling process's command line, its arguments joined by spaces
/// (cut at [`MAX_COMMAND`] characters); `None` when it cannot be read.
pub(crate) fn command_line() -> Option<String> {
    let raw = std::fs::read("/proc/self/cmdline").ok()?;
    let joined = raw
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then(|| clip(&joined))
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_COMMAND) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// One of a process's parents: its id and, when `/proc` tells, the
/// executable it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parent {
    pub(crate) pid: u32,
    pub(crate) exe: Option<String>,
}

/// The calling process's parent, its parent's, and so on up to (not
/// including) process 1, at most [`MAX_PARENTS`]; as far as `/proc` tells.
pub(crate) fn parents() -> Vec<Parent> {
    let mut parents = Vec::new();
    let mut pid = std::os::unix::process::parent_id();
    while pid > 1 && parents.len() < MAX_PARENTS {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|path| path.to_string_lossy().into_owned());
        parents.push(Parent { pid, exe });
        match std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| parent_in_stat(&stat))
        {
            Some(parent) => pid = parent,
            None => break,
        }
    }
    parents
}

/// The parent in a `/proc/PID/stat` line: `pid (comm) state ppid …`,
/// where comm may hold spaces and parentheses.
fn parent_in_stat(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_command_line_and_its_parent_first() {
        let command = command_line().unwrap_or_default();
        let exe = std::env::args().next().unwrap_or_default();
        assert!(command.starts_with(&exe), "{command}");
        let parents = parents();
        if std::os::unix::process::parent_id() > 1 {
            let first = parents.first().map(|parent| parent.pid);
            assert_eq!(first, Some(std::os::unix::process::parent_id()));
        }
    }

    #[test]
    fn the_parent_is_read_past_a_command_name_with_parentheses() {
        assert_eq!(parent_in_stat("12 (a (b) c) S 34 56 56 0"), Some(34));
        assert_eq!(parent_in_stat("garbage"), None);
        let long = "x".repeat(MAX_COMMAND + 5);
        assert_eq!(clip(&long).chars().count(), MAX_COMMAND + 1);
        assert!(clip(&long).ends_with('…'));
        assert_eq!(clip("curl -s x"), "curl -s x");
    }
}
