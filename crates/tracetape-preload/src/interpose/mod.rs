//! The interposed C functions and the raw C ABI around them: the only
//! module of the workspace allowed `unsafe` (see the crate documentation).
//! The `#[allow(unsafe_code)]` is on `mod interpose` in `lib.rs`, so every
//! submodule here inherits it and no module outside this directory has it;
//! each `unsafe` block carries its `// SAFETY:` comment.
//!
//! Each exported function reads the settings (one `OnceLock` load) and,
//! when the library is inert, calls the next definition of its symbol
//! straight away. When active, it decides inside [`reentrancy_guarded`]
//! (no recursion, no unwinding into C), reports through the `report`
//! module, and either refuses the call the way the C library reports that
//! failure or hands it on unchanged. A lookup handed on and answered has
//! the addresses of its result remembered with the host name ([`NAMES`]),
//! which the `tcp` and `udp` lines reported later name their host from.
//!
//! | module | holds |
//! |---|---|
//! | this one | the settings, the re-entrancy guard, reporting (with the host names resolved so far), `errno` and `h_errno`, the thread id |
//! | [`connect`] | `connect(2)` and its decision |
//! | [`send`] | `sendto(2)`, `sendmsg(2)`, `sendmmsg(2)`: their decision, the datagram line cap, reading the first bytes of what is sent |
//! | [`lookup`] | `getaddrinfo(3)`, the `gethostbyname(3)` family, the `res_query(3)` family; the addresses their results give, remembered with the host name |
//! | [`address`] | reading a `sockaddr`, a socket's type, IP literals |
//! | [`clock`] | `clock_gettime(2)`, `gettimeofday(2)`, `time(2)`: the replay clock's shift, read from the mapped clock file; the real time reports are stamped with |
//! | [`real`] | the C signatures and the `dlsym(RTLD_NEXT, …)` lookup of the next definitions |

mod address;
mod clock;
mod connect;
mod lookup;
mod real;
mod send;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use libc::c_int;

use crate::config::Config;
use crate::names::Names;
use crate::report::{self, Event, Target};

unsafe extern "C" {
    /// glibc's location of the calling thread's `h_errno` (what the
    /// `h_errno` macro of `<netdb.h>` reads), missing from the `libc` crate.
    fn __h_errno_location() -> *mut c_int;
}

/// The settings, read from the environment at the first interposed call.
static CONFIG: OnceLock<Option<Config>> = OnceLock::new();

/// The host names resolved while the library is active, by address, which
/// a `tcp` or `udp` line names its destination's host from.
static NAMES: Names = Names::new();

thread_local! {
    /// Set while this thread is deciding about or reporting a call, so
    /// that an interposed call made meanwhile (by the reporting itself)
    /// goes straight through instead of recursing. `const` and without a
    /// destructor, so it stays usable while the thread is exiting.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
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

/// Whether the library is active and `decide`, run with its settings
/// inside [`reentrancy_guarded`], says to refuse the call. An inert
/// library, a call made while reporting and a panic while deciding all let
/// the call through.
fn refused(decide: impl FnOnce(&Config) -> bool) -> bool {
    settings().is_some_and(|config| refused_by(config, decide))
}

/// The settings of an active library, or `None` when it is inert: one
/// atomic load once they have been read.
fn settings() -> Option<&'static Config> {
    CONFIG.get_or_init(Config::from_env).as_ref()
}

/// Whether `decide`, run with the active library's `config` inside
/// [`reentrancy_guarded`], says to refuse the call; a call made while
/// reporting and a panic while deciding let it through.
fn refused_by(config: &Config, decide: impl FnOnce(&Config) -> bool) -> bool {
    reentrancy_guarded(|| decide(config)) == Some(true)
}

/// Runs `f` unless this thread is already inside it (or its thread-local
/// state is gone), catching any panic so that none unwinds into C.
fn reentrancy_guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
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

/// Whether a connection or datagram to `dest` is allowed: the address is
/// in the allow list, or the name the process resolved it from is, with
/// its port.
fn allowed(config: &Config, dest: std::net::SocketAddr) -> bool {
    config.allows(dest)
        || (!config.allow_named.is_empty()
            && NAMES
                .name_of(dest.ip())
                .is_some_and(|host| config.allows_named(&host, dest.port())))
}

/// Appends the line of a call to `target` made at `at` through the
/// interposed function `entry`, when there is a report file; a connection
/// or datagram names the host its address was resolved from, when known.
fn report(config: &Config, target: Target, at: u64, entry: &str) {
    if let Some(path) = &config.report {
        let host = match &target {
            Target::Tcp(dest) | Target::Udp(dest) => NAMES.name_of(dest.ip()),
            Target::Dns(_) | Target::DnsQuery { .. } => None,
        };
        let event = Event {
            target,
            host,
            pid: std::process::id(),
            tid: thread_id(),
            at,
            blocked: config.block,
            backtrace: report::backtrace(entry),
            command: crate::process::command_line(),
            parents: crate::process::parents(),
        };
        report::append(path, &event.json_line());
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
