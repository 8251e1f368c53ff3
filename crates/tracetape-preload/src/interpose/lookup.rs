//! Host-name resolutions through the C library: `getaddrinfo(3)`, the
//! `gethostbyname(3)` family and the resolver's `res_query(3)` family, each
//! refused the way the C library reports an unknown host. The addresses a
//! lookup let through resolved to are remembered with its host name (see
//! the `names` module), for the `tcp` and `udp` lines that follow.

use std::ffi::CStr;
use std::net::IpAddr;

use libc::{addrinfo, c_char, c_int, c_void, hostent, size_t};

use super::address::{destination, is_ip_literal};
use super::real::{
    GetaddrinfoFn, Gethostbyname2Fn, Gethostbyname2RFn, GethostbynameFn, GethostbynameRFn,
    ResNqueryFn, ResQueryFn, next, unavailable,
};
use super::{NAMES, reentrancy_guarded, refused, refused_by, report, set_h_errno, settings};
use crate::config::Config;
use crate::report::Target;

/// `h_errno`'s "Unknown host" (`<netdb.h>`), missing from the `libc` crate.
const HOST_NOT_FOUND: c_int = 1;

/// `h_errno`'s "see `errno`" (`<netdb.h>`), missing from the `libc` crate.
const NETDB_INTERNAL: c_int = -1;

/// `getaddrinfo(3)`, as seen by every dynamically linked caller in a
/// process that preloads this library.
///
/// Inert unless `TRACETAPE_UNPATCHED_REPORT` or `TRACETAPE_UNPATCHED_MODE`
/// is set. When active, resolving a host name (not an IP literal, nor with
/// `AI_NUMERICHOST`) that is not in `TRACETAPE_UNPATCHED_ALLOW` is reported
/// and, unless the mode is `allow`, fails with `EAI_NONAME` without
/// resolving anything. A host name resolved (let through, or allowed) has
/// the IPv4 and IPv6 addresses of the result remembered for it.
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
    // Read once: the inert path costs one atomic load, as the others do.
    let active = settings();
    if let Some(config) = active
        && refused_by(config, |config| {
            // SAFETY: `hints` is `getaddrinfo`'s argument, whose caller
            // promised null or a readable `addrinfo`; null is checked first.
            let numeric =
                !hints.is_null() && unsafe { (*hints).ai_flags } & libc::AI_NUMERICHOST != 0;
            // SAFETY: `node` is `getaddrinfo`'s, null or a NUL-terminated
            // string by its contract.
            !numeric && unsafe { decide_lookup(config, node, Lookup::Name, "getaddrinfo") }
        })
    {
        return libc::EAI_NONAME;
    }
    let Some(real) = next!(c"getaddrinfo" as GetaddrinfoFn) else {
        return unavailable(libc::EAI_SYSTEM);
    };
    // SAFETY: the caller's arguments are handed on unchanged, under the
    // same contract; `real` has `getaddrinfo`'s C signature.
    let status = unsafe { real(node, service, hints, res) };
    if status == 0 && active.is_some() && !res.is_null() {
        // SAFETY: `getaddrinfo` succeeded, so it wrote to `res` (valid for
        // writes, hence reads, by the contract; non-null, checked above)
        // the head of the list it allocated, which the caller has not
        // seen, let alone freed, yet; `node` is as above.
        unsafe { remember_addrinfo(node, res.read()) };
    }
    status
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
    let call = || {
        next!(c"gethostbyname" as GethostbynameFn).map(|real| {
            // SAFETY: the caller's argument handed on unchanged, under the
            // same contract; `real` has `gethostbyname`'s C signature.
            unsafe { real(name) }
        })
    };
    // SAFETY: `name` is the caller's, under `gethostbyname`'s contract,
    // and `call` returns what `gethostbyname` returns.
    unsafe { by_name(name, "gethostbyname", call) }
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
    let call = || {
        next!(c"gethostbyname2" as Gethostbyname2Fn).map(|real| {
            // SAFETY: as in `gethostbyname`, with `gethostbyname2`'s.
            unsafe { real(name, af) }
        })
    };
    // SAFETY: as in `gethostbyname`.
    unsafe { by_name(name, "gethostbyname2", call) }
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
    let call = || {
        next!(c"gethostbyname_r" as GethostbynameRFn).map(|real| {
            // SAFETY: the caller's arguments handed on unchanged, under the
            // same contract; `real` has `gethostbyname_r`'s C signature.
            unsafe { real(name, ret, buf, buflen, result, h_errnop) }
        })
    };
    // SAFETY: the caller's arguments, under `gethostbyname_r`'s contract,
    // and `call` is the next `gethostbyname_r` on them.
    unsafe { by_name_r(name, "gethostbyname_r", result, h_errnop, call) }
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
    let call = || {
        next!(c"gethostbyname2_r" as Gethostbyname2RFn).map(|real| {
            // SAFETY: as in `gethostbyname_r`, with `gethostbyname2_r`'s.
            unsafe { real(name, af, ret, buf, buflen, result, h_errnop) }
        })
    };
    // SAFETY: as in `gethostbyname_r`.
    unsafe { by_name_r(name, "gethostbyname2_r", result, h_errnop, call) }
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
    let refuse = refused(|config| {
        // SAFETY: `dname` is the `res_*` function's argument: null or a
        // NUL-terminated string by its contract.
        unsafe { decide_lookup(config, dname, Lookup::Query, entry) }
    });
    if refuse {
        set_h_errno(HOST_NOT_FOUND);
    }
    refuse
}

/// What `gethostbyname` and `gethostbyname2` share: decided on as
/// [`getaddrinfo`] is, a refusal is null with `h_errno` `HOST_NOT_FOUND`;
/// otherwise `call` (the next definition, `None` when there is none) and
/// the addresses of its result remembered for `name`. `entry` names the
/// interposed function, where its backtrace starts.
///
/// # Safety
///
/// `name` is null or a NUL-terminated string; `call` is safe to run and
/// returns null or a `hostent` valid until this thread's next lookup.
unsafe fn by_name(
    name: *const c_char,
    entry: &str,
    call: impl FnOnce() -> Option<*mut hostent>,
) -> *mut hostent {
    let active = settings();
    if let Some(config) = active
        && refused_by(config, |config| {
            // SAFETY: `name` as this function's contract says.
            unsafe { decide_lookup(config, name, Lookup::Name, entry) }
        })
    {
        set_h_errno(HOST_NOT_FOUND);
        return std::ptr::null_mut();
    }
    let Some(found) = call() else {
        set_h_errno(NETDB_INTERNAL);
        return unavailable(std::ptr::null_mut());
    };
    if active.is_some() {
        // SAFETY: `found` is null or a live `hostent` (contract), `name` as
        // above.
        unsafe { remember_result(name, found) };
    }
    found
}

/// What `gethostbyname_r` and `gethostbyname2_r` share: decided on as
/// [`getaddrinfo`] is, a refusal is [`not_found_r`]; otherwise `call` (the
/// next definition, `None` when there is none: `ENOSYS`) and, when it
/// succeeded, the addresses of `*result` remembered for `name`.
///
/// # Safety
///
/// `name` is null or a NUL-terminated string, `result` and `h_errnop` are
/// null or valid for writes, and `call` is safe to run; after it returns 0,
/// `*result` is null or a `hostent` alive until the caller regains control.
unsafe fn by_name_r(
    name: *const c_char,
    entry: &str,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
    call: impl FnOnce() -> Option<c_int>,
) -> c_int {
    let active = settings();
    if let Some(config) = active
        && refused_by(config, |config| {
            // SAFETY: `name` as this function's contract says.
            unsafe { decide_lookup(config, name, Lookup::Name, entry) }
        })
    {
        // SAFETY: `result` and `h_errnop` are valid for writes or null
        // (contract; null ones are skipped).
        return unsafe { not_found_r(result, h_errnop) };
    }
    let Some(status) = call() else {
        return libc::ENOSYS;
    };
    if status == 0 && active.is_some() && !result.is_null() {
        // SAFETY: `result` is non-null (checked above) and valid for
        // writes, hence reads; what it holds after success is null or a
        // live `hostent` (contract); `name` as above.
        unsafe { remember_result(name, result.read()) };
    }
    status
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

/// The most entries of a lookup's result looked at for its addresses.
const RESULT_ENTRIES: usize = 64;

/// The host name at `name`, when a lookup of it is worth remembering:
/// not null, empty or an IP literal.
///
/// # Safety
///
/// `name` is null or a NUL-terminated string that outlives the call.
unsafe fn looked_up_name(name: *const c_char) -> Option<String> {
    if name.is_null() {
        return None;
    }
    // SAFETY: non-null (checked above) and NUL-terminated by this
    // function's contract.
    let host = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    (!host.is_empty() && !is_ip_literal(&host)).then(|| host.into_owned())
}

/// Remembers the IPv4 and IPv6 addresses in `getaddrinfo`'s result list
/// `list` (at most its first [`RESULT_ENTRIES`] entries) as resolved from
/// the host name `node`. Runs inside [`reentrancy_guarded`], so no panic
/// unwinds into the caller.
///
/// # Safety
///
/// `node` is null or a NUL-terminated string; `list` is null or the head
/// of a live `addrinfo` list as `getaddrinfo` returns it: each entry's
/// `ai_addr` null or `ai_addrlen` readable bytes, its `ai_next` null or the
/// next entry.
unsafe fn remember_addrinfo(node: *const c_char, list: *const addrinfo) {
    if list.is_null() {
        return;
    }
    reentrancy_guarded(|| {
        // SAFETY: `node` as this function's contract says.
        let Some(host) = (unsafe { looked_up_name(node) }) else {
            return;
        };
        let mut addresses: Vec<IpAddr> = Vec::new();
        let mut entry = list;
        for _ in 0..RESULT_ENTRIES {
            if entry.is_null() {
                break;
            }
            // SAFETY: a non-null entry of the live list (this function's
            // contract); `read_unaligned` copies it out without assuming
            // its alignment.
            let info = unsafe { entry.read_unaligned() };
            if matches!(info.ai_family, libc::AF_INET | libc::AF_INET6)
                // SAFETY: the entry's `ai_addr` is null or has
                // `ai_addrlen` readable bytes (contract); `destination`
                // checks the family and the length against what it reads.
                && let Some(dest) = unsafe { destination(info.ai_addr, info.ai_addrlen) }
            {
                addresses.push(dest.ip());
            }
            entry = info.ai_next;
        }
        NAMES.remember(&host, addresses);
    });
}

/// Remembers the IPv4 or IPv6 addresses of the `gethostbyname` family's
/// result `entry` (at most its first [`RESULT_ENTRIES`]) as resolved from
/// the host name `name`. Nothing for a null result, or one whose address
/// type and length are not IPv4's (4 bytes) or IPv6's (16). Runs inside
/// [`reentrancy_guarded`], so no panic unwinds into the caller.
///
/// # Safety
///
/// `name` is null or a NUL-terminated string; `entry` is null or a live
/// `hostent` whose `h_addr_list` is null or a null-terminated array of
/// pointers to `h_length` readable bytes each.
unsafe fn remember_result(name: *const c_char, entry: *const hostent) {
    if entry.is_null() {
        return;
    }
    reentrancy_guarded(|| {
        // SAFETY: `name` as this function's contract says.
        let Some(host) = (unsafe { looked_up_name(name) }) else {
            return;
        };
        // SAFETY: non-null (checked above) and live (contract).
        let entry = unsafe { entry.read_unaligned() };
        let ipv4 = match (entry.h_addrtype, entry.h_length) {
            (libc::AF_INET, 4) => true,
            (libc::AF_INET6, 16) => false,
            _ => return,
        };
        if entry.h_addr_list.is_null() {
            return;
        }
        let mut addresses: Vec<IpAddr> = Vec::new();
        for index in 0..RESULT_ENTRIES {
            // SAFETY: the array is null-terminated (contract) and no null
            // was met before `index`, so element `index` is within it.
            let address = unsafe { entry.h_addr_list.add(index).read_unaligned() };
            if address.is_null() {
                break;
            }
            addresses.push(if ipv4 {
                // SAFETY: `h_length` (4) readable bytes at `address`
                // (contract); unaligned, as the bytes are in a buffer.
                IpAddr::from(unsafe { address.cast::<[u8; 4]>().read_unaligned() })
            } else {
                // SAFETY: as above, with 16 bytes.
                IpAddr::from(unsafe { address.cast::<[u8; 16]>().read_unaligned() })
            });
        }
        NAMES.remember(&host, addresses);
    });
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
    let at = super::clock::real_unix_nanos();
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
