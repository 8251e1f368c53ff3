//! What the preloaded-library tests share: each test binary runs itself as
//! the child ([`run_child_with`]), with `LD_PRELOAD` naming the built
//! `libtracetape_preload.so` and only its ignored test [`CHILD_TEST`]
//! selected, which calls [`child`]; the child checks in `/proc/self/maps`
//! that the library is loaded, then connects with a plain
//! `std::net::TcpStream` or `UdpSocket`, sends datagrams with
//! `UdpSocket::send_to`, `sendmsg` or `sendmmsg`, or resolves a host name
//! with `std::net::ToSocketAddrs`, `gethostbyname` or `res_query` (and
//! connects to an address it resolved), which bypass every instrumented
//! client, as the variables below say. The parent reads what the child
//! printed and the report the library wrote.
//!
//! Only loopback destinations, `localhost` and IP literals are ever used:
//! a datagram to port 53 goes to 127.0.0.1 and only in tests where it is
//! refused, and `res_query` is only given a name the C library cannot put
//! in a query, so that it fails without sending anything even when let
//! through.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The name of the ignored test of each test binary that runs [`child`]:
/// the test the binary runs itself as, in the child.
const CHILD_TEST: &str = "child";

/// Set for the child: the child runs (else its test does nothing).
const CHILD: &str = "TRACETAPE_PRELOAD_TEST_CHILD";

/// Set for the child: comma-separated destinations to connect to, each an
/// `ip:port` or `unix:PATH`.
pub(crate) const CONNECT_TO: &str = "TRACETAPE_PRELOAD_TEST_CONNECT_TO";

/// Set for the child: comma-separated host names or IP literals to resolve.
pub(crate) const RESOLVE: &str = "TRACETAPE_PRELOAD_TEST_RESOLVE";

/// Set for the child: comma-separated `host:port`s to resolve with
/// `std::net::ToSocketAddrs` and then connect a `TcpStream` to, at the
/// first IPv4 address resolved; done last, after [`CONNECT_TO`].
pub(crate) const CONNECT_RESOLVED: &str = "TRACETAPE_PRELOAD_TEST_CONNECT_RESOLVED";

/// Set for the child: comma-separated `ip:port`s to connect a UDP socket to.
pub(crate) const UDP_CONNECT_TO: &str = "TRACETAPE_PRELOAD_TEST_UDP_CONNECT_TO";

/// Set for the child: comma-separated `ip:port*count`s to send `count`
/// datagrams each to with `UdpSocket::send_to`.
pub(crate) const SEND_TO: &str = "TRACETAPE_PRELOAD_TEST_SEND_TO";

/// Set for the child: comma-separated `ip:port`s to send a DNS query for
/// `localhost` to with `UdpSocket::send_to`.
pub(crate) const DNS_QUERY_TO: &str = "TRACETAPE_PRELOAD_TEST_DNS_QUERY_TO";

/// Set for the child: comma-separated `ip:port`s to send a DNS query for
/// `localhost` to with `sendmsg`, in two `iovec`s.
pub(crate) const SENDMSG_TO: &str = "TRACETAPE_PRELOAD_TEST_SENDMSG_TO";

/// Set for the child: comma-separated `ip:port`s to send two datagrams to
/// with one `sendmmsg`.
pub(crate) const SENDMMSG_TO: &str = "TRACETAPE_PRELOAD_TEST_SENDMMSG_TO";

/// Set for the child: comma-separated `function:name`s to look up with
/// `gethostbyname`, `gethostbyname2` (IPv4), `gethostbyname_r` or
/// `gethostbyname2_r` (IPv4).
pub(crate) const GETHOSTBYNAME: &str = "TRACETAPE_PRELOAD_TEST_GETHOSTBYNAME";

/// Set for the child: query with `res_query` for [`UNSENDABLE`] (any value).
pub(crate) const RES_QUERY: &str = "TRACETAPE_PRELOAD_TEST_RES_QUERY";

/// `localhost` eight times over as one label of 72 bytes: longer than a
/// DNS label may be (63), so the C library's resolver cannot build a query
/// for it and fails (`NO_RECOVERY`) without sending anything.
pub(crate) const UNSENDABLE: &str =
    "localhostlocalhostlocalhostlocalhostlocalhostlocalhostlocalhostlocalhost";

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
pub(crate) fn localhost_query() -> Vec<u8> {
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 9];
    query.extend_from_slice(b"localhost");
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    query
}

/// The function the child uses UDP from (connecting, sending), named so
/// that its frame can be found in the reported backtrace.
#[inline(never)]
pub(crate) fn child_sends_without_instrumentation(
    action: &str,
    dest: SocketAddr,
    count: usize,
) -> String {
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
pub(crate) fn child_looks_up_without_instrumentation(function: &str, name: &str) -> String {
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
pub(crate) fn child_resolves_without_instrumentation(host: &str) -> std::io::Result<usize> {
    use std::net::ToSocketAddrs as _;
    (host, 80).to_socket_addrs().map(Iterator::count)
}

/// The function the child connects from, named so that its frame can be
/// found in the reported backtrace.
#[inline(never)]
pub(crate) fn child_connects_without_instrumentation(dest: &str) -> std::io::Result<()> {
    match dest.strip_prefix("unix:") {
        Some(path) => std::os::unix::net::UnixStream::connect(path).map(drop),
        None => std::net::TcpStream::connect(dest).map(drop),
    }
}

/// The function the child resolves `host` from and then connects to the
/// first IPv4 address it resolved to at `port`, named so that its frame can
/// be found in the reported backtraces: `connected to ADDR`, `refused at
/// ADDR`, or what else happened.
#[inline(never)]
pub(crate) fn child_connects_to_resolved(host: &str, port: u16) -> String {
    use std::net::ToSocketAddrs as _;
    let addresses: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(err) => return format!("not resolved: {err}"),
    };
    let Some(dest) = addresses.into_iter().find(SocketAddr::is_ipv4) else {
        return "resolved to no IPv4 address".to_owned();
    };
    match child_connects_without_instrumentation(&dest.to_string()) {
        Ok(()) => format!("connected to {dest}"),
        Err(err) if err.kind() == ErrorKind::ConnectionRefused => format!("refused at {dest}"),
        Err(err) => format!("failed at {dest}: {err}"),
    }
}

/// The child's side, the body of each test binary's ignored test
/// [`CHILD_TEST`]: when run as the child (with [`CHILD`] set), says
/// whether the library is loaded (from `/proc/self/maps`), then resolves,
/// looks up, sends and connects as the variables above say and prints how
/// each went; otherwise does nothing.
pub(crate) fn child() {
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
    for item in list(CONNECT_RESOLVED) {
        let (host, port) = item.rsplit_once(':').unwrap();
        let outcome = child_connects_to_resolved(host, port.parse().unwrap());
        println!("child: {item} {outcome}");
    }
}

/// The built library, next to this test binary (`target/<profile>/deps`)
/// or one directory up, where cargo also puts it.
pub(crate) fn preload_library() -> PathBuf {
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

/// Runs the child with the library preloaded and `vars` set; its stdout.
#[allow(dead_code, reason = "not every test binary connects with it")]
pub(crate) fn run_child(destinations: &[String], vars: &[(&str, &str)]) -> String {
    run_child_resolving(&[], destinations, vars)
}

/// Runs the child resolving `hosts`, then connecting to `destinations`.
pub(crate) fn run_child_resolving(
    hosts: &[&str],
    destinations: &[String],
    vars: &[(&str, &str)],
) -> String {
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
pub(crate) struct Run {
    /// Its standard output.
    pub(crate) stdout: String,
    /// When it was started and when it had exited: nanoseconds since the
    /// Unix epoch.
    #[allow(dead_code, reason = "not every test binary looks at the time")]
    pub(crate) window: (u64, u64),
}

impl Run {
    /// Asserts that the child said `text` (a whole line, with its `\n`).
    #[allow(
        dead_code,
        reason = "not every test binary looks at what the child said"
    )]
    pub(crate) fn assert_said(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "the child did not say {text:?}; it said:\n{}",
            self.stdout
        );
    }
}

/// A directory of its own for a child's report file, and the file's path.
#[allow(dead_code, reason = "not every test binary reports")]
pub(crate) fn report_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unpatched.jsonl");
    (dir, path)
}

/// The time now: nanoseconds since the Unix epoch.
fn now() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_nanos()).unwrap()
}

/// Runs the child with the library preloaded and `vars` set (the library's
/// and the child's own, which say what it does).
pub(crate) fn run_child_with(vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            CHILD_TEST,
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
pub(crate) fn report_lines(path: &Path) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
            .collect(),
        Err(err) if err.kind() == ErrorKind::NotFound => Vec::new(),
        Err(err) => panic!("failed to read {}: {err}", path.display()),
    }
}

/// Asserts what every report line carries: whether it was `blocked`, the
/// child's pid and tid, and a backtrace from the `interposed` function
/// through the child's function `made_in`.
pub(crate) fn assert_event(
    line: &serde_json::Value,
    blocked: bool,
    interposed: &str,
    made_in: &str,
) {
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

/// Asserts that `line`'s `at` lies within the child's run.
#[allow(dead_code, reason = "not every test binary looks at the time")]
pub(crate) fn assert_within(line: &serde_json::Value, (started, ended): (u64, u64)) {
    let at = line["at"].as_u64().unwrap();
    assert!(
        (started..=ended).contains(&at),
        "at {at} outside the child's run {started}..={ended}: {line}"
    );
}

/// The one line of the report; fails the test if there is not exactly one.
pub(crate) fn one_line(report: &Path) -> serde_json::Value {
    let lines = report_lines(report);
    let [line] = &lines[..] else {
        panic!("expected one report line, got {lines:?}");
    };
    line.clone()
}

#[allow(dead_code, reason = "not every test binary connects")]
/// A loopback listener that never accepts on its own, for
/// [`accepted_anything`] to look at afterwards.
pub(crate) fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[allow(dead_code, reason = "not every test binary connects")]
/// Whether a connection reached `listener` (it completed the handshake and
/// waits in the backlog).
pub(crate) fn accepted_anything(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(err) if err.kind() == ErrorKind::WouldBlock => false,
        Err(err) => panic!("accept failed: {err}"),
    }
}
