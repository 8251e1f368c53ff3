//! The interposed `connect` and `getaddrinfo` and the raw C ABI around
//! them: the only module of the workspace allowed `unsafe` (see the crate
//! documentation).

use std::cell::Cell;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use libc::{addrinfo, c_char, c_int, sockaddr, socklen_t};

use crate::config::Config;
use crate::report::{self, Event, Target};

/// The C signature of `connect(2)`.
type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;

/// The C signature of `getaddrinfo(3)`.
type GetaddrinfoFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// The settings, read from the environment at the first `connect`.
static CONFIG: OnceLock<Option<Config>> = OnceLock::new();

/// The next `connect` in symbol lookup order (libc's, or another
/// interposer's), found at the first call.
static REAL_CONNECT: OnceLock<Option<ConnectFn>> = OnceLock::new();

/// The next `getaddrinfo` in symbol lookup order, found at the first call.
static REAL_GETADDRINFO: OnceLock<Option<GetaddrinfoFn>> = OnceLock::new();

thread_local! {
    /// Set while this thread is deciding about or reporting a connection,
    /// so that a `connect` made meanwhile (by the reporting itself) goes
    /// straight through instead of recursing. `const` and without a
    /// destructor, so it stays usable while the thread is exiting.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// `connect(2)`, as seen by every dynamically linked caller in a process
/// that preloads this library.
///
/// Inert (one atomic load, then the real `connect`) unless
/// `TRACETAPE_UNPATCHED_REPORT` or `TRACETAPE_UNPATCHED_MODE` is set. When
/// active, a stream-socket connection to an IPv4 or IPv6 destination not in
/// `TRACETAPE_UNPATCHED_ALLOW` is reported and, unless the mode is `allow`,
/// refused with `ECONNREFUSED` without reaching the network.
///
/// # Safety
///
/// The contract of `connect(2)`: `addr` is null or points to `len`
/// readable bytes.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `connect`, not to Rust callers"
)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && let Some(refuse) = reentrancy_guarded(|| decide(config, fd, addr, len))
        && refuse
    {
        // SAFETY: `__errno_location` returns the calling thread's errno,
        // valid for writes for the thread's lifetime.
        unsafe { *libc::__errno_location() = libc::ECONNREFUSED };
        return -1;
    }
    match real_connect() {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `connect`'s C signature (see
        // `real_connect`).
        Some(real) => unsafe { real(fd, addr, len) },
        None => {
            // SAFETY: as above, the calling thread's errno.
            unsafe { *libc::__errno_location() = libc::ENOSYS };
            -1
        }
    }
}

/// `getaddrinfo(3)`, as seen by every dynamically linked caller in a
/// process that preloads this library.
///
/// Inert unless `TRACETAPE_UNPATCHED_REPORT` or `TRACETAPE_UNPATCHED_MODE`
/// is set. When active, resolving a host name (not an IP literal, nor with
/// `AI_NUMERICHOST`) that is not in `TRACETAPE_UNPATCHED_ALLOW` is reported
/// and, unless the mode is `allow`, fails with `EAI_NONAME` without
/// resolving anything.
///
/// # Safety
///
/// The contract of `getaddrinfo(3)`: `node` and `service` are null or
/// NUL-terminated strings, `hints` is null or points to an `addrinfo`, and
/// `res` is valid for writing a pointer.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `getaddrinfo`, not to Rust callers"
)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && let Some(refuse) = reentrancy_guarded(|| decide_resolution(config, node, hints))
        && refuse
    {
        return libc::EAI_NONAME;
    }
    match real_getaddrinfo() {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `getaddrinfo`'s C signature (see
        // `real_getaddrinfo`).
        Some(real) => unsafe { real(node, service, hints, res) },
        None => {
            // SAFETY: `__errno_location` returns the calling thread's
            // errno, valid for writes for the thread's lifetime.
            unsafe { *libc::__errno_location() = libc::ENOSYS };
            libc::EAI_SYSTEM
        }
    }
}

/// Runs `f` unless this thread is already inside it (or its thread-local
/// state is gone), catching any panic so that none unwinds into C.
fn reentrancy_guarded(f: impl FnOnce() -> bool) -> Option<bool> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = INSIDE.try_with(|inside| inside.set(false));
        }
    }
    if INSIDE.try_with(|inside| inside.replace(true)).ok()? {
        return None;
    }
    let _leave = Leave;
    catch_unwind(AssertUnwindSafe(f)).ok()
}

/// Reports the connection if it bypasses the instrumented clients, and
/// says whether to refuse it.
fn decide(config: &Config, fd: c_int, addr: *const sockaddr, len: socklen_t) -> bool {
    if !is_stream_socket(fd) {
        // UDP (and DNS over it) comes in a later slice.
        return false;
    }
    // SAFETY: `addr` and `len` are `connect`'s arguments, whose caller
    // promised `len` readable bytes at `addr` (or null).
    let Some(dest) = (unsafe { destination(addr, len) }) else {
        return false;
    };
    if config.allows(dest) {
        return false;
    }
    if let Some(path) = &config.report {
        let event = Event {
            target: Target::Tcp(dest),
            pid: std::process::id(),
            tid: thread_id(),
            blocked: config.block,
            backtrace: report::backtrace("connect"),
        };
        report::append(path, &event.json_line());
    }
    config.block
}

/// Reports the resolution if it looks a host name up around the
/// instrumented clients, and says whether to refuse it.
fn decide_resolution(config: &Config, node: *const c_char, hints: *const addrinfo) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: `hints` is `getaddrinfo`'s argument, whose caller promised
    // null or a readable `addrinfo`; null is checked first.
    if !hints.is_null() && unsafe { (*hints).ai_flags } & libc::AI_NUMERICHOST != 0 {
        return false;
    }
    // SAFETY: `node` is non-null (checked above) and, by `getaddrinfo`'s
    // contract, a NUL-terminated string that outlives this call.
    let host = unsafe { CStr::from_ptr(node) }.to_string_lossy();
    if is_ip_literal(&host) || config.allows_host(&host) {
        return false;
    }
    if let Some(path) = &config.report {
        let event = Event {
            target: Target::Dns(host.into_owned()),
            pid: std::process::id(),
            tid: thread_id(),
            blocked: config.block,
            backtrace: report::backtrace("getaddrinfo"),
        };
        report::append(path, &event.json_line());
    }
    config.block
}

/// Whether `host` is an IPv4 or IPv6 address (with an IPv6 scope
/// `%eth0` allowed), which resolving does not look up.
fn is_ip_literal(host: &str) -> bool {
    let address = host.split_once('%').map_or(host, |(address, _)| address);
    address.parse::<IpAddr>().is_ok()
}

/// Whether `fd` is a `SOCK_STREAM` socket (TCP for the IP families).
fn is_stream_socket(fd: c_int) -> bool {
    let mut kind: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: `kind` and `len` are live locals of the sizes `getsockopt`
    // is told; an invalid `fd` only makes it fail.
    let status = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut kind).cast(),
            &raw mut len,
        )
    };
    status == 0 && kind == libc::SOCK_STREAM
}

/// The IPv4 or IPv6 destination at `addr`, or `None` for other families
/// (`AF_UNIX`, `AF_UNSPEC`, …) and for null or too-short addresses.
///
/// # Safety
///
/// `addr` is null or points to `len` readable bytes.
unsafe fn destination(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
    let len = usize::try_from(len).ok()?;
    if addr.is_null() || len < size_of::<libc::sa_family_t>() {
        return None;
    }
    // SAFETY: at least the family's bytes are readable (checked above);
    // `read_unaligned` because callers may pass any byte buffer.
    let family = unsafe { addr.cast::<libc::sa_family_t>().read_unaligned() };
    match c_int::from(family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: a whole `sockaddr_in` is readable (checked above).
            let v4 = unsafe { addr.cast::<libc::sockaddr_in>().read_unaligned() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: a whole `sockaddr_in6` is readable (checked above).
            let v6 = unsafe { addr.cast::<libc::sockaddr_in6>().read_unaligned() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The kernel's id of the calling thread (what `gettid(2)` returns).
#[allow(
    clippy::useless_conversion,
    reason = "`c_long` is `i32` on 32-bit targets"
)]
fn thread_id() -> i64 {
    // SAFETY: `gettid` takes no arguments and cannot fail.
    i64::from(unsafe { libc::syscall(libc::SYS_gettid) })
}

/// The `connect` this library stands in front of.
fn real_connect() -> Option<ConnectFn> {
    *REAL_CONNECT.get_or_init(|| {
        // SAFETY: `RTLD_NEXT` with a NUL-terminated name is a valid lookup;
        // the result is null or the address of the next `connect`.
        let symbol = unsafe { libc::dlsym(libc::RTLD_NEXT, c"connect".as_ptr()) };
        if symbol.is_null() {
            None
        } else {
            // SAFETY: a non-null `connect` symbol is libc's `connect`
            // function (or another interposer's), of exactly this signature.
            Some(unsafe { std::mem::transmute::<*mut libc::c_void, ConnectFn>(symbol) })
        }
    })
}

/// The `getaddrinfo` this library stands in front of.
fn real_getaddrinfo() -> Option<GetaddrinfoFn> {
    *REAL_GETADDRINFO.get_or_init(|| {
        // SAFETY: `RTLD_NEXT` with a NUL-terminated name is a valid lookup;
        // the result is null or the address of the next `getaddrinfo`.
        let symbol = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) };
        if symbol.is_null() {
            None
        } else {
            // SAFETY: a non-null `getaddrinfo` symbol is libc's function
            // (or another interposer's), of exactly this signature.
            Some(unsafe { std::mem::transmute::<*mut libc::c_void, GetaddrinfoFn>(symbol) })
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_are_not_looked_up() {
        for literal in ["127.0.0.1", "::1", "fe80::1%eth0", "2001:db8::5"] {
            assert!(is_ip_literal(literal), "{literal}");
        }
        for name in ["localhost", "db.internal", "", "[::1]"] {
            assert!(!is_ip_literal(name), "{name}");
        }
    }

    #[test]
    fn destination_reads_ipv4_and_ipv6_and_skips_other_families() {
        let v4 = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 8080u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::new(10, 1, 2, 3)).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = size_of_val(&v4) as socklen_t;
        let ptr = (&raw const v4).cast::<sockaddr>();
        // SAFETY: `ptr` points to `len` bytes of a live `sockaddr_in`.
        assert_eq!(
            unsafe { destination(ptr, len) },
            Some("10.1.2.3:8080".parse().unwrap())
        );
        // SAFETY: fewer bytes than that are readable too.
        assert_eq!(unsafe { destination(ptr, len - 1) }, None);

        let v6 = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 443u16.to_be(),
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr {
                s6_addr: "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
            },
            sin6_scope_id: 0,
        };
        let ptr = (&raw const v6).cast::<sockaddr>();
        // SAFETY: `ptr` points to a whole live `sockaddr_in6`.
        assert_eq!(
            unsafe { destination(ptr, size_of_val(&v6) as socklen_t) },
            Some("[2001:db8::1]:443".parse().unwrap())
        );

        // SAFETY: `sockaddr_un` is plain data, valid when all zeroes.
        let un: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        let un = libc::sockaddr_un {
            sun_family: libc::AF_UNIX as libc::sa_family_t,
            ..un
        };
        let ptr = (&raw const un).cast::<sockaddr>();
        // SAFETY: as above.
        assert_eq!(
            unsafe { destination(ptr, size_of_val(&un) as socklen_t) },
            None
        );
        // SAFETY: null is allowed.
        assert_eq!(unsafe { destination(std::ptr::null(), 16) }, None);
    }
}
