//! An `LD_PRELOAD` library that catches TCP connections and host-name
//! resolutions bypassing tracetape's instrumented clients while a service
//! is replayed.
//!
//! In replay, every outbound call made through the tower client layer or
//! the reqwest middleware is answered from the recording and opens no
//! connection. A connection that is opened anyway comes from code that
//! bypasses them: another HTTP client, a database driver, a C library. With
//! this library preloaded (`LD_PRELOAD=…/libtracetape_preload.so`), each
//! `connect(2)` of a TCP socket to an IPv4 or IPv6 destination, and each
//! `getaddrinfo(3)` of a host name (not an IP literal, nor with
//! `AI_NUMERICHOST`), is reported, and refused unless told otherwise:
//!
//! | variable | meaning |
//! |---|---|
//! | `TRACETAPE_UNPATCHED_REPORT` | a file; each bypassing connection appends one JSON line: `{"kind":"tcp","address":"1.2.3.4","port":80,"pid":…,"tid":…,"blocked":true,"backtrace":["connect at …", …]}`; a resolution: `{"kind":"dns","host":"db.internal","pid":…,"tid":…,"blocked":true,"backtrace":["getaddrinfo at …", …]}` |
//! | `TRACETAPE_UNPATCHED_MODE` | `allow`: the connection goes ahead (still reported); anything else: refused before reaching the network (the default): a connection with `ECONNREFUSED`, a resolution with `EAI_NONAME` |
//! | `TRACETAPE_UNPATCHED_ALLOW` | comma-separated `ip:port` destinations (`127.0.0.1:4318,[::1]:8080`) neither reported nor refused, and host names with or without a port (`localhost`, `collector:4318`) whose resolution is neither reported nor refused (compared case-insensitively): the replayer's own endpoints |
//!
//! With neither `TRACETAPE_UNPATCHED_REPORT` nor `TRACETAPE_UNPATCHED_MODE`
//! set the library is inert: `connect` and `getaddrinfo` call straight
//! through, so it is safe to preload into anything. Unix sockets, UDP sockets and addresses
//! of other families always go straight through. The settings are read
//! once, at the first `connect` or `getaddrinfo` of the process.
//!
//! # Limits
//!
//! Interposition only sees calls that go through the dynamic linker to
//! libc's `connect`: statically linked binaries, raw `syscall`s, io_uring,
//! and libc's internal calls (glibc's resolver uses its own `__connect`, so
//! its DNS traffic is seen as the `getaddrinfo` that caused it, not as a
//! connection) are not seen; nor are `gethostbyname` and resolvers that
//! speak DNS themselves. It is built on Linux only; elsewhere the crate is
//! empty.
//!
//! # Why `unsafe` is allowed here
//!
//! The workspace forbids `unsafe`; this crate denies it and allows it only
//! in the `interpose` module, because interposing a C symbol cannot be
//! written without it: the exported `connect` and `getaddrinfo` are
//! `extern "C"` functions taking raw pointers (a `sockaddr`, a C string and
//! `addrinfo`s), the next ones are found with
//! `dlsym(RTLD_NEXT, …)` and called through a function pointer, the socket
//! type comes from `getsockopt`, and a refusal sets `errno`. The invariants
//! each block relies on are in its `// SAFETY:` comment; in short:
//!
//! - the caller honours `connect(2)`'s and `getaddrinfo(3)`'s contracts (`addr` null or `len`
//!   readable bytes), and the address is read only after checking `len`
//!   against the structure read, with unaligned reads;
//! - the symbols `dlsym` returns for `connect` and `getaddrinfo` have
//!   their signatures;
//! - `__errno_location` and `gettid` are valid on every thread;
//! - no panic unwinds into C: the decision and reporting run inside
//!   `catch_unwind`, and a panic there lets the call through.
//!
//! Reporting allocates, captures a backtrace and opens a file inside
//! `connect` and `getaddrinfo`, which is not async-signal-safe: a program that connects from
//! a signal handler, or in a forked child before `exec`, while another
//! thread holds the allocator's lock could deadlock. Ordinary programs,
//! Rust's runtimes included, do neither. A thread-local flag makes a
//! `connect` or `getaddrinfo` made while reporting go straight through instead of
//! recursing.

#[cfg(target_os = "linux")]
mod config;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod interpose;
#[cfg(target_os = "linux")]
mod report;
