//! Which processes of the service's group are the service, read from
//! `/proc`: those holding a socket that listens on the service's port.
//! `sh -c`, `cargo run` and other wrappers in the group hold none, so
//! their connections are not the service's. Also who else answers on
//! that port, to name it when it is not the service started.

use std::collections::HashSet;
use std::path::Path;

/// The processes of group `pgid` that hold a TCP socket listening on
/// `port` (IPv4 or IPv6, in this process's network namespace).
pub(crate) fn listening_in_group(pgid: u32, port: u16) -> Vec<u32> {
    holding_listener(group(pgid), port)
}

/// Every process this one can look into that holds a TCP socket
/// listening on `port`: who answers there (another user's processes, or
/// those of another network namespace, are not seen).
pub(crate) fn listening(port: u16) -> Vec<u32> {
    holding_listener(all(), port)
}

/// Those of `pids` that hold a TCP socket listening on `port`, sorted.
fn holding_listener(pids: Vec<u32>, port: u16) -> Vec<u32> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut pids: Vec<u32> = pids
        .into_iter()
        .filter(|&pid| holds_any(pid, &inodes))
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether the process `pid` has a file named `name` mapped (a loaded
/// shared library); `None` when its maps cannot be read.
pub(crate) fn has_mapped(pid: u32, name: &str) -> Option<bool> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .ok()
        .map(|maps| maps.lines().any(|line| line.ends_with(name)))
}

/// The executable process `pid` runs, when `/proc` tells.
pub(crate) fn executable(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|path| path.to_string_lossy().into_owned())
}

/// The process's command name (`comm`), for messages.
pub(crate) fn command_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The inodes of the sockets a `/proc/net/tcp{,6}` table lists as
/// listening (state `0A`) on `port`.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit_once(':')?.1;
            let local_port = u16::from_str_radix(local_port, 16).ok()?;
            let listening = *fields.get(3)? == "0A";
            (listening && local_port == port).then(|| fields.get(9)?.parse().ok())?
        })
        .collect()
}

/// The processes of group `pgid` that have not exited (zombies, dead but
/// not yet reaped, have).
pub(crate) fn alive_in_group(pgid: u32) -> Vec<u32> {
    group(pgid)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|state| state != "Z" && state != "X")
            })
        })
        .collect()
}

/// Every process in `/proc`.
fn all() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// The processes whose process group is `pgid`.
fn group(pgid: u32) -> Vec<u32> {
    all()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| process_group(&stat))
                == Some(pgid)
        })
        .collect()
}

/// The process group in a `/proc/PID/stat` line: `pid (comm) state ppid
/// pgrp …`, where comm may hold spaces and parentheses.
fn process_group(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Whether one of `pid`'s descriptors is a socket with one of `inodes`.
fn holds_any(pid: u32, inodes: &HashSet<u64>) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| socket_inode(&target).is_some_and(|inode| inodes.contains(&inode)))
    })
}

/// The inode of a descriptor's `socket:[INODE]` link.
fn socket_inode(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_told_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n   \
            1: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0 20 4 30 10 -1\n   \
            2: 0100007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8081), [4242]);
        assert_eq!(process_group("12 (a (b) c) S 1 34 34 0"), Some(34));
        assert_eq!(socket_inode(Path::new("socket:[4242]")), Some(4242));
        assert_eq!(socket_inode(Path::new("/dev/null")), None);
    }

    #[test]
    fn this_process_is_found_by_its_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id();
        let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let pgid = process_group(&stat).unwrap();
        assert!(listening_in_group(pgid, port).contains(&me));
        assert!(listening(port).contains(&me));
        drop(listener);
        assert!(!listening_in_group(pgid, port).contains(&me));
        assert!(!listening(port).contains(&me));
    }
}
