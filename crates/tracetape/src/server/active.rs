//! `http.server.active_requests` kept in plain atomics: a request adds one
//! to the counter of its (`http.request.method`, `url.scheme`) pair when it
//! starts and takes it back when it ends, and an observable up-down counter
//! reports the counters when the meter provider collects. The SDK, which
//! hashes the attribute set on every update, is not on the request path.
//!
//! The ten methods times `http`/`https` have fixed slots, so those requests
//! never lock or allocate. Other schemes (they come from `Forwarded` or
//! `X-Forwarded-Proto`, so any client can make them up) share a short list
//! behind a mutex, bounded so that a client cannot make it grow without end.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use opentelemetry::metrics::{AsyncInstrument, Meter};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{HTTP_REQUEST_METHOD, URL_SCHEME};

use crate::http_attrs::Method;

/// `http.server.active_requests` (still "development" in the conventions,
/// so the constant is not in the stable set).
const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";

/// The schemes with slots of their own, in slot order.
const SCHEMES: [&str; 2] = ["http", "https"];

/// At most this many (method, other scheme) pairs are tracked at once.
const MAX_OTHER_PAIRS: usize = 32;

/// The attribute the SDK itself uses for measurements past its cardinality
/// limit; requests that find no room among the other pairs are counted
/// under it.
const OVERFLOW: &str = "otel.metric.overflow";

/// The counters of every (method, scheme) pair that has been seen.
#[derive(Debug, Default)]
pub(crate) struct ActiveRequests {
    /// Indexed by [`Method::index`], then by position in [`SCHEMES`].
    standard: [[Slot; SCHEMES.len()]; Method::ALL.len()],
    other: Mutex<OtherPairs>,
}

#[derive(Debug, Default)]
struct Slot {
    count: AtomicI64,
    /// Set by the first request of the pair: from then on the pair is
    /// reported, at zero when nothing is in flight.
    seen: AtomicBool,
}

#[derive(Debug, Default)]
struct OtherPairs {
    pairs: Vec<OtherPair>,
    /// `None` until a request first finds the list full.
    overflow: Option<i64>,
}

#[derive(Debug)]
struct OtherPair {
    method: Method,
    scheme: StringValue,
    count: i64,
}

/// Where one request was counted, so that its end is taken from the same
/// counter.
#[derive(Debug)]
pub(crate) enum Counted {
    Standard { method: usize, scheme: usize },
    Other(usize),
    Overflow,
}

impl ActiveRequests {
    /// The counters shared by every layer that records into the global
    /// meter provider. Each such layer registers a callback, and for an
    /// asynchronous instrument the SDK keeps the last value observed for an
    /// attribute set, so per-layer counters would hide all but one layer.
    pub(crate) fn global() -> Arc<Self> {
        static GLOBAL: LazyLock<Arc<ActiveRequests>> = LazyLock::new(Arc::default);
        GLOBAL.clone()
    }

    /// Registers `http.server.active_requests` with `meter`, reporting these
    /// counters from then on. The callback holds them for as long as the
    /// meter provider lives, so pairs once seen keep being reported even
    /// after the layer is gone, as the SDK's own counter did.
    pub(crate) fn register(self: &Arc<Self>, meter: &Meter) {
        let counters = Arc::clone(self);
        // The SDK keeps the callback; the instrument handle is not needed.
        let _instrument = meter
            .i64_observable_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
            .with_unit("{request}")
            .with_description("Number of active HTTP server requests.")
            .with_callback(move |observer| counters.observe(observer))
            .build();
    }

    /// Counts one more request of `method` on `scheme`.
    pub(crate) fn begin(&self, method: Method, scheme: &StringValue) -> Counted {
        let Some(scheme_index) = SCHEMES.iter().position(|s| *s == scheme.as_str()) else {
            return self.begin_other(method, scheme);
        };
        let slot = &self.standard[method.index()][scheme_index];
        slot.count.fetch_add(1, Ordering::Relaxed);
        if !slot.seen.load(Ordering::Relaxed) {
            slot.seen.store(true, Ordering::Relaxed);
        }
        Counted::Standard {
            method: method.index(),
            scheme: scheme_index,
        }
    }

    fn begin_other(&self, method: Method, scheme: &StringValue) -> Counted {
        let mut other = self.lock_other();
        let position = other
            .pairs
            .iter()
            .position(|p| p.method == method && p.scheme == *scheme);
        let index = match position {
            Some(index) => index,
            None if other.pairs.len() < MAX_OTHER_PAIRS => {
                other.pairs.push(OtherPair {
                    method,
                    scheme: scheme.clone(),
                    count: 0,
                });
                other.pairs.len() - 1
            }
            // Full: take over a pair with nothing in flight (no request
            // holds its index); it is no longer reported.
            None => match other.pairs.iter().position(|p| p.count == 0) {
                Some(index) => {
                    other.pairs[index] = OtherPair {
                        method,
                        scheme: scheme.clone(),
                        count: 0,
                    };
                    index
                }
                None => {
                    *other.overflow.get_or_insert(0) += 1;
                    return Counted::Overflow;
                }
            },
        };
        other.pairs[index].count += 1;
        Counted::Other(index)
    }

    /// Takes back the request counted at `counted`.
    pub(crate) fn end(&self, counted: &Counted) {
        match *counted {
            Counted::Standard { method, scheme } => {
                if let Some(slot) = self.standard.get(method).and_then(|row| row.get(scheme)) {
                    slot.count.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Counted::Other(index) => {
                if let Some(pair) = self.lock_other().pairs.get_mut(index) {
                    pair.count -= 1;
                }
            }
            Counted::Overflow => {
                if let Some(overflow) = self.lock_other().overflow.as_mut() {
                    *overflow -= 1;
                }
            }
        }
    }

    /// Reports one data point per pair seen so far.
    fn observe(&self, observer: &dyn AsyncInstrument<i64>) {
        for (method, row) in Method::ALL.into_iter().zip(&self.standard) {
            for (scheme, slot) in SCHEMES.into_iter().zip(row) {
                if slot.seen.load(Ordering::Relaxed) {
                    observer.observe(
                        slot.count.load(Ordering::Relaxed),
                        &[
                            KeyValue::new(HTTP_REQUEST_METHOD, method.attribute()),
                            KeyValue::new(URL_SCHEME, scheme),
                        ],
                    );
                }
            }
        }
        let other = self.lock_other();
        for pair in &other.pairs {
            observer.observe(
                pair.count,
                &[
                    KeyValue::new(HTTP_REQUEST_METHOD, pair.method.attribute()),
                    KeyValue::new(URL_SCHEME, pair.scheme.clone()),
                ],
            );
        }
        if let Some(overflow) = other.overflow {
            observer.observe(overflow, &[KeyValue::new(OVERFLOW, true)]);
        }
    }

    fn lock_other(&self) -> MutexGuard<'_, OtherPairs> {
        // Nothing can panic while the lock is held; should it ever be
        // poisoned, the counts are still whole numbers worth reporting.
        self.other.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// One observation: the value and its attributes as text.
    type Point = (i64, Vec<(String, String)>);

    /// Records what a callback observes.
    #[derive(Default)]
    struct Points(Mutex<Vec<Point>>);

    impl AsyncInstrument<i64> for Points {
        fn observe(&self, value: i64, attributes: &[KeyValue]) {
            let attributes = attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect();
            self.0.lock().unwrap().push((value, attributes));
        }
    }

    fn observed(active: &ActiveRequests) -> Vec<Point> {
        let points = Points::default();
        active.observe(&points);
        points.0.into_inner().unwrap()
    }

    fn pair(method: &str, scheme: &str) -> Vec<(String, String)> {
        vec![
            ("http.request.method".into(), method.into()),
            ("url.scheme".into(), scheme.into()),
        ]
    }

    #[test]
    fn seen_pairs_are_reported_until_the_end_at_zero() {
        let active = ActiveRequests::default();
        assert!(observed(&active).is_empty(), "nothing seen yet");
        let http = StringValue::from("http");
        let https = StringValue::from("https");
        let a = active.begin(Method::Get, &http);
        let b = active.begin(Method::Get, &http);
        let c = active.begin(Method::Post, &https);
        assert_eq!(
            observed(&active),
            [(2, pair("GET", "http")), (1, pair("POST", "https"))]
        );
        for counted in [a, b, c] {
            active.end(&counted);
        }
        assert_eq!(
            observed(&active),
            [(0, pair("GET", "http")), (0, pair("POST", "https"))]
        );
    }

    #[test]
    fn other_schemes_are_counted_and_bounded() {
        let active = ActiveRequests::default();
        let ws = StringValue::from("ws");
        let first = active.begin(Method::Other, &ws);
        let second = active.begin(Method::Other, &ws);
        assert_eq!(observed(&active), [(2, pair("_OTHER", "ws"))]);
        active.end(&first);
        active.end(&second);
        assert_eq!(observed(&active), [(0, pair("_OTHER", "ws"))]);

        // A client inventing schemes: every pair stays in flight, so the
        // list fills and the rest go to the overflow point.
        let held: Vec<_> = (0..MAX_OTHER_PAIRS + 3)
            .map(|i| active.begin(Method::Get, &StringValue::from(format!("x{i}"))))
            .collect();
        let points = observed(&active);
        assert_eq!(points.len(), MAX_OTHER_PAIRS + 1, "{points:?}");
        assert_eq!(
            points.last(),
            Some(&(3, vec![("otel.metric.overflow".into(), "true".into())]))
        );
        assert!(
            !points.contains(&(0, pair("_OTHER", "ws"))),
            "the idle pair made room"
        );
        for counted in &held {
            active.end(counted);
        }
        assert!(observed(&active).iter().all(|(value, _)| *value == 0));
    }
}
