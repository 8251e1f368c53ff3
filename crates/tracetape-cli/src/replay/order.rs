//! In which order recorded requests are replayed (`--order`, `order`
//! under `[replay]`).
//!
//! A service with state answers a request according to the requests
//! before it: a `GET` that lists what earlier `POST`s created. Replayed
//! in any order, it would see another state than when it was recorded.
//! By default ([`Order::Recorded`]) a request is sent only once every
//! request recorded before it that it did not overlap with has been
//! answered, so two requests run at the same time only when they also
//! did when recorded (their recorded `[start, end]` intervals overlap);
//! `--concurrency` still caps how many run at once. Requests are taken in
//! the order their recorded responses ended (`select.rs`): for requests
//! that overlapped, that is the best sign of the order their effects
//! took place in, since a handler changes state before it answers; with
//! `--concurrency 1` they are replayed in that order exactly. [`Order::Free`] sends
//! them as fast as `--concurrency` allows.

use clap::ValueEnum;
use serde::Deserialize;
use tracetape::record::Exchange;

/// Which requests may run at the same time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Order {
    /// Requests that did not overlap when recorded are sent one after
    /// the other, in recorded order; only those that overlapped run
    /// together.
    #[default]
    Recorded,
    /// Any order, as many at once as --concurrency allows.
    Free,
}

/// When each request may start: the recorded intervals of the requests,
/// in the order they are started (by recorded end).
#[derive(Debug)]
pub(crate) struct Schedule {
    order: Order,
    /// Each request's recorded `(start, end)`, in nanoseconds.
    intervals: Vec<(u64, u64)>,
}

impl Schedule {
    /// The schedule of requests whose inbound exchanges are `inbound`,
    /// sorted by recorded end. A request without one (or without an
    /// end) counts as taking no time: it overlaps nothing after it.
    pub(crate) fn new<'a>(
        order: Order,
        inbound: impl IntoIterator<Item = Option<&'a Exchange>>,
    ) -> Self {
        let intervals = inbound
            .into_iter()
            .map(|exchange| {
                exchange.map_or((0, 0), |exchange| {
                    let start = exchange.start_unix_nanos;
                    (start, exchange.end_unix_nanos.max(start))
                })
            })
            .collect();
        Self { order, intervals }
    }

    /// Whether request `next` may start while the requests `running`
    /// (earlier ones: requests start in order) have not completed. In
    /// recorded order: when every one of them overlapped it.
    pub(crate) fn may_start(&self, next: usize, mut running: impl Iterator<Item = usize>) -> bool {
        match self.order {
            Order::Free => true,
            Order::Recorded => {
                let Some(&(start, _)) = self.intervals.get(next) else {
                    return true;
                };
                running.all(|earlier| {
                    self.intervals
                        .get(earlier)
                        .is_none_or(|&(_, end)| end >= start)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tracetape::record::ExchangeKind;

    use super::*;
    use crate::testing::exchange;

    fn schedule(order: Order, intervals: &[(u64, u64)]) -> Schedule {
        let exchanges: Vec<Exchange> = intervals
            .iter()
            .map(|&(start, end)| {
                let mut inbound = exchange(ExchangeKind::Server, 1, 0, start);
                inbound.end_unix_nanos = end;
                inbound
            })
            .collect();
        Schedule::new(order, exchanges.iter().map(Some))
    }

    /// Runs the schedule as the replay does, `cap` at most at once, each
    /// request completing in turn (the earliest started first); returns
    /// the groups of requests that ran together, by the time each
    /// completed.
    fn run(schedule: &Schedule, cap: usize) -> Vec<Vec<usize>> {
        let total = schedule.intervals.len();
        let (mut next, mut running, mut together) = (0, Vec::new(), Vec::new());
        while next < total || !running.is_empty() {
            while next < total
                && running.len() < cap
                && schedule.may_start(next, running.iter().copied())
            {
                running.push(next);
                next += 1;
            }
            together.push(running.clone());
            running.remove(0);
        }
        together
    }

    #[test]
    fn requests_recorded_one_after_the_other_run_one_at_a_time() {
        let sequential = schedule(Order::Recorded, &[(0, 10), (11, 20), (21, 30), (31, 40)]);
        assert_eq!(run(&sequential, 8), [vec![0], vec![1], vec![2], vec![3]]);
    }

    #[test]
    fn requests_that_overlapped_run_together_up_to_the_cap() {
        // 0, 1 and 2 overlapped; 3 started after all of them ended.
        let overlapping = schedule(Order::Recorded, &[(0, 10), (5, 15), (8, 30), (31, 40)]);
        assert_eq!(
            run(&overlapping, 8),
            [vec![0, 1, 2], vec![1, 2], vec![2], vec![3]]
        );
        assert_eq!(
            run(&overlapping, 2),
            [vec![0, 1], vec![1, 2], vec![2], vec![3]]
        );
    }

    #[test]
    fn a_request_waits_for_every_earlier_one_it_did_not_overlap() {
        // 1 overlapped 0 and 2; 2 started after 0 ended: it waits for 0
        // while 1 may still run.
        let s = schedule(Order::Recorded, &[(0, 10), (5, 30), (20, 40)]);
        assert!(s.may_start(1, [0].into_iter()));
        assert!(!s.may_start(2, [0, 1].into_iter()));
        assert!(s.may_start(2, [1].into_iter()));
        assert_eq!(run(&s, 8), [vec![0, 1], vec![1, 2], vec![2]]);
    }

    #[test]
    fn touching_intervals_overlap_and_missing_ends_overlap_nothing_after() {
        // Closed intervals: one ending when the next starts overlapped it.
        let touching = schedule(Order::Recorded, &[(0, 10), (10, 20)]);
        assert!(touching.may_start(1, [0].into_iter()));
        // No recorded end: it took no time.
        let unended = schedule(Order::Recorded, &[(5, 0), (6, 7)]);
        assert!(!unended.may_start(1, [0].into_iter()));
    }

    #[test]
    fn free_order_runs_as_many_as_the_cap_allows() {
        let sequential = schedule(Order::Free, &[(0, 10), (11, 20), (21, 30)]);
        assert_eq!(run(&sequential, 8), [vec![0, 1, 2], vec![1, 2], vec![2]]);
        assert_eq!(run(&sequential, 1), [vec![0], vec![1], vec![2]]);
    }
}
