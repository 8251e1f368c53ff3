//! An `LD_PRELOAD` library that catches outbound connections, datagrams
//! and host-name resolutions bypassing tracetape's instrumented clients
//! while a service is replayed, and sets the wall clock of each thread
//! serving a replayed request to that request's recorded time.
//!
//! In replay, every outbound call made through the tower client layer or
//! the reqwest middleware is answered from the recording and opens no
//! connection. A connection that is opened anyway comes from code that
//! bypasses them: another HTTP client, a database driver, a metrics
//! client, a C library. With this library preloaded
//! (`LD_PRELOAD=…/libtracetape_preload.so`), these calls are reported, and
//! refused unless told otherwise:
//!
//! | function | reported when | refused with |
//! |---|---|---|
//! | `connect(2)` | a TCP (stream) or UDP (datagram) socket to an IPv4 or IPv6 destination | -1, `ECONNREFUSED` |
//! | `sendto(2)`, `sendmsg(2)` | a datagram with a destination address (IPv4 or IPv6); a TCP Fast Open (`MSG_FASTOPEN`) connection | -1, `ECONNREFUSED`, nothing sent |
//! | `sendmmsg(2)` | as `sendmsg`, decided on from the first message alone | -1, `ECONNREFUSED`, none sent |
//! | `getaddrinfo(3)` | a host name (not an IP literal, nor with `AI_NUMERICHOST`) | `EAI_NONAME` |
//! | `gethostbyname(3)`, `gethostbyname2(3)` | a host name (not an IP literal) | null, `h_errno` `HOST_NOT_FOUND` |
//! | `gethostbyname_r(3)`, `gethostbyname2_r(3)` | a host name (not an IP literal) | 0, `*result` null, `*h_errnop` `HOST_NOT_FOUND` (glibc's "unknown host") |
//! | `res_query(3)`, `res_search(3)`, `res_nquery(3)`, `res_nsearch(3)` | any name | -1, `h_errno` `HOST_NOT_FOUND` |
//!
//! A datagram to port 53 whose payload parses as a DNS query (a resolver
//! speaking DNS itself, such as hickory or c-ares) is reported as a `dns`
//! line naming the query's first question and the name server; any other
//! datagram as a `udp` line. Datagram lines (`sendto`, `sendmsg`,
//! `sendmmsg`) are capped at 64 per distinct destination and process; every
//! datagram is still refused when blocking. Calls without a destination
//! (sends on connected sockets) go straight through: a connected socket
//! was decided on at its `connect`.
//!
//! | variable | meaning |
//! |---|---|
//! | `TRACETAPE_UNPATCHED_REPORT` | a file; each bypassing call appends one JSON line: a connection or datagram `{"kind":"tcp","address":"1.2.3.4","port":80,"pid":…,"tid":…,"at":…,"blocked":true,"backtrace":["connect at …", …]}` (`"kind":"udp"` for UDP), with `"host":"db.internal"` after `"port"` when the process resolved that name to the address (see below); a resolution `{"kind":"dns","host":"db.internal","pid":…,"tid":…,"at":…,"blocked":true,"backtrace":["getaddrinfo at …", …]}`; a DNS query sent by the process itself `{"kind":"dns","host":"db.internal","address":"10.0.0.2","port":53,"pid":…,…}`. `tid` is the kernel's thread id and `at` the time of the call in nanoseconds since the Unix epoch (real time, never the replay clock's), so that a line can be matched with the request the thread was serving then; each line ends with the process's `"command"` line and its `"parents"` (`[{"pid":PPID,"exe":"/bin/sh"}, its parent, …]`, `exe` when readable), read when the call is made, so that a child of the service is told from the processes around it and named even once it is gone |
//! | `TRACETAPE_UNPATCHED_MODE` | `allow`: the call goes ahead (still reported); anything else: refused before reaching the network (the default), as in the table above |
//! | `TRACETAPE_UNPATCHED_ALLOW` | comma-separated `ip:port` destinations (`127.0.0.1:4318,[::1]:8080`) neither reported nor refused, and host names with or without a port (`localhost`, `collector:4318`) whose resolution (or DNS query) is neither reported nor refused (compared case-insensitively), and, given with a port, connections to that port of the addresses the process resolved the name to: the replayer's own endpoints |
//!
//! The process's own OTLP endpoints are allowed as if listed in
//! `TRACETAPE_UNPATCHED_ALLOW`, read from its own environment
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
//! `…_METRICS_…`, `…_LOGS_…`), and so are connections to loopback ports
//! 4317 and 4318 (the SDKs' defaults), and resolving `localhost` when an
//! `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER` or `OTEL_LOGS_EXPORTER`
//! names `otlp`: a replayed service keeps exporting its telemetry. An
//! endpoint set only in code is not known here.
//!
//! With neither `TRACETAPE_UNPATCHED_REPORT` nor `TRACETAPE_UNPATCHED_MODE`
//! set the library is inert: every interposed function calls straight
//! through after one atomic load, so it is safe to preload into anything.
//! Unix sockets, raw sockets and addresses of other families always go
//! straight through. The settings are read once, at the first interposed
//! call of the process.
//!
//! # The replay clock
//!
//! | variable | meaning |
//! |---|---|
//! | `TRACETAPE_REPLAY_CLOCK` | the clock file (1 MiB: 65,536 slots of a thread id and a shift in nanoseconds, each two native `i64`s, slot `tid % 65536`), which the `tracetape` library writes while it polls a replayed request's handler |
//!
//! `clock_gettime(2)` with `CLOCK_REALTIME` or `CLOCK_REALTIME_COARSE`,
//! `gettimeofday(2)` and `time(2)` return the real time moved by the
//! calling thread's shift, when its slot carries its own id: the
//! request's recorded start minus the real time its replay began, so the
//! handler reads the recorded time plus the time elapsed since. Other
//! threads, other clocks (monotonic, boot time, CPU time) and every clock
//! without the variable read real time. The file is mapped read-only at
//! the first realtime call; one shorter than 1 MiB is not mapped. Two
//! threads whose ids are equal modulo 65,536 share a slot: while one's
//! shift is in it, the other reads real time. Not reached:
//! `timespec_get(3)`, `ftime(3)` and the C library's internal calls,
//! raw `syscall`s and direct vDSO calls, and static binaries.
//!
//! While active, the library remembers which host name each IPv4 and IPv6
//! address in a successful `getaddrinfo` or `gethostbyname` family result
//! was resolved from (allowed and let-through lookups alike; IP literals
//! have no entry), in a table of at most 256 addresses, the oldest
//! replaced first; a `tcp` or `udp` line to a remembered address names its
//! `host`, the most recent name for that address. Names resolved by a
//! resolver speaking DNS itself (its answers are not read), through calls
//! not interposed, or in another process (an address handed over in
//! configuration) are not known, and such a line has no `host`.
//!
//! # Limits
//!
//! Interposition only sees calls that go through the dynamic linker to
//! the C library's functions: statically linked binaries, raw `syscall`s,
//! io_uring, and the C library's internal calls are not seen. glibc's
//! resolver sends its queries with internal calls, so its DNS traffic is
//! seen as the `getaddrinfo`, `gethostbyname` or `res_query` that caused
//! it. Not interposed: `send`/`write` on a connected UDP socket (its
//! `connect` was), so a resolver that connects its socket to port 53 first
//! is reported as a `udp` connection to the server, without the name;
//! `sendmmsg` messages after the first; the pre-2.34 `__res_query` family
//! of binaries built against older glibc headers, `getaddrinfo_a`,
//! `gethostbyname3_r`/`gethostbyname4_r` and `getnameinfo`. A refused
//! `res_nquery`/`res_nsearch` sets the thread's `h_errno`, not the
//! `res_state`'s. It is built on Linux only; elsewhere the crate is empty.
//!
//! # Why `unsafe` is allowed here
//!
//! The workspace forbids `unsafe`; this crate denies it and allows it only
//! in the `interpose` module, because interposing a C symbol cannot be
//! written without it: the exported functions are `extern "C"` functions
//! taking raw pointers (`sockaddr`s, buffers, `msghdr`s and `iovec`s, C
//! strings, `addrinfo`s and `hostent`s), the next ones are found with
//! `dlsym(RTLD_NEXT, …)` and called through a function pointer, the socket
//! type comes from `getsockopt`, and a refusal sets `errno` or `h_errno`.
//! The invariants each block relies on are in its `// SAFETY:` comment; in
//! short:
//!
//! - the caller honours the interposed function's contract (`addr` null or
//!   `len` readable bytes, `buf` `len` readable bytes, a readable `msghdr`
//!   with readable `iovec`s, NUL-terminated names, writable result
//!   pointers), and an address is read only after checking its length
//!   against the structure read, with unaligned reads; of a payload only
//!   the first bytes a DNS question can take are copied, and only for
//!   datagrams to port 53;
//! - a lookup's result is read only after the C library's function
//!   returned it as a success, before the caller regains control: the
//!   `addrinfo` list (its first 64 entries, each address read as above)
//!   or the `hostent` and its null-terminated `h_addr_list` (at most 64
//!   addresses of the 4 or 16 bytes its type says);
//! - the symbols `dlsym` returns have the signatures of their man pages;
//! - `__errno_location`, `__h_errno_location` and `gettid` are valid on
//!   every thread;
//! - the clock file is mapped read-only and shared, whole (1 MiB, checked
//!   against its size first), never unmapped, and read only with atomic
//!   loads; a `timespec`, `timeval` or `time_t` is written only where the
//!   caller's non-null pointer says, after the real function filled it;
//! - no panic unwinds into C: the decision and reporting run inside
//!   `catch_unwind`, and a panic there lets the call through.
//!
//! Reporting allocates, captures a backtrace, takes a lock (the datagram
//! line counts, the host names) and opens a file inside the interposed
//! call, and remembering a lookup's addresses allocates and takes the host
//! names' lock, which is not async-signal-safe: a program that connects or sends from a signal
//! handler, or in a forked child before `exec`, while another thread holds
//! the allocator's or that lock could deadlock. Ordinary programs, Rust's
//! runtimes included, do neither. A thread-local flag makes an interposed
//! call made while reporting go straight through instead of recursing.
//! The clock functions allocate and lock nothing, except at the first
//! realtime call of the process, which reads the variable and maps the
//! clock file (a clock call made meanwhile on the same thread reads real
//! time); a forked child reads its own thread id again (`pthread_atfork`).

#[cfg(target_os = "linux")]
mod clock;
#[cfg(target_os = "linux")]
mod config;
#[cfg(target_os = "linux")]
mod dns;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod interpose;
#[cfg(target_os = "linux")]
mod limit;
#[cfg(target_os = "linux")]
mod names;
#[cfg(target_os = "linux")]
mod otlp;
#[cfg(target_os = "linux")]
mod process;
#[cfg(target_os = "linux")]
mod report;
