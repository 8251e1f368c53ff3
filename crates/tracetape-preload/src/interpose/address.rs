//! What the interposed functions read of their arguments' addresses and
//! sockets: an IPv4 or IPv6 destination out of a `sockaddr`, a socket's
//! type, and whether a host name is an IP literal.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libc::{c_int, sockaddr, socklen_t};

/// Whether `host` is an IPv4 or IPv6 address (with an IPv6 scope
/// `%eth0` allowed), which resolving does not look up.
pub(super) fn is_ip_literal(host: &str) -> bool {
    let address = host.split_once('%').map_or(host, |(address, _)| address);
    address.parse::<IpAddr>().is_ok()
}

/// The type of the socket `fd` (`SOCK_STREAM`, `SOCK_DGRAM`, …), or
/// `None` when it is not a socket.
pub(super) fn socket_type(fd: c_int) -> Option<c_int> {
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
pub(super) unsafe fn destination(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
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
