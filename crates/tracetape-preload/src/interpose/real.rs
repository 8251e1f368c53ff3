//! The next definitions of the interposed symbols (the C library's, or
//! another interposer's), which a call that is not refused is handed on
//! to: their C signatures, and the one `dlsym(RTLD_NEXT, …)` lookup each
//! is found with ([`next!`]).

use libc::{
    addrinfo, c_char, c_int, c_uint, c_void, clockid_t, hostent, mmsghdr, msghdr, size_t, sockaddr,
    socklen_t, ssize_t, time_t, timespec, timeval,
};

use super::set_errno;

/// The C signature of `connect(2)`.
pub(super) type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;

/// The C signature of `getaddrinfo(3)`.
pub(super) type GetaddrinfoFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// The C signature of `sendto(2)`.
pub(super) type SendtoFn = unsafe extern "C" fn(
    c_int,
    *const c_void,
    size_t,
    c_int,
    *const sockaddr,
    socklen_t,
) -> ssize_t;

/// The C signature of `sendmsg(2)`.
pub(super) type SendmsgFn = unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;

/// The C signature of `sendmmsg(2)`.
pub(super) type SendmmsgFn = unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int;

/// The C signature of `gethostbyname(3)`.
pub(super) type GethostbynameFn = unsafe extern "C" fn(*const c_char) -> *mut hostent;

/// The C signature of `gethostbyname2(3)`.
pub(super) type Gethostbyname2Fn = unsafe extern "C" fn(*const c_char, c_int) -> *mut hostent;

/// The C signature of `gethostbyname_r(3)`.
pub(super) type GethostbynameRFn = unsafe extern "C" fn(
    *const c_char,
    *mut hostent,
    *mut c_char,
    size_t,
    *mut *mut hostent,
    *mut c_int,
) -> c_int;

/// The C signature of `gethostbyname2_r(3)`.
pub(super) type Gethostbyname2RFn = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut hostent,
    *mut c_char,
    size_t,
    *mut *mut hostent,
    *mut c_int,
) -> c_int;

/// The C signature of `res_query(3)` and `res_search(3)`.
pub(super) type ResQueryFn =
    unsafe extern "C" fn(*const c_char, c_int, c_int, *mut u8, c_int) -> c_int;

/// The C signature of `res_nquery(3)` and `res_nsearch(3)`; the
/// `res_state` is only handed on, so it is an opaque pointer here.
pub(super) type ResNqueryFn =
    unsafe extern "C" fn(*mut c_void, *const c_char, c_int, c_int, *mut u8, c_int) -> c_int;

/// The C signature of `clock_gettime(2)`.
pub(super) type ClockGettimeFn = unsafe extern "C" fn(clockid_t, *mut timespec) -> c_int;

/// The C signature of `gettimeofday(2)`; the obsolete `timezone` is only
/// handed on, so it is an opaque pointer here.
pub(super) type GettimeofdayFn = unsafe extern "C" fn(*mut timeval, *mut c_void) -> c_int;

/// The C signature of `time(2)`.
pub(super) type TimeFn = unsafe extern "C" fn(*mut time_t) -> time_t;

/// The next definition of the C function `$name` in symbol lookup order
/// (the C library's, or another interposer's), as an `Option<$ty>`, looked
/// up once per function with `dlsym(RTLD_NEXT, …)`.
macro_rules! next {
    ($name:literal as $ty:ty) => {{
        static NEXT: std::sync::OnceLock<Option<$ty>> = std::sync::OnceLock::new();
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
                Some(unsafe { std::mem::transmute::<*mut libc::c_void, $ty>(symbol) })
            }
        })
    }};
}

pub(super) use next;

/// What an interposed function whose next definition was not found
/// returns: `failed`, with `errno` set to `ENOSYS`.
pub(super) fn unavailable<T>(failed: T) -> T {
    set_errno(libc::ENOSYS);
    failed
}
