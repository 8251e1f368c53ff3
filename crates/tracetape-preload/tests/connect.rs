//! The preloaded library in a real process: this test binary runs itself as
//! the child, with `LD_PRELOAD` naming the built `libtracetape_preload.so`,
//! and the child connects with a plain `std::net::TcpStream` or
//! `UdpSocket`, sends datagrams with `UdpSocket::send_to`, `sendmsg` or
//! `sendmmsg`, or resolves a host name with `std::net::ToSocketAddrs`,
//! `gethostbyname` or `res_query`, which bypass every instrumented client.
//! Only loopback destinations, `localhost` and IP literals are ever used:
//! a datagram to port 53 goes to 127.0.0.1 and only in tests where it is
//! refused, and `res_query` is only given a name the C library cannot put
//! in a query, so that it fails without sending anything even when let
//! through.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Set for the child: the child runs (else its test does nothing).
const CHILD: &str = "TRACETAPE_PRELOAD_TEST_CHILD";

/// Set for the child: comma-separated destinations to connect to, each an
/// `ip:port` or `unix:PATH`.
const CONNECT_TO: &str = "TRACETAPE_PRELOAD_TEST_CONNECT_TO";

/// Set for the child: comma-separated host names or IP literals to resolve.
const RESOLVE: &str = "TRACETAPE_PRELOAD_TEST_RESOLVE";

/// Set for the child: comma-separated `ip:port`s to connect a UDP socket to.
const UDP_CONNECT_TO: &str = "TRACETAPE_PRELOAD_TEST_UDP_CONNECT_TO";

/// Set for the child: comma-separated `ip:port*count`s to send `count`
/// datagrams each to with `UdpSocket::send_to`.
const SEND_TO: &str = "TRACETAPE_PRELOAD_TEST_SEND_TO";

/// Set for the child: comma-separated `ip:port`s to send a DNS query for
/// `localhost` to with `UdpSocket::send_to`.
const DNS_QUERY_TO: &str = "TRACETAPE_PRELOAD_TEST_DNS_QUERY_TO";

/// Set for the child: comma-separated `ip:port`s to send a DNS query for
/// `localhost` to with `sendmsg`, in two `iovec`s.
const SENDMSG_TO: &str = "TRACETAPE_PRELOAD_TEST_SENDMSG_TO";

/// Set for the child: comma-separated `ip:port`s to send two datagrams to
/// with one `sendmmsg`.
const SENDMMSG_TO: &str = "TRACETAPE_PRELOAD_TEST_SENDMMSG_TO";

/// Set for the child: comma-separated `function:name`s to look up with
/// `gethostbyname`, `gethostbyname2` (IPv4), `gethostbyname_r` or
/// `gethostbyname2_r` (IPv4).
const GETHOSTBYNAME: &str = "TRACETAPE_PRELOAD_TEST_GETHOSTBYNAME";

/// Set for the child: query with `res_query` for [`UNSENDABLE`] (any value).
const RES_QUERY: &str = "TRACETAPE_PRELOAD_TEST_RES_QUERY";

/// `localhost` eight times over as one label of 72 bytes: longer than a
/// DNS label may be (63), so the C library's resolver cannot build a query
/// for it and fails (`NO_RECOVERY`) without sending anything.
const UNSENDABLE: &str = "localhostlocalhostlocalhostlocalhostlocalhostlocalhostlocalhostlocalhost";

/// The raw C calls the child makes, which the standard library has no
/// safe counterpart for.
#[allow(unsafe_code, reason = "calling C functions the library interposes")]
mod raw {
    use std::ffi::{CString, c_char, c_int, c_uint};
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd as _;

    unsafe extern "C" {
        fn gethostbyname(name: *const c_char) -> *mut libc::hostent;
        fn gethostbyname2(name: *const c_char, af: c_int) -> *mut libc::hostent;
        fn gethostbyname_r(
            name: *const c_char,
            ret: *mut libc::hostent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::hostent,
            h_errnop: *mut c_int,
        ) -> c_int;
        fn gethostbyname2_r(
            name: *const c_char,
            af: c_int,
            ret: *mut libc::hostent,
            buf: *mut c_char,
            buflen: libc::size_t,
            result: *mut *mut libc::hostent,
            h_errnop: *mut c_int,
        ) -> c_int;
        fn res_query(
            dname: *const c_char,
            class: c_int,
            kind: c_int,
            answer: *mut u8,
            anslen: c_int,
        ) -> c_int;
        fn __h_errno_location() -> *mut c_int;
    }

    /// The calling thread's `h_errno`.
    fn h_errno() -> c_int {
        // SAFETY: glibc's per-thread `h_errno`, always readable.
        unsafe { *__h_errno_location() }
    }

    /// Looks `name` up with the C function `function`; what happened, as
    /// `resolved`, or `not resolved (h_errno N)` (`ret R, h_errno N` for
    /// the `_r` ones).
    pub(crate) fn lookup(function: &str, name: &str) -> String {
        let name = CString::new(name).unwrap();
        // SAFETY: `h_errno` is the calling thread's.
        unsafe { *__h_errno_location() = 0 };
        match function {
            "gethostbyname" | "gethostbyname2" => {
                // SAFETY: `name` is a NUL-terminated string that outlives
                // the call.
                let entry = unsafe {
                    if function == "gethostbyname" {
                        gethostbyname(name.as_ptr())
                    } else {
                        gethostbyname2(name.as_ptr(), libc::AF_INET)
                    }
                };
                if entry.is_null() {
                    format!("not resolved (h_errno {})", h_errno())
                } else {
                    "resolved".to_owned()
                }
            }
            "gethostbyname_r" | "gethostbyname2_r" => {
                // SAFETY: `hostent` is plain data, valid when all zeroes.
                let mut entry: libc::hostent = unsafe { std::mem::zeroed() };
                let mut buf = vec![0 as c_char; 4096];
                let mut result: *mut libc::hostent = std::ptr::dangling_mut();
                let mut error: c_int = -7;
                // SAFETY: every pointer is to a live local of the size the
                // function is told.
                let ret = unsafe {
                    if function == "gethostbyname_r" {
                        gethostbyname_r(
                            name.as_ptr(),
                            &raw mut entry,
                            buf.as_mut_ptr(),
                            buf.len(),
                            &raw mut result,
                            &raw mut error,
                        )
                    } else {
                        gethostbyname2_r(
                            name.as_ptr(),
                            libc::AF_INET,
                            &raw mut entry,
                            buf.as_mut_ptr(),
                            buf.len(),
                            &raw mut result,
                            &raw mut error,
                        )
                    }
                };
                if ret == 0 && !result.is_null() {
                    "resolved".to_owned()
                } else {
                    format!(
                        "not resolved (ret {ret}, result null {}, h_errno {error})",
                        result.is_null()
                    )
                }
            }
            other => panic!("unknown lookup function {other}"),
        }
    }

    /// `res_query` of an A record for `name`: `ret R, h_errno N`.
    pub(crate) fn query(name: &str) -> String {
        let name = CString::new(name).unwrap();
        let mut answer = [0u8; 512];
        // SAFETY: `h_errno` is the calling thread's.
        unsafe { *__h_errno_location() = 0 };
        // SAFETY: `name` is NUL-terminated, `answer` has the length given.
        let ret = unsafe {
            res_query(
                name.as_ptr(),
                1, // C_IN
                1, // T_A
                answer.as_mut_ptr(),
                c_int::try_from(answer.len()).unwrap(),
            )
        };
        format!("ret {ret}, h_errno {}", h_errno())
    }

    /// `dest` as a C socket address and its length.
    fn sockaddr(dest: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
        // SAFETY: `sockaddr_storage` is plain data, valid when all zeroes.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let SocketAddr::V4(v4) = dest else {
            panic!("IPv4 only here: {dest}");
        };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: a `sockaddr_in` fits in a `sockaddr_storage`, which is
        // aligned for it.
        unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
        (storage, size_of::<libc::sockaddr_in>() as libc::socklen_t)
    }

    /// Sends `payload`, split after its first `split` bytes into two
    /// `iovec`s, from `socket` to `dest` with `sendmsg`.
    pub(crate) fn send_msg(
        socket: &std::net::UdpSocket,
        dest: SocketAddr,
        payload: &[u8],
        split: usize,
    ) -> std::io::Result<usize> {
        let (mut name, name_len) = sockaddr(dest);
        let (first, second) = payload.split_at(split);
        let mut iov = [
            libc::iovec {
                iov_base: first.as_ptr().cast_mut().cast(),
                iov_len: first.len(),
            },
            libc::iovec {
                iov_base: second.as_ptr().cast_mut().cast(),
                iov_len: second.len(),
            },
        ];
        // SAFETY: `msghdr` is plain data, valid when all zeroes.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&raw mut name).cast();
        msg.msg_namelen = name_len;
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len();
        // SAFETY: `msg` points to live locals that outlive the call.
        let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &raw const msg, 0) };
        usize::try_from(sent).map_err(|_| std::io::Error::last_os_error())
    }

    /// Sends each of `payloads` from `socket` to `dest` with one
    /// `sendmmsg`; how many were sent.
    pub(crate) fn send_mmsg(
        socket: &std::net::UdpSocket,
        dest: SocketAddr,
        payloads: &[&[u8]],
    ) -> std::io::Result<usize> {
        let (mut name, name_len) = sockaddr(dest);
        let mut iovs: Vec<libc::iovec> = payloads
            .iter()
            .map(|payload| libc::iovec {
                iov_base: payload.as_ptr().cast_mut().cast(),
                iov_len: payload.len(),
            })
            .collect();
        let mut messages: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: `mmsghdr` is plain data, valid when all zeroes.
                let mut message: libc::mmsghdr = unsafe { std::mem::zeroed() };
                message.msg_hdr.msg_name = (&raw mut name).cast();
                message.msg_hdr.msg_namelen = name_len;
                message.msg_hdr.msg_iov = iov;
                message.msg_hdr.msg_iovlen = 1;
                message
            })
            .collect();
        // SAFETY: `messages` holds `len` live `mmsghdr`s pointing to live
        // locals that outlive the call.
        let sent = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                c_uint::try_from(messages.len()).unwrap(),
                0,
            )
        };
        usize::try_from(sent).map_err(|_| std::io::Error::last_os_error())
    }
}

/// A DNS query (id 0x1234, recursion desired) for `localhost`'s A record.
fn localhost_query() -> Vec<u8> {
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 9];
    query.extend_from_slice(b"localhost");
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    query
}

/// The function the child uses UDP from (connecting, sending), named so
/// that its frame can be found in the reported backtrace.
#[inline(never)]
fn child_sends_without_instrumentation(action: &str, dest: SocketAddr, count: usize) -> String {
    let local = if dest.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let socket = UdpSocket::bind(local).unwrap();
    let outcome = |result: std::io::Result<usize>| match result {
        Ok(n) => format!("sent {n}"),
        Err(err) if err.kind() == ErrorKind::ConnectionRefused => "refused".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    match action {
        "udp connect" => outcome(socket.connect(dest).map(|()| 0)),
        "send_to" => {
            let (mut sent, mut refused) = (0, 0);
            for n in 0..count {
                match socket.send_to(format!("datagram {n}").as_bytes(), dest) {
                    Ok(_) => sent += 1,
                    Err(err) if err.kind() == ErrorKind::ConnectionRefused => refused += 1,
                    Err(err) => return format!("failed: {err}"),
                }
            }
            format!("sent {sent}, refused {refused}")
        }
        "dns query" => outcome(socket.send_to(&localhost_query(), dest)),
        "sendmsg" => outcome(raw::send_msg(&socket, dest, &localhost_query(), 5)),
        "sendmmsg" => outcome(raw::send_mmsg(&socket, dest, &[b"one", b"two"])),
        other => panic!("unknown action {other}"),
    }
}

/// The function the child looks host names up from with the C library,
/// named so that its frame can be found in the reported backtrace.
#[inline(never)]
fn child_looks_up_without_instrumentation(function: &str, name: &str) -> String {
    match function {
        "res_query" => raw::query(name),
        _ => raw::lookup(function, name),
    }
}

/// The values of the child's variable `name`, split at commas.
fn list(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The function the child resolves from, named so that its frame can be
/// found in the reported backtrace.
#[inline(never)]
fn child_resolves_without_instrumentation(host: &str) -> std::io::Result<usize> {
    use std::net::ToSocketAddrs as _;
    (host, 80).to_socket_addrs().map(Iterator::count)
}

/// The function the child connects from, named so that its frame can be
/// found in the reported backtrace.
#[inline(never)]
fn child_connects_without_instrumentation(dest: &str) -> std::io::Result<()> {
    match dest.strip_prefix("unix:") {
        Some(path) => std::os::unix::net::UnixStream::connect(path).map(drop),
        None => std::net::TcpStream::connect(dest).map(drop),
    }
}

/// The child's side: says whether the library is loaded, then connects to
/// each destination and prints how it went.
#[test]
#[ignore = "run in a child process by the other tests"]
fn connect_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    if maps.contains("libtracetape_preload.so") {
        println!("child: preloaded");
    }
    let hosts = std::env::var(RESOLVE).unwrap_or_default();
    for host in hosts.split(',').filter(|host| !host.is_empty()) {
        match child_resolves_without_instrumentation(host) {
            Ok(n) if n > 0 => println!("child: {host} resolved"),
            Ok(_) => println!("child: {host} resolved to nothing"),
            Err(err) => println!("child: {host} not resolved: {err}"),
        }
    }
    for lookup in list(GETHOSTBYNAME) {
        let (function, name) = lookup.split_once(':').unwrap();
        let outcome = child_looks_up_without_instrumentation(function, name);
        println!("child: {function} {name} {outcome}");
    }
    if std::env::var_os(RES_QUERY).is_some() {
        let outcome = child_looks_up_without_instrumentation("res_query", UNSENDABLE);
        println!("child: res_query {outcome}");
    }
    let actions = [
        (UDP_CONNECT_TO, "udp connect"),
        (SEND_TO, "send_to"),
        (DNS_QUERY_TO, "dns query"),
        (SENDMSG_TO, "sendmsg"),
        (SENDMMSG_TO, "sendmmsg"),
    ];
    for (variable, action) in actions {
        for item in list(variable) {
            let (dest, count) = match item.split_once('*') {
                Some((dest, count)) => (dest.to_owned(), count.parse().unwrap()),
                None => (item.clone(), 1),
            };
            let outcome = child_sends_without_instrumentation(action, dest.parse().unwrap(), count);
            println!("child: {action} {dest} {outcome}");
        }
    }
    for dest in list(CONNECT_TO) {
        let dest = dest.as_str();
        match child_connects_without_instrumentation(dest) {
            Ok(()) => println!("child: {dest} connected"),
            Err(err) if err.kind() == ErrorKind::ConnectionRefused => {
                println!("child: {dest} refused");
            }
            Err(err) => println!("child: {dest} failed: {err}"),
        }
    }
}

/// The built library, next to this test binary (`target/<profile>/deps`)
/// or one directory up, where cargo also puts it.
fn preload_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .into_iter()
        .map(|dir| dir.join("libtracetape_preload.so"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libtracetape_preload.so not found next to {}; run `cargo build -p tracetape-preload`",
                exe.display()
            )
        })
}

/// A loopback listener that never accepts on its own, for
/// [`accepted_anything`] to look at afterwards.
fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Whether a connection reached `listener` (it completed the handshake and
/// waits in the backlog).
fn accepted_anything(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(err) if err.kind() == ErrorKind::WouldBlock => false,
        Err(err) => panic!("accept failed: {err}"),
    }
}

/// Runs the child with the library preloaded and `vars` set; its stdout.
fn run_child(destinations: &[String], vars: &[(&str, &str)]) -> String {
    run_child_resolving(&[], destinations, vars)
}

/// Runs the child resolving `hosts`, then connecting to `destinations`.
fn run_child_resolving(hosts: &[&str], destinations: &[String], vars: &[(&str, &str)]) -> String {
    let mut vars = vars.to_vec();
    let hosts = hosts.join(",");
    let destinations = destinations.join(",");
    vars.extend([
        (RESOLVE, hosts.as_str()),
        (CONNECT_TO, destinations.as_str()),
    ]);
    run_child_with(&vars).stdout
}

/// What a run of the child gave.
struct Run {
    /// Its standard output.
    stdout: String,
    /// When it was started and when it had exited: nanoseconds since the
    /// Unix epoch.
    window: (u64, u64),
}

/// The time now: nanoseconds since the Unix epoch.
fn now() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_nanos()).unwrap()
}

/// Runs the child with the library preloaded and `vars` set (the library's
/// and the child's own, which say what it does).
fn run_child_with(vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "connect_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LD_PRELOAD", preload_library())
        .env(CHILD, "1")
        .env_remove("TRACETAPE_UNPATCHED_REPORT")
        .env_remove("TRACETAPE_UNPATCHED_MODE")
        .env_remove("TRACETAPE_UNPATCHED_ALLOW");
    for (name, value) in vars {
        command.env(name, value);
    }
    let started = now();
    let output = command.output().unwrap();
    let ended = now();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("child: preloaded"),
        "the library was not loaded in the child:\n{stdout}\n{stderr}"
    );
    Run {
        stdout,
        window: (started, ended),
    }
}

/// The report's lines, parsed; none when the file was never written.
fn report_lines(path: &Path) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
            .collect(),
        Err(err) if err.kind() == ErrorKind::NotFound => Vec::new(),
        Err(err) => panic!("failed to read {}: {err}", path.display()),
    }
}

/// Asserts that `line` reports a connection to `addr` from this process's
/// child, made in [`child_connects_without_instrumentation`].
fn assert_reports(line: &serde_json::Value, addr: SocketAddr, blocked: bool) {
    assert_eq!(line["kind"], "tcp", "{line}");
    assert_eq!(line["address"], addr.ip().to_string(), "{line}");
    assert_eq!(line["port"], addr.port(), "{line}");
    assert_event(
        line,
        blocked,
        "connect",
        "child_connects_without_instrumentation",
    );
}

/// Asserts what every report line carries: whether it was `blocked`, the
/// child's pid and tid, and a backtrace from the `interposed` function
/// through the child's function `made_in`.
fn assert_event(line: &serde_json::Value, blocked: bool, interposed: &str, made_in: &str) {
    assert_eq!(line["blocked"], blocked, "{line}");
    assert!(line["pid"].as_u64().is_some_and(|pid| pid > 0), "{line}");
    assert!(line["tid"].as_u64().is_some_and(|tid| tid > 0), "{line}");
    // Nanoseconds since the epoch, after 2020.
    assert!(
        line["at"]
            .as_u64()
            .is_some_and(|at| at > 1_577_836_800_000_000_000),
        "{line}"
    );
    let frames = line["backtrace"].as_array().unwrap();
    assert!(
        frames[0].as_str().unwrap().starts_with(interposed),
        "the backtrace starts at the interposed {interposed}: {line}"
    );
    assert!(
        frames
            .iter()
            .any(|frame| frame.as_str().unwrap().contains(made_in)),
        "{line}"
    );
}

#[test]
fn a_bypassing_connection_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (listener, addr) = listener();
    let stdout = run_child(
        &[addr.to_string()],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains(&format!("child: {addr} refused")),
        "{stdout}"
    );
    assert!(
        !accepted_anything(&listener),
        "the connection reached the listener"
    );
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports(line, addr, true);
}

#[test]
fn allow_mode_lets_the_connection_through_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (listener, addr) = listener();
    let stdout = run_child(
        &[addr.to_string()],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_MODE", "allow"),
        ],
    );
    assert!(
        stdout.contains(&format!("child: {addr} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&listener));
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports(line, addr, false);
}

#[test]
fn an_allow_listed_destination_is_neither_reported_nor_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (allowed_listener, allowed) = listener();
    let (other_listener, other) = listener();
    let stdout = run_child(
        &[allowed.to_string(), other.to_string()],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            (
                "TRACETAPE_UNPATCHED_ALLOW",
                &format!("10.0.0.1:80, {allowed}"),
            ),
        ],
    );
    assert!(
        stdout.contains(&format!("child: {allowed} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&allowed_listener));
    // The library was active: the destination not in the list was refused.
    assert!(
        stdout.contains(&format!("child: {other} refused")),
        "{stdout}"
    );
    assert!(!accepted_anything(&other_listener));
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected only the other destination reported, got {lines:?}");
    };
    assert_reports(line, other, true);
}

#[test]
fn without_the_variables_the_library_is_inert() {
    let (listener, addr) = listener();
    let stdout = run_child(&[addr.to_string()], &[]);
    assert!(
        stdout.contains(&format!("child: {addr} connected")),
        "{stdout}"
    );
    assert!(accepted_anything(&listener));
}

#[test]
fn unix_socket_connections_are_not_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let socket = tmp.path().join("service.sock");
    let unix = UnixListener::bind(&socket).unwrap();
    let dest = format!("unix:{}", socket.display());
    let stdout = run_child(
        std::slice::from_ref(&dest),
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains(&format!("child: {dest} connected")),
        "{stdout}"
    );
    unix.set_nonblocking(true).unwrap();
    assert!(unix.accept().is_ok(), "the connection reached the listener");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

/// Asserts that `line` reports resolving `host` from this process's child,
/// in [`child_resolves_without_instrumentation`].
fn assert_reports_resolution(line: &serde_json::Value, host: &str, blocked: bool) {
    assert_eq!(line["kind"], "dns", "{line}");
    assert_eq!(line["host"], host, "{line}");
    assert!(
        line.get("address").is_none() && line.get("port").is_none(),
        "{line}"
    );
    assert_event(
        line,
        blocked,
        "getaddrinfo",
        "child_resolves_without_instrumentation",
    );
}

#[test]
fn resolving_a_host_name_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(
        stdout.contains("child: localhost not resolved: "),
        "{stdout}"
    );
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports_resolution(line, "localhost", true);
}

#[test]
fn allow_mode_resolves_the_host_name_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_MODE", "allow"),
        ],
    );
    assert!(stdout.contains("child: localhost resolved\n"), "{stdout}");
    let lines = report_lines(&report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    assert_reports_resolution(line, "localhost", false);
}

#[test]
fn an_allow_listed_host_name_is_neither_reported_nor_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["localhost"],
        &[],
        &[
            ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
            ("TRACETAPE_UNPATCHED_ALLOW", "127.0.0.1:9, LocalHost:8081"),
        ],
    );
    assert!(stdout.contains("child: localhost resolved\n"), "{stdout}");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

#[test]
fn ip_literals_are_never_reported_as_resolutions() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let stdout = run_child_resolving(
        &["127.0.0.1", "::1"],
        &[],
        &[("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap())],
    );
    assert!(stdout.contains("child: 127.0.0.1 resolved\n"), "{stdout}");
    assert!(stdout.contains("child: ::1 resolved\n"), "{stdout}");
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

/// A loopback UDP socket that never reads on its own, for [`received`] to
/// look at afterwards.
fn receiver() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// The datagrams waiting at `socket`. Loopback delivery happens within the
/// sender's call, so once the child has exited everything it sent is there.
fn received(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut datagrams = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match socket.recv(&mut buf) {
            Ok(len) => datagrams.push(buf[..len].to_vec()),
            Err(err) if err.kind() == ErrorKind::WouldBlock => return datagrams,
            Err(err) => panic!("recv failed: {err}"),
        }
    }
}

/// Asserts that `line` reports a datagram (or a UDP socket connected) to
/// `addr`, made through `interposed` in
/// [`child_sends_without_instrumentation`] within the child's run.
fn assert_reports_udp(
    line: &serde_json::Value,
    addr: SocketAddr,
    blocked: bool,
    interposed: &str,
    window: (u64, u64),
) {
    assert_eq!(line["kind"], "udp", "{line}");
    assert_eq!(line["address"], addr.ip().to_string(), "{line}");
    assert_eq!(line["port"], addr.port(), "{line}");
    assert!(line.get("host").is_none(), "{line}");
    assert_event(
        line,
        blocked,
        interposed,
        "child_sends_without_instrumentation",
    );
    assert_within(line, window);
}

/// Asserts that `line`'s `at` lies within the child's run.
fn assert_within(line: &serde_json::Value, (started, ended): (u64, u64)) {
    let at = line["at"].as_u64().unwrap();
    assert!(
        (started..=ended).contains(&at),
        "at {at} outside the child's run {started}..={ended}: {line}"
    );
}

/// The one line of the report; fails the test if there is not exactly one.
fn one_line(report: &Path) -> serde_json::Value {
    let lines = report_lines(report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    line.clone()
}

#[test]
fn connecting_a_udp_socket_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (UDP_CONNECT_TO, &dest),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: udp connect {addr} refused\n")),
        "{}",
        run.stdout
    );
    assert_reports_udp(&one_line(&report), addr, true, "connect", run.window);
    assert!(received(&socket).is_empty());
}

#[test]
fn allow_mode_connects_the_udp_socket_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (_socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (UDP_CONNECT_TO, &dest),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: udp connect {addr} sent 0\n")),
        "{}",
        run.stdout
    );
    assert_reports_udp(&one_line(&report), addr, false, "connect", run.window);
}

#[test]
fn a_datagram_sent_with_send_to_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (SEND_TO, &dest),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: send_to {addr} sent 0, refused 1\n")),
        "{}",
        run.stdout
    );
    let line = one_line(&report);
    assert_reports_udp(&line, addr, true, "sendto", run.window);
    // `at` comes right after `tid`.
    let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "kind",
            "address",
            "port",
            "pid",
            "tid",
            "at",
            "blocked",
            "backtrace"
        ],
        "{line}"
    );
    assert_eq!(received(&socket), Vec::<Vec<u8>>::new());
}

#[test]
fn allow_mode_sends_the_datagram_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (SEND_TO, &dest),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: send_to {addr} sent 1, refused 0\n")),
        "{}",
        run.stdout
    );
    assert_reports_udp(&one_line(&report), addr, false, "sendto", run.window);
    assert_eq!(received(&socket), [b"datagram 0".to_vec()]);
}

#[test]
fn an_allow_listed_datagram_destination_is_neither_reported_nor_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (allowed_socket, allowed) = receiver();
    let (other_socket, other) = receiver();
    let sends = format!("{allowed},{other}");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", &allowed.to_string()),
        (SEND_TO, &sends),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: send_to {allowed} sent 1, refused 0\n")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("child: send_to {other} sent 0, refused 1\n")),
        "{}",
        run.stdout
    );
    assert_eq!(received(&allowed_socket).len(), 1);
    assert!(received(&other_socket).is_empty());
    assert_reports_udp(&one_line(&report), other, true, "sendto", run.window);
}

#[test]
fn datagrams_are_reported_at_most_64_times_per_destination_and_all_decided_on() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let (other_socket, other) = receiver();
    let sends = format!("{addr}*100,{other}*3");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (SEND_TO, &sends),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: send_to {addr} sent 100, refused 0\n")),
        "{}",
        run.stdout
    );
    assert_eq!(received(&socket).len(), 100);
    assert_eq!(received(&other_socket).len(), 3);
    let lines = report_lines(&report);
    let to = |dest: SocketAddr| {
        lines
            .iter()
            .filter(|line| line["port"] == dest.port())
            .inspect(|line| assert_reports_udp(line, dest, false, "sendto", run.window))
            .count()
    };
    assert_eq!(to(addr), 64);
    assert_eq!(to(other), 3);
    assert_eq!(lines.len(), 67);
}

#[test]
fn the_cap_on_lines_does_not_let_datagrams_through() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let sends = format!("{addr}*100");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (SEND_TO, &sends),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: send_to {addr} sent 0, refused 100\n")),
        "{}",
        run.stdout
    );
    assert!(received(&socket).is_empty());
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 64);
    for line in &lines {
        assert_reports_udp(line, addr, true, "sendto", run.window);
    }
}

#[test]
fn a_dns_query_sent_to_port_53_is_refused_and_reported_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    // Refused before reaching the network: nothing is sent to port 53.
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (DNS_QUERY_TO, "127.0.0.1:53"),
        (SENDMSG_TO, "127.0.0.1:53"),
    ]);
    assert!(
        run.stdout
            .contains("child: dns query 127.0.0.1:53 refused\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("child: sendmsg 127.0.0.1:53 refused\n"),
        "{}",
        run.stdout
    );
    let lines = report_lines(&report);
    let [send_to, sendmsg] = &lines[..] else {
        panic!("expected two report lines, got {lines:?}");
    };
    for (line, interposed) in [(send_to, "sendto"), (sendmsg, "sendmsg")] {
        assert_eq!(line["kind"], "dns", "{line}");
        assert_eq!(line["host"], "localhost", "{line}");
        assert_eq!(line["address"], "127.0.0.1", "{line}");
        assert_eq!(line["port"], 53, "{line}");
        assert_event(
            line,
            true,
            interposed,
            "child_sends_without_instrumentation",
        );
        assert_within(line, run.window);
    }
}

#[test]
fn a_dns_shaped_datagram_to_another_port_is_plain_udp() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        // A DNS query's name in the allow list does not matter away from
        // port 53.
        ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
        (DNS_QUERY_TO, &dest),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: dns query {addr} refused\n")),
        "{}",
        run.stdout
    );
    assert_reports_udp(&one_line(&report), addr, true, "sendto", run.window);
    assert!(received(&socket).is_empty());
}

#[test]
fn sendmsg_and_sendmmsg_datagrams_are_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (SENDMSG_TO, &dest),
        (SENDMMSG_TO, &dest),
    ]);
    for action in ["sendmsg", "sendmmsg"] {
        assert!(
            run.stdout
                .contains(&format!("child: {action} {addr} refused\n")),
            "{}",
            run.stdout
        );
    }
    let lines = report_lines(&report);
    let [sendmsg, sendmmsg] = &lines[..] else {
        panic!("expected two report lines, got {lines:?}");
    };
    assert_reports_udp(sendmsg, addr, true, "sendmsg", run.window);
    assert_reports_udp(sendmmsg, addr, true, "sendmmsg", run.window);
    assert!(received(&socket).is_empty());
}

#[test]
fn allow_mode_lets_sendmsg_and_sendmmsg_through() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (SENDMSG_TO, &dest),
        (SENDMMSG_TO, &dest),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: sendmmsg {addr} sent 2\n")),
        "{}",
        run.stdout
    );
    let query = localhost_query();
    assert!(
        run.stdout
            .contains(&format!("child: sendmsg {addr} sent {}\n", query.len())),
        "{}",
        run.stdout
    );
    assert_eq!(received(&socket), [query, b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(report_lines(&report).len(), 2);
}

/// Asserts that `line` reports looking `host` up through `interposed`, in
/// [`child_looks_up_without_instrumentation`].
fn assert_reports_lookup(line: &serde_json::Value, host: &str, blocked: bool, interposed: &str) {
    assert_eq!(line["kind"], "dns", "{line}");
    assert_eq!(line["host"], host, "{line}");
    assert!(
        line.get("address").is_none() && line.get("port").is_none(),
        "{line}"
    );
    assert_event(
        line,
        blocked,
        interposed,
        "child_looks_up_without_instrumentation",
    );
}

/// The `gethostbyname` family, each looking `localhost` up.
const GETHOSTBYNAMES: [&str; 4] = [
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
];

#[test]
fn gethostbyname_and_its_kin_are_refused_as_an_unknown_host_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let lookups =
        GETHOSTBYNAMES.map(|function| format!("{function}:localhost,{function}:127.0.0.1"));
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (GETHOSTBYNAME, &lookups.join(",")),
    ]);
    // HOST_NOT_FOUND is 1; the `_r` ones return 0 with a null result, as
    // glibc does for a name it does not know.
    for expected in [
        "child: gethostbyname localhost not resolved (h_errno 1)\n",
        "child: gethostbyname2 localhost not resolved (h_errno 1)\n",
        "child: gethostbyname_r localhost not resolved (ret 0, result null true, h_errno 1)\n",
        "child: gethostbyname2_r localhost not resolved (ret 0, result null true, h_errno 1)\n",
    ] {
        assert!(run.stdout.contains(expected), "{expected}{}", run.stdout);
    }
    // IP literals are not looked up, so not reported nor refused.
    for function in GETHOSTBYNAMES {
        assert!(
            run.stdout
                .contains(&format!("child: {function} 127.0.0.1 resolved\n")),
            "{}",
            run.stdout
        );
    }
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, function) in lines.iter().zip(GETHOSTBYNAMES) {
        assert_reports_lookup(line, "localhost", true, function);
        assert_within(line, run.window);
    }
}

#[test]
fn allow_mode_resolves_with_gethostbyname_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let lookups = GETHOSTBYNAMES.map(|function| format!("{function}:localhost"));
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (GETHOSTBYNAME, &lookups.join(",")),
    ]);
    for function in GETHOSTBYNAMES {
        assert!(
            run.stdout
                .contains(&format!("child: {function} localhost resolved\n")),
            "{}",
            run.stdout
        );
    }
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (line, function) in lines.iter().zip(GETHOSTBYNAMES) {
        assert_reports_lookup(line, "localhost", false, function);
    }
}

#[test]
fn an_allow_listed_host_name_is_looked_up_with_gethostbyname_unreported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_ALLOW", "localhost"),
        (GETHOSTBYNAME, "gethostbyname:localhost"),
    ]);
    assert!(
        run.stdout
            .contains("child: gethostbyname localhost resolved\n"),
        "{}",
        run.stdout
    );
    assert_eq!(report_lines(&report), Vec::<serde_json::Value>::new());
}

#[test]
fn res_query_is_refused_as_an_unknown_host_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        (RES_QUERY, "1"),
    ]);
    // -1 with HOST_NOT_FOUND (1); the C library's own failure for this
    // name would be NO_RECOVERY (3).
    assert!(
        run.stdout.contains("child: res_query ret -1, h_errno 1\n"),
        "{}",
        run.stdout
    );
    let line = one_line(&report);
    assert_reports_lookup(&line, UNSENDABLE, true, "res_query");
    assert_within(&line, run.window);
}

#[test]
fn allow_mode_hands_res_query_on_and_still_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("unpatched.jsonl");
    let run = run_child_with(&[
        ("TRACETAPE_UNPATCHED_REPORT", report.to_str().unwrap()),
        ("TRACETAPE_UNPATCHED_MODE", "allow"),
        (RES_QUERY, "1"),
    ]);
    // The C library's own answer: it cannot build a query for the name.
    assert!(
        run.stdout.contains("child: res_query ret -1, h_errno 3\n"),
        "{}",
        run.stdout
    );
    assert_reports_lookup(&one_line(&report), UNSENDABLE, false, "res_query");
}

#[test]
fn without_the_variables_datagrams_and_lookups_go_through() {
    let (socket, addr) = receiver();
    let dest = addr.to_string();
    let run = run_child_with(&[
        (SEND_TO, &dest),
        (SENDMMSG_TO, &dest),
        (GETHOSTBYNAME, "gethostbyname:localhost"),
    ]);
    assert!(
        run.stdout
            .contains(&format!("child: send_to {addr} sent 1, refused 0\n")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("child: gethostbyname localhost resolved\n"),
        "{}",
        run.stdout
    );
    assert_eq!(received(&socket).len(), 3);
}
