//! `sendto(2)`, `sendmsg(2)` and `sendmmsg(2)`: datagrams (DNS queries
//! among them) and TCP Fast Open connections sent to a destination that
//! bypasses the instrumented clients, and the first bytes of what is sent,
//! copied out of the caller's buffer or `iovec`s to tell a DNS query.

use std::net::SocketAddr;

use libc::{c_int, c_uint, c_void, iovec, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::address::{destination, socket_type};
use super::real::{SendmmsgFn, SendmsgFn, SendtoFn, next, unavailable};
use super::{refused, report, set_errno};
use crate::config::Config;
use crate::dns;
use crate::limit::Limiter;
use crate::report::Target;

/// The count of lines reported per datagram destination.
static DATAGRAM_LINES: Limiter = Limiter::new();

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
/// connection, reported and refused as by [`connect`](super::connect::connect).
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
    if refused(|config| {
        !addr.is_null()
            && decide_send(config, fd, flags, addr, addr_len, "sendto", |question| {
                // SAFETY: `buf` and `len` are `sendto`'s, whose caller
                // promised `len` readable bytes at `buf`.
                unsafe { copy_bytes(buf.cast(), len, question) }
            })
    }) {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"sendto" as SendtoFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `sendto`'s C signature.
        Some(real) => unsafe { real(fd, buf, len, flags, addr, addr_len) },
        None => unavailable(-1),
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
    if refused(|config| {
        !msg.is_null() && {
            // SAFETY: `msg` is non-null (checked just before) and, by
            // `sendmsg`'s contract, a readable `msghdr` for the duration of
            // the call.
            let header = unsafe { &*msg };
            decide_message(config, fd, flags, header, "sendmsg")
        }
    }) {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"sendmsg" as SendmsgFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `sendmsg`'s C signature.
        Some(real) => unsafe { real(fd, msg, flags) },
        None => unavailable(-1),
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
    if refused(|config| {
        vlen > 0 && !msgvec.is_null() && {
            // SAFETY: `msgvec` is non-null with `vlen > 0` (checked just
            // before), so by `sendmmsg`'s contract its first element is
            // readable.
            let header = unsafe { &(*msgvec).msg_hdr };
            decide_message(config, fd, flags, header, "sendmmsg")
        }
    }) {
        set_errno(libc::ECONNREFUSED);
        return -1;
    }
    match next!(c"sendmmsg" as SendmmsgFn) {
        // SAFETY: the caller's arguments are handed on unchanged, under the
        // same contract; `real` has `sendmmsg`'s C signature.
        Some(real) => unsafe { real(fd, msgvec, vlen, flags) },
        None => unavailable(-1),
    }
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
    let at = super::clock::real_unix_nanos();
    // SAFETY: `addr` and `addr_len` are the destination of the send call,
    // whose caller promised `addr_len` readable bytes at `addr` (or null).
    let Some(dest) = (unsafe { destination(addr, addr_len) }) else {
        return false;
    };
    // Before asking the kernel for the socket's type: allowed destinations
    // (the replayer's own, such as an OTLP collector) are the common case.
    if super::allowed(config, dest) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
