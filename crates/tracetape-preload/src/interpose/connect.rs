//! `connect(2)`: a TCP or UDP socket connected to a destination that
//! bypasses the instrumented clients.

use libc::{c_int, sockaddr, socklen_t};

use super::address::{destination, socket_type};
use super::real::{ConnectFn, next, unavailable};
use super::{allowed, refused, report, set_errno};
use crate::config::Config;
use crate::report::Target;

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
    if refused(|config| decide_connect(config, fd, addr, len)) {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"connect" as ConnectFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `connect`'s C signature.
        Some(real) => unsafe { real(fd, addr, len) },
        None => unavailable(-1),
    }
}

/// Reports `connect`'s connection if it bypasses the instrumented clients,
/// and says whether to refuse it.
fn decide_connect(config: &Config, fd: c_int, addr: *const sockaddr, len: socklen_t) -> bool {
    let at = super::clock::real_unix_nanos();
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
    if allowed(config, dest) {
        return false;
    }
    report(config, target, at, "connect");
    config.block
}
