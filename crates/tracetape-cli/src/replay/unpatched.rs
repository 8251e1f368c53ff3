//! What the preload library reported (`preload.rs` starts the service with
//! it): connections that bypassed tracetape's clients, read from its
//! report file as the run goes, kept only when the service itself made
//! them, and attributed to the replayed requests in flight.
//!
//! Only the service's processes count: the command runs under `sh -c` and
//! may be a wrapper (`cargo run …`), and the library is inherited by every
//! process of the group. The service's processes are those holding the
//! socket that listens on its port (`procfs.rs`), found when each start
//! of it became ready. A line from any other process is ignored (and
//! counted); when no process could be found, every line counts.
//!
//! Attribution: the file is read each time a replayed request completes.
//! A connection read then was made while one of the requests in flight
//! since the previous read was: the one that just completed, or one still
//! in flight. With one candidate (always so at concurrency 1) the finding
//! is that request's; with several, all are listed. What is read before
//! the first request (start-up) or after the last (shutdown) has none.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use tracetape::replay::ReplayId;

use super::preload::LIBRARY;
use super::procfs;

/// Backtrace frames kept per finding.
const FRAMES: usize = 8;

/// One line of the report file.
#[derive(Debug, Clone, Deserialize)]
struct Line {
    kind: String,
    /// A connection's destination (none for a resolution).
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    /// A resolution's host name (none for a connection).
    #[serde(default)]
    host: Option<String>,
    pid: u32,
    blocked: bool,
    #[serde(default)]
    backtrace: Vec<String>,
}

/// A replayed request a finding may belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) id: ReplayId,
    /// `POST /orders`.
    pub(crate) request: String,
}

/// One connection or host-name resolution the service made around
/// tracetape's clients.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// `tcp` (a connection) or `dns` (a resolution).
    pub(crate) kind: String,
    /// A connection's destination.
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    /// A resolution's host name.
    pub(crate) host: Option<String>,
    pub(crate) pid: u32,
    /// Refused (else let through).
    pub(crate) blocked: bool,
    /// The first frames of its backtrace that are not the library's, the
    /// standard library's or libc's: where the service made it.
    pub(crate) frames: Vec<String>,
    /// The replayed requests in flight when it was made: one when it is
    /// known, several when any of them may have, none outside every
    /// request.
    pub(crate) during: Vec<Candidate>,
}

impl Finding {
    /// `127.0.0.1:5432`, `[::1]:5432` for a connection; the host name
    /// for a resolution.
    pub(crate) fn destination(&self) -> String {
        match (&self.address, self.port, &self.host) {
            (Some(address), Some(port), _) if address.contains(':') => {
                format!("[{address}]:{port}")
            }
            (Some(address), Some(port), _) => format!("{address}:{port}"),
            (Some(address), None, _) => address.clone(),
            (None, _, Some(host)) => host.clone(),
            (None, _, None) => "(unknown)".to_owned(),
        }
    }

    /// Whether it is a host-name resolution rather than a connection.
    pub(crate) fn is_resolution(&self) -> bool {
        self.kind == "dns"
    }

    /// The one request it belongs to, when that is known.
    pub(crate) fn request(&self) -> Option<ReplayId> {
        match self.during.as_slice() {
            [one] => Some(one.id),
            _ => None,
        }
    }
}

/// What detection found in a run.
#[derive(Debug, Default)]
pub(crate) struct Unpatched {
    /// Whether detection was on.
    pub(crate) active: bool,
    pub(crate) findings: Vec<Finding>,
    /// Lines from other processes of the service's group (wrappers such
    /// as `sh` or `cargo`), left out.
    pub(crate) ignored: usize,
}

/// The processes that are the service, as the supervisor finds them.
#[derive(Debug, Default)]
pub(crate) struct ServicePids {
    known: Vec<u32>,
    /// A start of the service whose process could not be found: every
    /// process counts.
    unknown: bool,
}

/// Shared between the supervisor, which adds, and the [`Watch`].
pub(crate) type SharedPids = Arc<Mutex<ServicePids>>;

fn lock(pids: &SharedPids) -> MutexGuard<'_, ServicePids> {
    pids.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Finds the service's processes in group `pgid` (those listening on
/// `port`) and adds them to `pids`; returns what to warn about: no such
/// process, or one without the library loaded.
pub(crate) fn identify(pgid: u32, port: u16, pids: &SharedPids) -> Vec<String> {
    let found = procfs::listening_in_group(pgid, port);
    let mut warnings = Vec::new();
    if found.is_empty() {
        warnings.push(format!(
            "unpatched-dependency detection: no process of the service's group listens on port \
             {port}, so tracetape cannot tell the service from the processes around it; \
             connections from every process of the group count"
        ));
    }
    for &pid in &found {
        if procfs::has_mapped(pid, LIBRARY) == Some(false) {
            warnings.push(format!(
                "unpatched-dependency detection cannot work for this service: its process {pid} \
                 ({}) does not have {LIBRARY} loaded (a statically linked binary, or LD_PRELOAD \
                 removed on the way), so connections bypassing tracetape cannot be seen",
                procfs::command_name(pid)
            ));
        }
    }
    let mut pids = lock(pids);
    pids.unknown |= found.is_empty();
    pids.known.extend(found);
    warnings
}

/// Reads the report file as it grows.
#[derive(Debug)]
pub(crate) struct Watch {
    path: PathBuf,
    /// Bytes read so far: up to the end of the last whole line.
    offset: u64,
    pids: SharedPids,
    /// Lines from processes not (yet) known to be the service's, with the
    /// requests in flight when they were read: looked at again at the end,
    /// when a restarted service's processes are known too.
    pending: Vec<(Line, Vec<Candidate>)>,
    found: Unpatched,
}

impl Watch {
    pub(crate) fn new(path: PathBuf, pids: SharedPids) -> Self {
        Self {
            path,
            offset: 0,
            pids,
            pending: Vec::new(),
            found: Unpatched {
                active: true,
                ..Unpatched::default()
            },
        }
    }

    /// Reads the lines added since the last read; `during`: the requests
    /// that were in flight since then.
    pub(crate) fn collect(&mut self, during: &[Candidate]) {
        for line in self.read_new() {
            self.take(line, during.to_vec());
        }
    }

    /// Reads what is left and says what was found.
    pub(crate) fn finish(mut self) -> Unpatched {
        self.collect(&[]);
        for (line, during) in std::mem::take(&mut self.pending) {
            if self.is_service(line.pid) {
                self.found.findings.push(finding(line, during));
            } else {
                self.found.ignored += 1;
            }
        }
        self.found
    }

    fn take(&mut self, line: Line, during: Vec<Candidate>) {
        if self.is_service(line.pid) {
            self.found.findings.push(finding(line, during));
        } else {
            self.pending.push((line, during));
        }
    }

    fn is_service(&self, pid: u32) -> bool {
        let pids = lock(&self.pids);
        pids.unknown || pids.known.contains(&pid)
    }

    /// The whole lines added to the file since the last read; a line the
    /// library is still writing waits for the next read.
    fn read_new(&mut self) -> Vec<Line> {
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&self.path).and_then(|mut file| {
            file.seek(SeekFrom::Start(self.offset))?;
            file.read_to_end(&mut bytes)
        });
        if read.is_err() {
            return Vec::new();
        }
        let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        self.offset += end as u64 + 1;
        bytes[..end]
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect()
    }
}

fn finding(line: Line, during: Vec<Candidate>) -> Finding {
    Finding {
        kind: line.kind,
        address: line.address,
        port: line.port,
        host: line.host,
        pid: line.pid,
        blocked: line.blocked,
        frames: line
            .backtrace
            .into_iter()
            .filter(|frame| is_own(frame))
            .take(FRAMES)
            .collect(),
        during,
    }
}

/// Whether a backtrace frame (`symbol at file:line`) is the service's own
/// rather than the preload library's, the standard library's, libc's, or
/// of the runtime and networking crates a call goes through on its way to
/// `connect` (tokio, mio, socket2, hyper, reqwest, …), so that the first
/// frames kept are where the service made the call.
fn is_own(frame: &str) -> bool {
    const NOT_OWN: [&str; 4] = ["__", "<unknown>", "libc", "tracetape_preload::"];
    /// Crates whose frames are plumbing between the service and libc.
    const PLUMBING: [&str; 18] = [
        "std",
        "core",
        "alloc",
        "tracetape_preload",
        "socket2",
        "mio",
        "tokio",
        "hyper",
        "hyper_util",
        "reqwest",
        "h2",
        "tower",
        "tower_service",
        "futures",
        "futures_util",
        "futures_core",
        "http_body_util",
        "tracing",
    ];
    let symbol = frame.split(" at ").next().unwrap_or(frame);
    let krate = symbol
        .trim_start_matches('<')
        .split("::")
        .next()
        .unwrap_or_default();
    symbol != "connect"
        && symbol != "getaddrinfo"
        && !NOT_OWN.iter().any(|prefix| symbol.starts_with(prefix))
        && !(symbol.contains("::") && PLUMBING.contains(&krate))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn candidate(n: u8) -> Candidate {
        let id = format!("4bf92f3577b34da6a3ce929d0e0e47{n:02x}-00f067aa0ba902b7");
        Candidate {
            id: id.parse().unwrap(),
            request: "POST /orders".to_owned(),
        }
    }

    fn line(pid: u32, port: u16) -> String {
        format!(
            r#"{{"kind":"tcp","address":"127.0.0.1","port":{port},"pid":{pid},"tid":{pid},"blocked":true,"backtrace":["connect at /x/interpose.rs:1","std::net::tcp::TcpStream::connect at /rustc/tcp.rs:2","<unknown>","replay_target::connect_bypassing_tracetape at examples/replay_target.rs:3","replay_target::order::{{{{closure}}}}","__libc_start_main"]}}"#
        ) + "\n"
    }

    #[test]
    fn findings_keep_the_service_s_lines_and_their_own_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unpatched.jsonl");
        std::fs::write(&path, "").unwrap();
        let pids: SharedPids = Arc::default();
        lock(&pids).known.push(10);
        let mut watch = Watch::new(path.clone(), Arc::clone(&pids));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // Start-up: no request; a wrapper's line is left out.
        write!(file, "{}{}", line(10, 1), line(11, 2)).unwrap();
        watch.collect(&[]);
        // One request: it is the one; two: both are listed. A line half
        // written waits.
        write!(file, "{}", line(10, 3)).unwrap();
        watch.collect(&[candidate(1)]);
        let half = line(10, 4);
        write!(file, "{}", &half[..20]).unwrap();
        watch.collect(&[candidate(2), candidate(3)]);
        write!(file, "{}", &half[20..]).unwrap();
        watch.collect(&[candidate(2), candidate(3)]);
        let found = watch.finish();
        assert!(found.active);
        assert_eq!(found.ignored, 1);
        let ports: Vec<Option<u16>> = found.findings.iter().map(|f| f.port).collect();
        assert_eq!(ports, [Some(1), Some(3), Some(4)]);
        let [startup, one, two] = found.findings.as_slice() else {
            panic!()
        };
        assert!(startup.during.is_empty() && startup.request().is_none());
        assert_eq!(one.request(), Some(candidate(1).id));
        assert_eq!(two.during, [candidate(2), candidate(3)]);
        assert_eq!(one.destination(), "127.0.0.1:3");
        assert_eq!(
            one.frames,
            [
                "replay_target::connect_bypassing_tracetape at examples/replay_target.rs:3",
                "replay_target::order::{{closure}}"
            ]
        );
    }

    #[test]
    fn a_resolution_carries_its_host_and_no_destination() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unpatched.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"kind":"dns","host":"localhost","pid":30,"tid":31,"blocked":true,"#,
                r#""backtrace":["getaddrinfo at /x/interpose.rs:1","svc::lookup"]}"#,
                "\n",
                r#"{"kind":"dns","host":"db","address":null,"port":null,"pid":30,"tid":31,"#,
                r#""blocked":false,"backtrace":[]}"#,
                "\n"
            ),
        )
        .unwrap();
        let pids: SharedPids = Arc::default();
        lock(&pids).known.push(30);
        let mut watch = Watch::new(path, pids);
        watch.collect(&[candidate(1)]);
        let found = watch.finish();
        let [absent, null] = found.findings.as_slice() else {
            panic!("{:?}", found.findings)
        };
        assert!(absent.is_resolution());
        assert_eq!(absent.host.as_deref(), Some("localhost"));
        assert_eq!((absent.address.as_deref(), absent.port), (None, None));
        assert_eq!(absent.destination(), "localhost");
        assert_eq!(absent.frames, ["svc::lookup"]);
        assert_eq!(null.destination(), "db");
    }

    #[test]
    fn frames_of_the_runtime_and_client_crates_are_not_the_service_s() {
        for plumbing in [
            "socket2::sys::connect at /x/socket2/src/sys/unix.rs:354:28",
            "tokio::net::tcp::socket::TcpSocket::connect::{{closure}}",
            "<hyper_util::client::legacy::connect::http::HttpConnector<R> as tower_service::Service<http::uri::Uri>>::call::{{closure}}",
            "<reqwest::async_impl::client::Pending as core::future::future::Future>::poll",
            "std::sys::net::connection::socket::lookup_host",
            "getaddrinfo at /x/interpose.rs:1",
        ] {
            assert!(!is_own(plumbing), "{plumbing}");
        }
        for own in [
            "replay_target::call_with_plain_client::{{closure}} at examples/replay_target.rs:9",
            "tokio_postgres_wrapper::connect",
            "<my_service::Db as my_service::Store>::get",
        ] {
            assert!(is_own(own), "{own}");
        }
    }

    #[test]
    fn a_restarted_service_s_lines_count_once_its_process_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unpatched.jsonl");
        std::fs::write(&path, line(20, 1)).unwrap();
        let pids: SharedPids = Arc::default();
        let mut watch = Watch::new(path, Arc::clone(&pids));
        watch.collect(&[candidate(1)]);
        lock(&pids).known.push(20);
        let found = watch.finish();
        assert_eq!(found.ignored, 0);
        assert_eq!(found.findings[0].request(), Some(candidate(1).id));
    }
}
