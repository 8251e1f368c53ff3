//! Running user code (hooks, predicates, route functions) so that a panic in
//! it never reaches the request.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::diag;

/// Runs `f`; a panic is reported once under `name` and turned into `None`.
pub(crate) fn guarded<R>(name: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(payload) => {
            diag::warn_once(
                &format!("{name}.panicked"),
                format_args!(
                    "a user hook panicked and was skipped: {}",
                    panic_message(&*payload)
                ),
            );
            None
        }
    }
}

/// The message of a panic payload, when it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic with a non-string payload"
    }
}
