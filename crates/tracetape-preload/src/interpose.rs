//! The interposed C functions and the raw C ABI around them: the only
//! module of the workspace allowed `unsafe` (see the crate documentation).
//!
//! Each exported function reads the settings (one `OnceLock` load) and,
//! when the library is inert, calls the next definition of its symbol
//! straight away. When active, it decides inside [`reentrancy_guarded`]
//! (no recursion, no unwinding into C), reports through the `report`
//! module, and either refuses the call the way the C library reports that
//! failure or hands it on unchanged.

use std::cell::Cell;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use libc::{
    addrinfo, c_char, c_int, c_uint, c_void, hostent, iovec, mmsghdr, msghdr, size_t, sockaddr,
    socklen_t, ssize_t,
};

use crate::config::Config;
use crate::dns;
use crate::limit::Limiter;
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

/// The C signature of `sendto(2)`.
type SendtoFn = unsafe extern "C" fn(
    c_int,
    *const c_void,
    size_t,
    c_int,
    *const sockaddr,
    socklen_t,
) -> ssize_t;

/// The C signature of `sendmsg(2)`.
type SendmsgFn = unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;

/// The C signature of `sendmmsg(2)`.
type SendmmsgFn = unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int;

/// The C signature of `gethostbyname(3)`.
type GethostbynameFn = unsafe extern "C" fn(*const c_char) -> *mut hostent;

/// The C signature of `gethostbyname2(3)`.
type Gethostbyname2Fn = unsafe extern "C" fn(*const c_char, c_int) -> *mut hostent;

/// The C signature of `gethostbyname_r(3)`.
type GethostbynameRFn = unsafe extern "C" fn(
    *const c_char,
    *mut hostent,
    *mut c_char,
    size_t,
    *mut *mut hostent,
    *mut c_int,
) -> c_int;

/// The C signature of `gethostbyname2_r(3)`.
type Gethostbyname2RFn = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut hostent,
    *mut c_char,
    size_t,
    *mut *mut hostent,
    *mut c_int,
) -> c_int;

/// The C signature of `res_query(3)` and `res_search(3)`.
type ResQueryFn = unsafe extern "C" fn(*const c_char, c_int, c_int, *mut u8, c_int) -> c_int;

/// The C signature of `res_nquery(3)` and `res_nsearch(3)`; the
/// `res_state` is only handed on, so it is an opaque pointer here.
type ResNqueryFn =
    unsafe extern "C" fn(*mut c_void, *const c_char, c_int, c_int, *mut u8, c_int) -> c_int;

unsafe extern "C" {
    /// glibc's location of the calling thread's `h_errno` (what the
    /// `h_errno` macro of `<netdb.h>` reads), missing from the `libc` crate.
    fn __h_errno_location() -> *mut c_int;
}

/// `h_errno`'s "Unknown host" (`<netdb.h>`), missing from the `libc` crate.
const HOST_NOT_FOUND: c_int = 1;

/// `h_errno`'s "see `errno`" (`<netdb.h>`), missing from the `libc` crate.
const NETDB_INTERNAL: c_int = -1;

/// The settings, read from the environment at the first interposed call.
static CONFIG: OnceLock<Option<Config>> = OnceLock::new();

/// The count of lines reported per datagram destination.
static DATAGRAM_LINES: Limiter = Limiter::new();

thread_local! {
    /// Set while this thread is deciding about or reporting a call, so
    /// that an interposed call made meanwhile (by the reporting itself)
    /// goes straight through instead of recursing. `const` and without a
    /// destructor, so it stays usable while the thread is exiting.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// The next definition of the C function `$name` in symbol lookup order
/// (the C library's, or another interposer's), as an `Option<$ty>`, looked
/// up once per function with `dlsym(RTLD_NEXT, …)`.
macro_rules! next {
    ($name:literal as $ty:ty) => {{
        static NEXT: OnceLock<Option<$ty>> = OnceLock::new();
        *NEXT.get_or_init(|| {
            // SAFETY: `RTLD_NEXT` with a NUL-terminated name is a valid
            // lookup; the result is null or the address of the symbol.
            let symbol = unsafe { libc::dlsym(libc::RTLD_NEXT, $name.as_ptr()) };
            if symbol.is_null() {
                None
            } else {
                // SAFETY: a non-null symbol of this name is the C library's
                // function (or another interposer's), of exactly the C
                // signature `$ty` spells out (from the function's man page
                // and glibc's headers).
                Some(unsafe { std::mem::transmute::<*mut c_void, $ty>(symbol) })
            }
        })
    }};
}

/// `connect(2)`, as seen by every dynamically linked caller in a process
/// that preloads this library.
///
/// Inert (one atomic load, then the real `connect`) unless
/// `TRACETAPE_UNPATCHED_REPORT` or `TRACETAPE_UNPATCHED_MODE` is set. When
/// active, a stream-socket (TCP) or datagram-socket (UDP) connection to an
/// IPv4 or IPv6 destination not in `TRACETAPE_UNPATCHED_ALLOW` is reported
/// and, unless the mode is `allow`, refused with `ECONNREFUSED` without
/// reaching the network.
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
        && let Some(refuse) = reentrancy_guarded(|| decide_connect(config, fd, addr, len))
        && refuse
    {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"connect" as ConnectFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `connect`'s C signature.
        Some(real) => unsafe { real(fd, addr, len) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// `sendto(2)`, as seen by every dynamically linked caller in a process
/// that preloads this library.
///
/// Inert unless `TRACETAPE_UNPATCHED_REPORT` or `TRACETAPE_UNPATCHED_MODE`
/// is set; a call without a destination address goes straight through.
/// When active, a datagram to an IPv4 or IPv6 destination not in
/// `TRACETAPE_UNPATCHED_ALLOW` is reported (`udp`, or `dns` when it is a
/// DNS query sent to port 53; at most 64 lines per destination) and,
/// unless the mode is `allow`, refused with `ECONNREFUSED` without being
/// sent. A TCP Fast Open (`MSG_FASTOPEN`) on a stream socket is a
/// connection, reported and refused as by [`connect`].
///
/// # Safety
///
/// The contract of `sendto(2)`: `buf` points to `len` readable bytes (or
/// `len` is 0), and `addr` is null or points to `addr_len` readable bytes.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `sendto`, not to Rust callers"
)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addr_len: socklen_t,
) -> ssize_t {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && !addr.is_null()
        && let Some(refuse) = reentrancy_guarded(|| {
            decide_send(config, fd, flags, addr, addr_len, "sendto", |question| {
                // SAFETY: `buf` and `len` are `sendto`'s, whose caller
                // promised `len` readable bytes at `buf`.
                unsafe { copy_bytes(buf.cast(), len, question) }
            })
        })
        && refuse
    {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"sendto" as SendtoFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `sendto`'s C signature.
        Some(real) => unsafe { real(fd, buf, len, flags, addr, addr_len) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// `sendmsg(2)`, as seen by every dynamically linked caller in a process
/// that preloads this library: decided on as [`sendto`] is, from the
/// message's `msg_name` and the first bytes of its `msg_iov`.
///
/// # Safety
///
/// The contract of `sendmsg(2)`: `msg` points to a readable `msghdr`
/// whose `msg_name` is null or points to `msg_namelen` readable bytes and
/// whose `msg_iov` points to `msg_iovlen` readable `iovec`s, each
/// describing readable bytes.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `sendmsg`, not to Rust callers"
)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && !msg.is_null()
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `msg` is non-null (checked above) and, by `sendmsg`'s
            // contract, a readable `msghdr` for the duration of the call.
            let header = unsafe { &*msg };
            decide_message(config, fd, flags, header, "sendmsg")
        })
        && refuse
    {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"sendmsg" as SendmsgFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `sendmsg`'s C signature.
        Some(real) => unsafe { real(fd, msg, flags) },
        None => {
            set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// `sendmmsg(2)`, as seen by every dynamically linked caller in a process
/// that preloads this library: decided on from its first message alone,
/// as [`sendmsg`] is; when that one is refused, the call fails with
/// `ECONNREFUSED` and sends none. Later messages with other destinations
/// are not looked at.
///
/// # Safety
///
/// The contract of `sendmmsg(2)`: `msgvec` points to `vlen` `mmsghdr`s,
/// each as [`sendmsg`] requires of its `msghdr`.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `sendmmsg`, not to Rust callers"
)]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgvec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && vlen > 0
        && !msgvec.is_null()
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `msgvec` is non-null with `vlen > 0` (checked above),
            // so by `sendmmsg`'s contract its first element is readable.
            let header = unsafe { &(*msgvec).msg_hdr };
            decide_message(config, fd, flags, header, "sendmmsg")
        })
        && refuse
    {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"sendmmsg" as SendmmsgFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `sendmmsg`'s C signature.
        Some(real) => unsafe { real(fd, msgvec, vlen, flags) },
        None => {
            set_errno(libc::ENOSYS);
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
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `hints` is `getaddrinfo`'s argument, whose caller
            // promised null or a readable `addrinfo`; null is checked first.
            let numeric =
                !hints.is_null() && unsafe { (*hints).ai_flags } & libc::AI_NUMERICHOST != 0;
            // SAFETY: `node` is `getaddrinfo`'s, null or a NUL-terminated
            // string by its contract.
            !numeric && unsafe { decide_lookup(config, node, Lookup::Name, "getaddrinfo") }
        })
        && refuse
    {
        return libc::EAI_NONAME;
    }
    match next!(c"getaddrinfo" as GetaddrinfoFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `getaddrinfo`'s C signature.
        Some(real) => unsafe { real(node, service, hints, res) },
        None => {
            set_errno(libc::ENOSYS);
            libc::EAI_SYSTEM
        }
    }
}

/// `gethostbyname(3)`, as seen by every dynamically linked caller in a
/// process that preloads this library: decided on as [`getaddrinfo`] is
/// (IP literals go through); a refused lookup returns null with `h_errno`
/// set to `HOST_NOT_FOUND`, as glibc does for an unknown host.
///
/// # Safety
///
/// The contract of `gethostbyname(3)`: `name` is null or a NUL-terminated
/// string.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `gethostbyname`, not to Rust callers"
)]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut hostent {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `name` is null or a NUL-terminated string (contract).
            unsafe { decide_lookup(config, name, Lookup::Name, "gethostbyname") }
        })
        && refuse
    {
        set_h_errno(HOST_NOT_FOUND);
        return std::ptr::null_mut();
    }
    match next!(c"gethostbyname" as GethostbynameFn) {
        // SAFETY: the caller's argument is handed on unchanged, under the
        // same contract; `real` has `gethostbyname`'s C signature.
        Some(real) => unsafe { real(name) },
        None => {
            set_errno(libc::ENOSYS);
            set_h_errno(NETDB_INTERNAL);
            std::ptr::null_mut()
        }
    }
}

/// `gethostbyname2(3)`: as [`gethostbyname`], for the family `af`.
///
/// # Safety
///
/// The contract of `gethostbyname2(3)`: `name` is null or a NUL-terminated
/// string.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `gethostbyname2`, not to Rust callers"
)]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut hostent {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `name` is null or a NUL-terminated string (contract).
            unsafe { decide_lookup(config, name, Lookup::Name, "gethostbyname2") }
        })
        && refuse
    {
        set_h_errno(HOST_NOT_FOUND);
        return std::ptr::null_mut();
    }
    match next!(c"gethostbyname2" as Gethostbyname2Fn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `gethostbyname2`'s C signature.
        Some(real) => unsafe { real(name, af) },
        None => {
            set_errno(libc::ENOSYS);
            set_h_errno(NETDB_INTERNAL);
            std::ptr::null_mut()
        }
    }
}

/// `gethostbyname_r(3)`: decided on as [`gethostbyname`]; a refused lookup
/// is what glibc gives for an unknown host: `*result` null,
/// `*h_errnop` `HOST_NOT_FOUND`, and 0 returned (glibc returns an error
/// number only when the lookup itself failed, such as `ERANGE` for a
/// too-small buffer; "not found" is a successful lookup).
///
/// # Safety
///
/// The contract of `gethostbyname_r(3)`: `name` is null or a
/// NUL-terminated string, `result` and `h_errnop` are valid for writes,
/// `buf` points to `buflen` writable bytes.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `gethostbyname_r`, not to Rust callers"
)]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `name` is null or a NUL-terminated string (contract).
            unsafe { decide_lookup(config, name, Lookup::Name, "gethostbyname_r") }
        })
        && refuse
    {
        // SAFETY: `result` and `h_errnop` are the caller's, valid for
        // writes by the contract (null ones are skipped).
        return unsafe { not_found_r(result, h_errnop) };
    }
    match next!(c"gethostbyname_r" as GethostbynameRFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `gethostbyname_r`'s C signature.
        Some(real) => unsafe { real(name, ret, buf, buflen, result, h_errnop) },
        None => libc::ENOSYS,
    }
}

/// `gethostbyname2_r(3)`: as [`gethostbyname_r`], for the family `af`.
///
/// # Safety
///
/// The contract of `gethostbyname2_r(3)`, as [`gethostbyname_r`]'s.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `gethostbyname2_r`, not to Rust callers"
)]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    if let Some(config) = CONFIG.get_or_init(Config::from_env)
        && let Some(refuse) = reentrancy_guarded(|| {
            // SAFETY: `name` is null or a NUL-terminated string (contract).
            unsafe { decide_lookup(config, name, Lookup::Name, "gethostbyname2_r") }
        })
        && refuse
    {
        // SAFETY: as in `gethostbyname_r`.
        return unsafe { not_found_r(result, h_errnop) };
    }
    match next!(c"gethostbyname2_r" as Gethostbyname2RFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `gethostbyname2_r`'s C signature.
        Some(real) => unsafe { real(name, af, ret, buf, buflen, result, h_errnop) },
        None => libc::ENOSYS,
    }
}

/// `res_query(3)`: a DNS query for `dname` sent by the C library's
/// resolver. Any name not in the allow list (IP literals included: the
/// query is sent all the same) is reported; a refused query returns -1
/// with `h_errno` set to `HOST_NOT_FOUND`.
///
/// # Safety
///
/// The contract of `res_query(3)`: `dname` is null or a NUL-terminated
/// string, `answer` points to `anslen` writable bytes.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `res_query`, not to Rust callers"
)]
pub unsafe extern "C" fn res_query(
    dname: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut u8,
    anslen: c_int,
) -> c_int {
    if refuse_query(dname, "res_query") {
        return -1;
    }
    match next!(c"res_query" as ResQueryFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `res_query`'s C signature.
        Some(real) => unsafe { real(dname, class, kind, answer, anslen) },
        None => -1,
    }
}

/// `res_search(3)`: as [`res_query`], trying the search domains.
///
/// # Safety
///
/// The contract of `res_search(3)`, as [`res_query`]'s.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `res_search`, not to Rust callers"
)]
pub unsafe extern "C" fn res_search(
    dname: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut u8,
    anslen: c_int,
) -> c_int {
    if refuse_query(dname, "res_search") {
        return -1;
    }
    match next!(c"res_search" as ResQueryFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `res_search`'s C signature.
        Some(real) => unsafe { real(dname, class, kind, answer, anslen) },
        None => -1,
    }
}

/// `res_nquery(3)`: as [`res_query`], with the caller's resolver state
/// (a refusal sets the thread's `h_errno`, not the state's
/// `res_h_errno`).
///
/// # Safety
///
/// The contract of `res_nquery(3)`: `statp` is an initialised resolver
/// state, the rest as [`res_query`]'s.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `res_nquery`, not to Rust callers"
)]
pub unsafe extern "C" fn res_nquery(
    statp: *mut c_void,
    dname: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut u8,
    anslen: c_int,
) -> c_int {
    if refuse_query(dname, "res_nquery") {
        return -1;
    }
    match next!(c"res_nquery" as ResNqueryFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `res_nquery`'s C signature.
        Some(real) => unsafe { real(statp, dname, class, kind, answer, anslen) },
        None => -1,
    }
}

/// `res_nsearch(3)`: as [`res_nquery`], trying the search domains.
///
/// # Safety
///
/// The contract of `res_nsearch(3)`, as [`res_nquery`]'s.
#[unsafe(no_mangle)]
#[allow(
    unreachable_pub,
    reason = "exported as the C symbol `res_nsearch`, not to Rust callers"
)]
pub unsafe extern "C" fn res_nsearch(
    statp: *mut c_void,
    dname: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut u8,
    anslen: c_int,
) -> c_int {
    if refuse_query(dname, "res_nsearch") {
        return -1;
    }
    match next!(c"res_nsearch" as ResNqueryFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `res_nsearch`'s C signature.
        Some(real) => unsafe { real(statp, dname, class, kind, answer, anslen) },
        None => -1,
    }
}

/// The decision of the `res_*` functions about querying `dname`, made as
/// `entry`: when refused, `h_errno` is set to `HOST_NOT_FOUND` and the
/// caller returns -1.
fn refuse_query(dname: *const c_char, entry: &str) -> bool {
    let refuse = CONFIG
        .get_or_init(Config::from_env)
        .as_ref()
        .is_some_and(|config| {
            reentrancy_guarded(|| {
                // SAFETY: `dname` is the `res_*` function's argument: null or a
                // NUL-terminated string by its contract.
                unsafe { decide_lookup(config, dname, Lookup::Query, entry) }
            }) == Some(true)
        });
    if refuse {
        set_h_errno(HOST_NOT_FOUND);
    }
    refuse
}

/// A `*_r` lookup's "unknown host": `*result` null, `*h_errnop`
/// `HOST_NOT_FOUND`, 0 returned.
///
/// # Safety
///
/// `result` and `h_errnop` are each null or valid for writes.
unsafe fn not_found_r(result: *mut *mut hostent, h_errnop: *mut c_int) -> c_int {
    if !result.is_null() {
        // SAFETY: non-null, and valid for writes by the caller's promise.
        unsafe { result.write(std::ptr::null_mut()) };
    }
    if !h_errnop.is_null() {
        // SAFETY: as above.
        unsafe { h_errnop.write(HOST_NOT_FOUND) };
    }
    0
}

/// Sets the calling thread's `errno`.
fn set_errno(value: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno, valid
    // for writes for the thread's lifetime.
    unsafe { *libc::__errno_location() = value };
}

/// Sets the calling thread's `h_errno`.
fn set_h_errno(value: c_int) {
    // SAFETY: `__h_errno_location` returns the calling thread's h_errno,
    // valid for writes for the thread's lifetime.
    unsafe { *__h_errno_location() = value };
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

/// Appends the line of a call to `target` made at `at` through the
/// interposed function `entry`, when there is a report file.
fn report(config: &Config, target: Target, at: u64, entry: &str) {
    if let Some(path) = &config.report {
        let event = Event {
            target,
            pid: std::process::id(),
            tid: thread_id(),
            at,
            blocked: config.block,
            backtrace: report::backtrace(entry),
        };
        report::append(path, &event.json_line());
    }
}

/// Reports `connect`'s connection if it bypasses the instrumented clients,
/// and says whether to refuse it.
fn decide_connect(config: &Config, fd: c_int, addr: *const sockaddr, len: socklen_t) -> bool {
    let at = report::now();
    // SAFETY: `addr` and `len` are `connect`'s arguments, whose caller
    // promised `len` readable bytes at `addr` (or null).
    let Some(dest) = (unsafe { destination(addr, len) }) else {
        return false;
    };
    let target = match socket_type(fd) {
        Some(libc::SOCK_STREAM) => Target::Tcp(dest),
        Some(libc::SOCK_DGRAM) => Target::Udp(dest),
        _ => return false,
    };
    if config.allows(dest) {
        return false;
    }
    report(config, target, at, "connect");
    config.block
}

/// Reports a message of `sendmsg` or `sendmmsg` if it goes around the
/// instrumented clients, and says whether to refuse it. Messages without
/// a `msg_name` (connected sockets) go through.
fn decide_message(config: &Config, fd: c_int, flags: c_int, header: &msghdr, entry: &str) -> bool {
    if header.msg_name.is_null() {
        return false;
    }
    decide_send(
        config,
        fd,
        flags,
        header.msg_name.cast(),
        header.msg_namelen,
        entry,
        |question| {
            // SAFETY: the message's `msg_iov` and `msg_iovlen`, which the
            // caller of `sendmsg`/`sendmmsg` promised readable.
            unsafe { gather(header.msg_iov, header.msg_iovlen, question) }
        },
    )
}

/// Reports a send to `addr` with `flags` on `fd`, made through the
/// interposed `entry`, if it goes around the instrumented clients, and
/// says whether to refuse it: a datagram (see [`datagram_target`]; at
/// most [`LINES_PER_DESTINATION`](crate::limit::LINES_PER_DESTINATION)
/// lines per destination), or a TCP Fast Open connection. `payload`
/// copies the first bytes of what is sent into the buffer it is given and
/// returns how many; it is called only for datagrams to the DNS port.
fn decide_send(
    config: &Config,
    fd: c_int,
    flags: c_int,
    addr: *const sockaddr,
    addr_len: socklen_t,
    entry: &str,
    payload: impl FnOnce(&mut [u8]) -> usize,
) -> bool {
    let at = report::now();
    // SAFETY: `addr` and `addr_len` are the destination of the send call,
    // whose caller promised `addr_len` readable bytes at `addr` (or null).
    let Some(dest) = (unsafe { destination(addr, addr_len) }) else {
        return false;
    };
    // Before asking the kernel for the socket's type: allowed destinations
    // (the replayer's own, such as an OTLP collector) are the common case.
    if config.allows(dest) {
        return false;
    }
    match socket_type(fd) {
        Some(libc::SOCK_DGRAM) => {}
        Some(libc::SOCK_STREAM) if flags & libc::MSG_FASTOPEN != 0 => {
            report(config, Target::Tcp(dest), at, entry);
            return config.block;
        }
        _ => return false,
    }
    let mut question = [0u8; dns::QUESTION_BYTES];
    let sent: &[u8] = if dest.port() == dns::PORT {
        let len = payload(&mut question).min(question.len());
        &question[..len]
    } else {
        &[]
    };
    let Some(target) = datagram_target(config, dest, sent) else {
        return false;
    };
    if config.report.is_some() && DATAGRAM_LINES.admit(&target) {
        report(config, target, at, entry);
    }
    config.block
}

/// What a datagram to `dest` whose payload begins with `payload` is
/// reported as, or `None` when it is allowed: a DNS query (sent to port
/// 53, parsing as one) for a host name not in the allow list, or a UDP
/// datagram to a destination not in it.
fn datagram_target(config: &Config, dest: SocketAddr, payload: &[u8]) -> Option<Target> {
    if config.allows(dest) {
        return None;
    }
    if dest.port() == dns::PORT
        && let Some(host) = dns::query_name(payload)
    {
        return (!config.allows_host(&host)).then_some(Target::DnsQuery { host, server: dest });
    }
    Some(Target::Udp(dest))
}

/// Whether a lookup is resolving a host name (IP literals are not looked
/// up) or a DNS query sent as it is (IP literals too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// `getaddrinfo`, `gethostbyname`…: an IP literal is not looked up.
    Name,
    /// `res_query`…: whatever the name, a query is sent.
    Query,
}

/// Reports looking `name` up through the interposed `entry` if it goes
/// around the instrumented clients, and says whether to refuse it.
///
/// # Safety
///
/// `name` is null or a NUL-terminated string that outlives the call.
unsafe fn decide_lookup(config: &Config, name: *const c_char, lookup: Lookup, entry: &str) -> bool {
    let at = report::now();
    if name.is_null() {
        return false;
    }
    // SAFETY: `name` is non-null (checked above) and, by this function's
    // contract, a NUL-terminated string that outlives this call.
    let host = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    if (lookup == Lookup::Name && is_ip_literal(&host)) || config.allows_host(&host) {
        return false;
    }
    report(config, Target::Dns(host.into_owned()), at, entry);
    config.block
}

/// Copies the first of `len` bytes at `bytes` into `into`; how many.
///
/// # Safety
///
/// `bytes` is null or points to `len` readable bytes.
unsafe fn copy_bytes(bytes: *const u8, len: size_t, into: &mut [u8]) -> usize {
    if bytes.is_null() {
        return 0;
    }
    let count = len.min(into.len());
    // SAFETY: `count` of the `len` readable bytes at `bytes` (the caller's
    // promise), into `into`, a distinct Rust buffer of at least `count`.
    unsafe { std::ptr::copy_nonoverlapping(bytes, into.as_mut_ptr(), count) };
    count
}

/// The most `iovec`s of a message looked into for its first bytes.
const GATHERED_IOVECS: usize = 16;

/// Copies the first bytes of the message made of the `count` `iovec`s at
/// `iov` (at most the first [`GATHERED_IOVECS`]) into `into`; how many.
///
/// # Safety
///
/// `iov` is null or points to `count` readable `iovec`s, each null or
/// describing readable bytes.
unsafe fn gather(iov: *const iovec, count: size_t, into: &mut [u8]) -> usize {
    if iov.is_null() {
        return 0;
    }
    let mut filled = 0;
    for index in 0..count.min(GATHERED_IOVECS) {
        if filled == into.len() {
            break;
        }
        // SAFETY: `index < count`, so the `iovec` is one of the readable
        // ones; `read_unaligned` because callers may pass any buffer.
        let part = unsafe { iov.add(index).read_unaligned() };
        // SAFETY: the `iovec`'s base is null or has `iov_len` readable
        // bytes (the caller's promise).
        filled += unsafe { copy_bytes(part.iov_base.cast(), part.iov_len, &mut into[filled..]) };
    }
    filled
}

/// Whether `host` is an IPv4 or IPv6 address (with an IPv6 scope
/// `%eth0` allowed), which resolving does not look up.
fn is_ip_literal(host: &str) -> bool {
    let address = host.split_once('%').map_or(host, |(address, _)| address);
    address.parse::<IpAddr>().is_ok()
}

/// The type of the socket `fd` (`SOCK_STREAM`, `SOCK_DGRAM`, …), or
/// `None` when it is not a socket.
fn socket_type(fd: c_int) -> Option<c_int> {
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
    (status == 0).then_some(kind)
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

    fn blocking(allow: &str) -> Config {
        Config::from_vars(None, Some("block".into()), Some(allow.into())).unwrap()
    }

    #[test]
    fn a_datagram_to_port_53_carrying_a_query_is_a_dns_query() {
        let config = blocking("127.0.0.1:9999, LocalHost");
        let server: SocketAddr = "10.0.0.2:53".parse().unwrap();
        let query = dns::tests::query("db.internal");
        assert_eq!(
            datagram_target(&config, server, &query),
            Some(Target::DnsQuery {
                host: "db.internal".to_owned(),
                server,
            })
        );
        // An allowed host name is neither reported nor refused.
        assert_eq!(
            datagram_target(&config, server, &dns::tests::query("localhost")),
            None
        );
        // Not a query, or not to port 53: a datagram.
        assert_eq!(
            datagram_target(&config, server, b"garbage"),
            Some(Target::Udp(server))
        );
        let other: SocketAddr = "10.0.0.2:5353".parse().unwrap();
        assert_eq!(
            datagram_target(&config, other, &query),
            Some(Target::Udp(other))
        );
        // An allowed destination, whatever is sent to it.
        let allowed: SocketAddr = "127.0.0.1:9999".parse().unwrap();
        assert_eq!(datagram_target(&config, allowed, b"x"), None);
        let allowed_server = blocking("[::1]:53");
        assert_eq!(
            datagram_target(&allowed_server, "[::1]:53".parse().unwrap(), &query),
            None
        );
    }

    #[test]
    fn gather_copies_the_first_bytes_across_iovecs() {
        let first = *b"abc";
        let second = *b"defgh";
        let parts = [
            iovec {
                iov_base: first.as_ptr().cast_mut().cast(),
                iov_len: first.len(),
            },
            iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 7,
            },
            iovec {
                iov_base: second.as_ptr().cast_mut().cast(),
                iov_len: second.len(),
            },
        ];
        let mut into = [0u8; 6];
        // SAFETY: `parts` holds 3 live `iovec`s over live arrays (or null).
        let filled = unsafe { gather(parts.as_ptr(), parts.len(), &mut into) };
        assert_eq!(&into[..filled], b"abcdef");
        let mut into = [0u8; 16];
        // SAFETY: as above.
        let filled = unsafe { gather(parts.as_ptr(), parts.len(), &mut into) };
        assert_eq!(&into[..filled], b"abcdefgh");
        // SAFETY: null is allowed.
        assert_eq!(unsafe { gather(std::ptr::null(), 3, &mut into) }, 0);
    }
}
