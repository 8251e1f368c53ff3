//! Attribute values that repeat from request to request (a route, a host,
//! a client's address, a user agent, a span name) made once per thread and
//! shared after that, so a request whose values were seen recently builds
//! its start attributes without allocating.
//!
//! Each thread keeps a small direct-mapped table of reference-counted
//! strings: a value is found by its hash and compared whole, and a value
//! that lands on a taken slot replaces it. A service with many distinct
//! values (paths with ids in them) pays one hash and one comparison per
//! value over what it paid before, and keeps at most [`SLOTS`] strings per
//! thread, none longer than [`MAX_KEPT`] bytes.
//!
//! Span names must be `'static` or owned, so the names of routes are kept
//! for the life of the process instead: at most [`MAX_NAMES`] of them in
//! all (routes are few, being the templates of a router), after which a
//! name is built per request as before.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry::StringValue;

use super::Method;

/// The slots of each thread's table of values.
pub(crate) const SLOTS: usize = 256;
/// The longest value kept in the table, in bytes; longer ones are made
/// for each request, so a table holds at most `SLOTS * MAX_KEPT` bytes.
pub(crate) const MAX_KEPT: usize = 256;
/// The span names kept for the life of the process, across threads.
pub(crate) const MAX_NAMES: usize = 4096;

/// Span names kept so far, across threads.
static NAMES_KEPT: AtomicUsize = AtomicUsize::new(0);

/// Span names by route (or call path, or summary), then method (`None`
/// for a name that is its key).
type Names = HashMap<Box<str>, Vec<(Option<Method>, &'static str)>, FnvBuild>;

/// One thread's table.
struct Table {
    slots: Vec<Option<Arc<str>>>,
    /// `{method} {route}` by route, then method; a gRPC call's name (its
    /// path) or a database operation's (its summary), under no method.
    names: Names,
}

/// FNV-1a: a few instructions per byte for the short strings kept here,
/// where SipHash's resistance to chosen collisions buys nothing. A
/// collision in the slots only replaces a value, and the names are a
/// router's templates, at most [`MAX_NAMES`] of them. Also the hasher of
/// a database connection's statement and portal names, which its own
/// driver chooses.
#[derive(Default)]
pub(crate) struct Fnv(u64);

/// Maps keyed by short strings with [`Fnv`].
pub(crate) type FnvBuild = BuildHasherDefault<Fnv>;

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table {
        slots: vec![None; SLOTS],
        names: HashMap::default(),
    });
}

/// `text` as a shared string value, made once per thread while it stays
/// in the table.
pub(crate) fn value(text: &str) -> StringValue {
    StringValue::from(shared(text))
}

/// `text` as a shared string, made once per thread while it stays in the
/// table.
pub(crate) fn shared(text: &str) -> Arc<str> {
    if text.len() > MAX_KEPT {
        return Arc::from(text);
    }
    TABLE.with(|table| {
        let Ok(mut table) = table.try_borrow_mut() else {
            return Arc::from(text);
        };
        let mut hasher = Fnv::default();
        hasher.write(text.as_bytes());
        let index = (hasher.finish() % SLOTS as u64) as usize;
        match &mut table.slots[index] {
            Some(kept) if **kept == *text => Arc::clone(kept),
            slot => Arc::clone(slot.insert(Arc::from(text))),
        }
    })
}

/// The span name `{method} {route}`, kept for the process once built
/// (while fewer than [`MAX_NAMES`] are).
pub(crate) fn span_name(method: Method, route: &str) -> Cow<'static, str> {
    kept_name(Some(method), route, || {
        let method = method.span_name();
        let mut name = String::with_capacity(method.len() + 1 + route.len());
        name.push_str(method);
        name.push(' ');
        name.push_str(route);
        name
    })
}

/// A span name that is `name` itself, kept like a route's: a gRPC
/// call's, `package.Service/Method` (its path without the leading `/`),
/// or a database operation's summary.
pub(crate) fn kept(name: &str) -> Cow<'static, str> {
    kept_name(None, name, || name.to_owned())
}

/// The name `built` makes for `method` and `key`, kept for the process.
fn kept_name(method: Option<Method>, key: &str, built: impl Fn() -> String) -> Cow<'static, str> {
    TABLE.with(|table| {
        let Ok(mut table) = table.try_borrow_mut() else {
            return Cow::Owned(built());
        };
        if let Some(name) = table
            .names
            .get(key)
            .and_then(|names| names.iter().find(|(m, _)| *m == method))
        {
            return Cow::Borrowed(name.1);
        }
        let kept = NAMES_KEPT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |kept| {
            (kept < MAX_NAMES).then_some(kept + 1)
        });
        if kept.is_err() {
            return Cow::Owned(built());
        }
        let name: &'static str = Box::leak(built().into_boxed_str());
        table
            .names
            .entry(Box::from(key))
            .or_default()
            .push((method, name));
        Cow::Borrowed(name)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_value_is_the_same_string() {
        let first = shared("127.0.0.1");
        let again = shared(&String::from("127.0.0.1"));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(&*shared("10.0.0.1"), "10.0.0.1");
        // A long value is not kept.
        let long = "x".repeat(MAX_KEPT + 1);
        assert!(!Arc::ptr_eq(&shared(&long), &shared(&long)));
    }

    #[test]
    fn values_that_share_a_slot_stay_right() {
        // More distinct values than slots: each comes back as itself.
        let values: Vec<String> = (0..SLOTS * 3).map(|n| format!("/orders/{n}")).collect();
        for value in values.iter().chain(values.iter()) {
            assert_eq!(&*shared(value), value.as_str());
        }
    }

    #[test]
    fn span_names_are_built_once_per_route_and_method() {
        let route = "/interned/{id}";
        let get = span_name(Method::Get, route);
        assert_eq!(get, "GET /interned/{id}");
        assert!(matches!(get, Cow::Borrowed(_)));
        let again = span_name(Method::Get, &String::from(route));
        assert!(std::ptr::eq(get.as_ptr(), again.as_ptr()));
        assert_eq!(span_name(Method::Post, route), "POST /interned/{id}");
        assert_eq!(span_name(Method::Other, route), "HTTP /interned/{id}");
    }
}
