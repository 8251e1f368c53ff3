//! What the preload library reported (`preload.rs` starts the service with
//! it): connections and resolutions that bypassed tracetape's clients,
//! read from its report file as the run goes, kept only when the service
//! itself (or a process it started) made them, and attributed to the
//! replayed requests that made them.
//!
//! Only the service's processes and their children count: the command
//! runs under `sh -c` and may be a wrapper (`cargo run …`), and the
//! library is inherited by every process of the group. The service's
//! processes are those holding the socket that listens on its port
//! (`procfs.rs`), found when each start of it became ready; a line whose
//! process has one of them among its parents (which the library writes
//! into the line, as it writes the command line, since a child may be
//! gone by the time the line is read) is a child's, reported with its
//! command line. A line from any other process is ignored (and counted);
//! when no process could be found, every line counts.
//!
//! Attribution is exact or none: each line carries the thread and the
//! time of the call, and each replayed request's log the threads and
//! times its work ran ([`PollTimes`]): its handler's polls, and the polls
//! and runs of work carrying its context to other threads (tasks spawned
//! with `context::spawn`, closures on tokio's blocking pool through
//! `context::spawn_blocking`, `bind`, threads), up to its response head. A
//! line made on a thread while it ran a request's work is that
//! request's, at any concurrency. Any other line (a background task or a
//! task spawned without the request's context, a lookup on tokio's own
//! blocking pool, a child process, work after the response head) names no
//! request: it is not told to one by guessing. Such a line keeps the
//! requests that were in flight when it was read (the file is read each
//! time a replayed request completes: the one that just completed and
//! those still in flight), which the reports show as context, never as
//! the one that made it.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use tracetape::replay::{PollTimes, ReplayId};

use super::preload::LIBRARY;
use super::procfs;

/// Backtrace frames kept per finding.
const FRAMES: usize = 8;

/// One line of the report file.
#[derive(Debug, Clone, Deserialize)]
struct Line {
    kind: String,
    /// A connection's destination, or the name server a resolution's
    /// query was sent to (none for a lookup through libc).
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    /// A resolution's host name; for a connection, the host name its
    /// address was resolved from in the service, when the library knew it.
    #[serde(default)]
    host: Option<String>,
    pid: u32,
    /// The kernel's id of the thread that made it.
    #[serde(default)]
    tid: Option<i64>,
    /// When, in nanoseconds since the Unix epoch.
    #[serde(default)]
    at: Option<u64>,
    blocked: bool,
    #[serde(default)]
    backtrace: Vec<String>,
    /// The process's command line, when the library could read it.
    #[serde(default)]
    command: Option<String>,
    /// The process's parent, its parent's, and so on.
    #[serde(default)]
    parents: Vec<Parent>,
}

/// One of the parents of a line's process when the call was made.
#[derive(Debug, Clone, Deserialize)]
struct Parent {
    pid: u32,
    /// The executable it ran then, when the library could read it.
    #[serde(default)]
    exe: Option<String>,
}

impl Line {
    /// The thread and time of the call, when the line tells both.
    fn moment(&self) -> Option<(i64, u64)> {
        self.tid.zip(self.at)
    }
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
    /// `tcp` or `udp` (a connection) or `dns` (a resolution).
    pub(crate) kind: String,
    /// A connection's destination, or the name server a resolution's
    /// query was sent to.
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    /// A resolution's host name; for a connection, the host name its
    /// address was resolved from, when known.
    pub(crate) host: Option<String>,
    pub(crate) pid: u32,
    /// The command line of the process that made it, when that is not the
    /// service itself but a process the service started.
    pub(crate) child: Option<String>,
    /// Refused (else let through).
    pub(crate) blocked: bool,
    /// The first frames of its backtrace that are not the library's, the
    /// standard library's or libc's: where the service made it.
    pub(crate) frames: Vec<String>,
    /// The replayed request whose work made it, when that is known (its
    /// thread was running that request's work at the time); else none.
    pub(crate) during: Vec<Candidate>,
    /// When no request is known to have made it: the requests in flight
    /// when it was read, shown as context only.
    pub(crate) in_flight: Vec<Candidate>,
}

impl Finding {
    /// Where it went: `127.0.0.1:5432`, `[::1]:5432` for a connection
    /// (`tcp`, `udp`), `db.internal (10.0.0.5:5432)` when the host name its
    /// address was resolved from is known; the host name for a resolution
    /// (`dns`), followed by ` via 127.0.0.53:53` when the service's own
    /// resolver asked that name server.
    pub(crate) fn destination(&self) -> String {
        let socket = Self::socket(self.address.as_deref(), self.port);
        if self.is_resolution() {
            let host = self.host.as_deref().unwrap_or("(unknown host)");
            return match socket {
                Some(server) => format!("{host} via {server}"),
                None => host.to_owned(),
            };
        }
        match (self.host.as_deref(), socket) {
            (Some(host), Some(socket)) => format!("{host} ({socket})"),
            (Some(host), None) => host.to_owned(),
            (None, Some(socket)) => socket,
            (None, None) => "(unknown)".to_owned(),
        }
    }

    /// `address:port`, the address in brackets when it is IPv6; the
    /// address alone without a port.
    fn socket(address: Option<&str>, port: Option<u16>) -> Option<String> {
        match (address, port) {
            (Some(address), Some(port)) if address.contains(':') => {
                Some(format!("[{address}]:{port}"))
            }
            (Some(address), Some(port)) => Some(format!("{address}:{port}")),
            (Some(address), None) => Some(address.to_owned()),
            (None, _) => None,
        }
    }

    /// Whether it is a host-name resolution (`dns`) rather than a
    /// connection (`tcp`, `udp`).
    pub(crate) fn is_resolution(&self) -> bool {
        self.kind == "dns"
    }

    /// `resolution` or `connection`, as the reports call it.
    pub(crate) fn noun(&self) -> &'static str {
        if self.is_resolution() {
            "resolution"
        } else {
            "connection"
        }
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
    /// The executables of the known processes, where `/proc` told: a
    /// line's parent of that id is the service only if it ran the same one
    /// (it may have been a wrapper then, which became the service with
    /// `exec`).
    exes: Vec<(u32, String)>,
    /// A start of the service whose process could not be found: every
    /// process counts.
    unknown: bool,
}

impl ServicePids {
    /// Whether `line`'s process was started by one of the service's: one
    /// of its parents is, running the same executable then as the service
    /// does (when both are known).
    fn started(&self, line: &Line) -> bool {
        line.parents.iter().any(|parent| {
            let exe = self
                .exes
                .iter()
                .find(|(pid, _)| *pid == parent.pid)
                .map(|(_, exe)| exe);
            self.known.contains(&parent.pid)
                && match (exe, &parent.exe) {
                    (Some(service), Some(then)) => service == then,
                    _ => true,
                }
        })
    }
}

/// Shared between the supervisor, which adds, and the [`Watch`].
pub(crate) type SharedPids = Arc<Mutex<ServicePids>>;

fn lock(pids: &SharedPids) -> MutexGuard<'_, ServicePids> {
    pids.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What [`identify`] found out about a start of the service.
#[derive(Debug, Default)]
pub(crate) struct Identified {
    /// What to warn about: no process of the service found, or one
    /// without the library loaded.
    pub(crate) warnings: Vec<String>,
    /// A process of the service runs without the library (so without
    /// detection, and without the replay clock).
    pub(crate) without_library: bool,
}

/// Finds the service's processes in group `pgid` (those listening on
/// `port`) and adds them to `pids`; says what to warn about (no such
/// process, or one without the library loaded).
pub(crate) fn identify(pgid: u32, port: u16, pids: &SharedPids) -> Identified {
    let found = procfs::listening_in_group(pgid, port);
    let mut warnings = Vec::new();
    let mut without_library = false;
    if found.is_empty() {
        warnings.push(format!(
            "unpatched-dependency detection: no process of the service's group listens on port \
             {port}, so tracetape cannot tell the service from the processes around it; \
             connections from every process of the group count"
        ));
    }
    for &pid in &found {
        if procfs::has_mapped(pid, LIBRARY) == Some(false) {
            without_library = true;
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
    for &pid in &found {
        if let Some(exe) = procfs::executable(pid) {
            pids.exes.push((pid, exe));
        }
    }
    pids.known.extend(found);
    Identified {
        warnings,
        without_library,
    }
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
    /// The service's lines, with the requests in flight when they were
    /// read, attributed at the end.
    taken: Vec<(Line, Vec<Candidate>)>,
    /// The requests that completed with their handlers' poll times.
    handled: Vec<(Candidate, PollTimes)>,
    found: Unpatched,
}

impl Watch {
    pub(crate) fn new(path: PathBuf, pids: SharedPids) -> Self {
        Self {
            path,
            offset: 0,
            pids,
            pending: Vec::new(),
            taken: Vec::new(),
            handled: Vec::new(),
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

    /// `request` completed, its handler polled at `polls`.
    pub(crate) fn handled(&mut self, request: Candidate, polls: PollTimes) {
        self.handled.push((request, polls));
    }

    /// Reads what is left and says what was found.
    pub(crate) fn finish(mut self) -> Unpatched {
        self.collect(&[]);
        for (line, during) in std::mem::take(&mut self.pending) {
            if self.is_service(&line) {
                self.taken.push((line, during));
            } else {
                self.found.ignored += 1;
            }
        }
        for (line, in_flight) in std::mem::take(&mut self.taken) {
            let child = self.is_child(&line);
            let during = attribute(line.moment(), &self.handled);
            let in_flight = if during.is_empty() {
                in_flight
            } else {
                Vec::new()
            };
            self.found
                .findings
                .push(finding(line, child, during, in_flight));
        }
        self.found
    }

    fn take(&mut self, line: Line, during: Vec<Candidate>) {
        if self.is_service(&line) {
            self.taken.push((line, during));
        } else {
            self.pending.push((line, during));
        }
    }

    /// Whether `line` is the service's: made by one of its processes or
    /// by a process they started.
    fn is_service(&self, line: &Line) -> bool {
        let pids = lock(&self.pids);
        pids.unknown || pids.known.contains(&line.pid) || pids.started(line)
    }

    /// The command line of `line`'s process when it is a child of the
    /// service's (`(unknown command)` when the library could not read it),
    /// else `None`.
    fn is_child(&self, line: &Line) -> Option<String> {
        let pids = lock(&self.pids);
        let child = !pids.known.contains(&line.pid) && pids.started(line);
        child.then(|| {
            line.command
                .clone()
                .unwrap_or_else(|| "(unknown command)".to_owned())
        })
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

/// The request a call made on thread `tid` at time `at` belongs to: the
/// one whose work that thread was running then; none when no request's
/// was.
fn attribute(moment: Option<(i64, u64)>, handled: &[(Candidate, PollTimes)]) -> Vec<Candidate> {
    moment
        .and_then(|(tid, at)| handled.iter().find(|(_, polls)| polls.contains(tid, at)))
        .map(|(request, _)| vec![request.clone()])
        .unwrap_or_default()
}

fn finding(
    line: Line,
    child: Option<String>,
    during: Vec<Candidate>,
    in_flight: Vec<Candidate>,
) -> Finding {
    Finding {
        kind: line.kind,
        address: line.address,
        port: line.port,
        host: line.host,
        pid: line.pid,
        child,
        blocked: line.blocked,
        frames: line
            .backtrace
            .into_iter()
            .filter(|frame| is_own(frame))
            .take(FRAMES)
            .collect(),
        during,
        in_flight,
    }
}

/// Whether a backtrace frame (`symbol at file:line`) is the service's own
/// rather than the preload library's, the standard library's, libc's, or
/// of the runtime and networking crates a call goes through on its way to
/// `connect` (tokio, mio, socket2, hyper, reqwest, …), so that the first
/// frames kept are where the service made the call.
fn is_own(frame: &str) -> bool {
    /// The library's C functions, named as libc's are.
    const INTERPOSED: [&str; 13] = [
        "connect",
        "sendto",
        "sendmsg",
        "sendmmsg",
        "getaddrinfo",
        "gethostbyname",
        "gethostbyname2",
        "gethostbyname_r",
        "gethostbyname2_r",
        "res_query",
        "res_search",
        "res_nquery",
        "res_nsearch",
    ];
    const NOT_OWN: [&str; 4] = ["__", "<unknown>", "libc", "tracetape_preload::"];
    /// Crates whose frames are plumbing between the service and libc.
    const PLUMBING: [&str; 23] = [
        "std",
        "core",
        "alloc",
        "tracetape_preload",
        "socket2",
        "mio",
        "tokio",
        "tokio_rustls",
        "rustls",
        "hyper",
        "hyper_util",
        "hyper_rustls",
        "reqwest",
        "h2",
        "tower",
        "tower_http",
        "tower_service",
        "native_tls",
        "futures",
        "futures_util",
        "futures_core",
        "http_body_util",
        "tracing",
    ];
    let (symbol, location) = match frame.split_once(" at ") {
        Some((symbol, location)) => (symbol, Some(location)),
        None => (frame, None),
    };
    // The file tells the crate where the symbol cannot: with `debug =
    // "line-tables-only"` (or inlined frames of it) a symbol is its short
    // name (`poll<…>`, `{closure#0}`), without the crate's path.
    let plumbing = match location.and_then(crate_of_file) {
        Some(krate) => PLUMBING.contains(&krate.as_str()),
        None => symbol.contains("::") && PLUMBING.contains(&crate_of(symbol)),
    };
    // A short name with no file (an inlined frame the line tables do not
    // place, or C's `main`) cannot be told to be the service's.
    let head = symbol.split('<').next().unwrap_or(symbol);
    let unplaced = location.is_none() && !symbol.starts_with('<') && !head.contains("::");
    !(INTERPOSED.contains(&symbol)
        || NOT_OWN.iter().any(|prefix| symbol.starts_with(prefix))
        || plumbing
        || unplaced)
}

/// The crate a frame's source file belongs to when its path tells: `std`
/// for the standard library's sources (`/rustc/HASH/library/…`), and a
/// crate from a registry by its directory (`…/.cargo/registry/src/INDEX/
/// tokio-1.47.1/src/…` is `tokio`); `None` for any other file (the
/// service's own, a git or vendored dependency).
fn crate_of_file(location: &str) -> Option<String> {
    if location.contains("/rustc/") {
        return Some("std".to_owned());
    }
    let (_, after) = location.split_once("/registry/src/")?;
    let mut segments = after.split('/');
    let _index = segments.next()?;
    let package = segments.next()?;
    // `NAME-VERSION`: the version starts at the first `-` followed by
    // digits and a dot (`md-5-0.10.6` is `md-5`).
    let name = package
        .match_indices('-')
        .map(|(at, _)| at)
        .find(|&at| {
            let rest = &package[at + 1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && rest.as_bytes().get(digits) == Some(&b'.')
        })
        .map_or(package, |at| &package[..at]);
    Some(name.replace('-', "_"))
}

/// The crate a frame's symbol belongs to: its first path segment, and for
/// a trait method `<Type as Trait>::name` the type's crate, or the trait's
/// when the type is a bare generic parameter (`<F as
/// futures_core::future::TryFuture>::try_poll` is the futures crate's
/// plumbing whatever `F` is).
fn crate_of(symbol: &str) -> &str {
    fn first(path: &str) -> &str {
        path.split("::").next().unwrap_or_default()
    }
    let Some(qualified) = symbol.strip_prefix('<') else {
        return first(symbol);
    };
    match qualified.split_once(" as ") {
        Some((ty, rest)) if !ty.contains("::") => first(rest),
        _ => first(qualified),
    }
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
        assert!(startup.in_flight.is_empty());
        // Without poll times nothing tells which request's work made
        // them: none is named, the requests in flight are kept as context.
        assert_eq!(one.request(), None);
        assert_eq!(one.in_flight, [candidate(1)]);
        assert!(two.during.is_empty());
        assert_eq!(two.in_flight, [candidate(2), candidate(3)]);
        assert!(one.child.is_none());
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
    fn a_connection_to_a_resolved_address_carries_its_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unpatched.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"kind":"tcp","address":"127.0.0.1","port":5432,"host":"localhost","#,
                r#""pid":50,"tid":51,"at":1,"blocked":true,"backtrace":[]}"#,
                "\n"
            ),
        )
        .unwrap();
        let pids: SharedPids = Arc::default();
        lock(&pids).known.push(50);
        let found = Watch::new(path, pids).finish();
        let [finding] = found.findings.as_slice() else {
            panic!("{:?}", found.findings)
        };
        assert!(!finding.is_resolution());
        assert_eq!(finding.host.as_deref(), Some("localhost"));
        assert_eq!(finding.destination(), "localhost (127.0.0.1:5432)");
    }

    #[test]
    fn frames_of_the_runtime_and_client_crates_are_not_the_service_s() {
        for plumbing in [
            "socket2::sys::connect at /x/socket2/src/sys/unix.rs:354:28",
            "tokio::net::tcp::socket::TcpSocket::connect::{{closure}}",
            "<hyper_util::client::legacy::connect::http::HttpConnector<R> as tower_service::Service<http::uri::Uri>>::call::{{closure}}",
            "<reqwest::async_impl::client::Pending as core::future::future::Future>::poll",
            "<hyper_rustls::connector::HttpsConnector<T> as tower_service::Service<http::uri::Uri>>::call::{{closure}}",
            "<tower_http::follow_redirect::ResponseFuture<S,ReqBody,P> as core::future::future::Future>::poll",
            "std::sys::net::connection::socket::lookup_host",
            "getaddrinfo at /x/interpose.rs:1",
            "sendto at /x/interpose.rs:2",
            "gethostbyname_r",
            "<F as futures_core::future::TryFuture>::try_poll at /x/future.rs:92:14",
        ] {
            assert!(!is_own(plumbing), "{plumbing}");
        }
        // Built with `debug = "line-tables-only"`: short names, told by
        // their files (frames as a service built so reports them).
        for plumbing in [
            "connect<&str> at /rustc/29483883eed69d5fb4db01964cdf2af4d86e9cb2/library/std/src/net/tcp.rs:161:9",
            "poll<tokio::runtime::task::trace::Root<…>> at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.47.1/src/runtime/task/core.rs:331:24",
            "{closure#0}<hyper_util::client::legacy::connect::http::HttpConnector> at /home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-util-0.1.17/src/client/legacy/connect/http.rs:500:9",
            "call_once<(), …> at /rustc/abc/library/core/src/ops/function.rs:250:5",
            "poll<hyper_util::client::legacy::client::{impl#1}::connect_to::{closure_env#0}<…>>",
            "main",
            "_start",
        ] {
            assert!(!is_own(plumbing), "{plumbing}");
        }
        for own in [
            "connect_bypassing_tracetape at crates/tracetape-cli/examples/replay_target.rs:440:5",
            "{async_fn#0} at /w/crates/tracetape-cli/examples/replay_target.rs:474:10",
            "{closure#0} at ./src/main.rs:12:9",
            "query<…> at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-postgres-0.7.13/src/client.rs:1:1",
            "replay_target::call_with_plain_client::{{closure}} at examples/replay_target.rs:9",
            "tokio_postgres_wrapper::connect",
            "<my_service::Db as my_service::Store>::get",
        ] {
            assert!(is_own(own), "{own}");
        }
    }

    #[test]
    fn a_source_file_tells_its_crate_from_the_registry_s_directory() {
        let registry = "/r/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        for (package, name) in [
            ("tokio-1.47.1", "tokio"),
            ("hyper-util-0.1.17", "hyper_util"),
            ("md-5-0.10.6", "md_5"),
            ("tokio-1.0.0-beta.1", "tokio"),
        ] {
            let file = format!("{registry}/{package}/src/lib.rs:1:1");
            assert_eq!(crate_of_file(&file).as_deref(), Some(name), "{file}");
        }
        assert_eq!(
            crate_of_file("/rustc/abc/library/std/src/net/tcp.rs:1").as_deref(),
            Some("std")
        );
        assert_eq!(crate_of_file("./src/main.rs:3:1"), None);
    }

    #[test]
    fn a_call_made_while_its_thread_polled_a_handler_is_that_request_s() {
        use tracetape::replay::PollWindow;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unpatched.jsonl");
        let at = |tid: i64, at: u64| {
            format!(
                r#"{{"kind":"tcp","address":"127.0.0.1","port":1,"pid":40,"tid":{tid},"at":{at},"blocked":true,"backtrace":[]}}"#
            ) + "\n"
        };
        // Polled by thread 7 at 100..200 and 300..400; thread 8 at 150..250.
        let polls = |windows: &[(i64, u64, u64)]| PollTimes {
            windows: windows
                .iter()
                .map(|&(tid, from, to)| PollWindow { tid, from, to })
                .collect(),
        };
        std::fs::write(
            &path,
            [at(7, 350), at(8, 160), at(7, 250), at(9, 160)].concat(),
        )
        .unwrap();
        let pids: SharedPids = Arc::default();
        lock(&pids).known.push(40);
        let mut watch = Watch::new(path, pids);
        watch.handled(candidate(1), polls(&[(7, 100, 200), (7, 300, 400)]));
        watch.handled(candidate(2), polls(&[(8, 150, 250)]));
        watch.collect(&[candidate(1), candidate(2), candidate(3)]);
        let found = watch.finish();
        let told: Vec<(Vec<Candidate>, Vec<Candidate>)> = found
            .findings
            .into_iter()
            .map(|f| (f.during, f.in_flight))
            .collect();
        let all = vec![candidate(1), candidate(2), candidate(3)];
        assert_eq!(
            told,
            [
                (vec![candidate(1)], vec![]),
                (vec![candidate(2)], vec![]),
                // Between two polls of thread 7 (another task ran), and on
                // a thread running no request's work: no request, what
                // was in flight as context only.
                (vec![], all.clone()),
                (vec![], all),
            ]
        );
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
        assert_eq!(found.findings[0].in_flight, [candidate(1)]);
    }

    #[test]
    fn a_child_of_the_service_counts_with_its_command_line_and_a_wrapper_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unpatched.jsonl");
        let line = |pid: u32, parents: &[u32], command: &str| {
            let parents: Vec<String> = parents
                .iter()
                .map(|&parent| {
                    // The service's process ran the shell before `exec`.
                    let exe = if pid == 58 { "/bin/sh" } else { "/svc" };
                    format!(r#"{{"pid":{parent},"exe":"{exe}"}}"#)
                })
                .collect();
            let parents = parents.join(",");
            format!(
                r#"{{"kind":"tcp","address":"127.0.0.1","port":{pid},"pid":{pid},"tid":{pid},"at":5,"blocked":true,"backtrace":[],"command":"{command}","parents":[{parents}]}}"#
            ) + "\n"
        };
        std::fs::write(
            &path,
            [
                // The service (60, under the wrapper 59), its child and
                // grandchild, and the wrapper.
                line(60, &[59], "svc"),
                line(61, &[60, 59], "curl -s http://x"),
                line(62, &[70, 60, 59], "sh -c wget"),
                line(59, &[1], "sh -c svc"),
                // Started by the shell that became the service later.
                line(58, &[60, 59], "before-exec"),
            ]
            .concat(),
        )
        .unwrap();
        let pids: SharedPids = Arc::default();
        lock(&pids).known.push(60);
        lock(&pids).exes.push((60, "/svc".to_owned()));
        let found = Watch::new(path, pids).finish();
        assert_eq!(found.ignored, 2);
        let children: Vec<(u32, Option<&str>)> = found
            .findings
            .iter()
            .map(|f| (f.pid, f.child.as_deref()))
            .collect();
        assert_eq!(
            children,
            [
                (60, None),
                (61, Some("curl -s http://x")),
                (62, Some("sh -c wget"))
            ]
        );
    }
}
