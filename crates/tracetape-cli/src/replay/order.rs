//! In which order recorded requests are replayed (`--order`, `order`
//! under `[replay]`).
//!
//! A service with state answers a request according to the requests
//! before it: a `GET` that lists what earlier `POST`s created. Replayed
//! in any order, it would see another state than when it was recorded.
//! By default ([`Order::Recorded`]) requests that did not overlap when
//! recorded are replayed one after the other, in recorded order, and
//! requests that overlapped (their recorded `[start, end]` intervals
//! overlap, directly or through others) are sent together as one group,
//! `--concurrency` at most: the service's server layer then lets their
//! steps (each request's start, each answer to one of its calls) run one
//! at a time in the order they were recorded in, so each request sees the
//! state it saw when recorded (see the `turns` module of the library).
//! `--concurrency` does not cut a group below [`GROUP_CAP`]: the service
//! took those requests together when recorded, and taking turns it runs
//! only one of them at a time, while requests replayed alone in place of
//! a group would update its state in an order nobody recorded. Only a
//! longer chain of overlapping requests (steady traffic, overlapping end
//! to end) is cut into groups replayed one after the other. Requests are
//! taken in the order their recorded responses ended (`select.rs`): for
//! the groups cut, the best sign of the order their effects took place
//! in. [`Order::Free`] sends them as fast as `--concurrency` allows, with
//! no turns.

use std::fmt;

use clap::ValueEnum;
use serde::Deserialize;
use tracetape::record::Exchange;

/// The most requests of one group, unless `--concurrency` is higher: more
/// than a service plausibly had in flight at once when recorded, few
/// enough that a chain of overlapping requests is cut into groups whose
/// memory in the driver and the service stays small.
pub(crate) const GROUP_CAP: usize = 256;

/// Which requests may run at the same time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Order {
    /// Requests that did not overlap when recorded are sent one after
    /// the other, in recorded order; those that overlapped are sent
    /// together and take turns as recorded.
    #[default]
    Recorded,
    /// Any order, as many at once as --concurrency allows.
    Free,
}

/// The requests sent together as one group, whose steps take turns in
/// the service: written as the value of
/// [`REPLAY_GROUP_HEADER`](tracetape::replay::REPLAY_GROUP_HEADER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group {
    /// Unique among the groups the service is sent.
    key: u64,
    size: usize,
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.key, self.size)
    }
}

/// When each request may start: in recorded order, the group of each
/// request (requests in the order they are started, by recorded end).
#[derive(Debug)]
pub(crate) struct Schedule {
    order: Order,
    /// The most requests in flight at once.
    cap: usize,
    /// Each request's group: the index of its first request, and its size.
    groups: Vec<(usize, usize)>,
    /// What group keys count from: different in each replay, so that a
    /// service replayed more than once never mixes groups.
    base: u64,
}

impl Schedule {
    /// The schedule of requests whose inbound exchanges are `inbound`,
    /// sorted by recorded end, `concurrency` at most at once (in recorded
    /// order, a group's requests at once however low it is, up to
    /// [`GROUP_CAP`]). A request without one (or without an end) counts as
    /// taking no time: it overlaps nothing after it.
    pub(crate) fn new<'a>(
        order: Order,
        inbound: impl IntoIterator<Item = Option<&'a Exchange>>,
        concurrency: usize,
    ) -> Self {
        let cap = match order {
            Order::Recorded => concurrency.max(GROUP_CAP),
            Order::Free => concurrency,
        };
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut last_end = None;
        for (index, exchange) in inbound.into_iter().enumerate() {
            let (start, end) = exchange.map_or((0, 0), |exchange| {
                let start = exchange.start_unix_nanos;
                (start, exchange.end_unix_nanos.max(start))
            });
            // Sorted by end: a request overlapped one of the group when it
            // started before the last of them ended.
            let joins = order == Order::Recorded
                && last_end.is_some_and(|last_end| start <= last_end)
                && groups.last().is_some_and(|&(_, size)| size < cap);
            match groups.last().copied() {
                Some((first, size)) if joins => {
                    for group in &mut groups[first..] {
                        group.1 = size + 1;
                    }
                    groups.push((first, size + 1));
                }
                _ => groups.push((index, 1)),
            }
            last_end = Some(last_end.map_or(end, |last: u64| last.max(end)));
        }
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        Self {
            order,
            cap,
            groups,
            base,
        }
    }

    /// Whether request `next` may start while the requests `running`
    /// (earlier ones: requests start in order) have not completed: when
    /// fewer than the cap are, and in recorded order every one of them is
    /// of its group.
    pub(crate) fn may_start(
        &self,
        next: usize,
        mut running: impl ExactSizeIterator<Item = usize>,
    ) -> bool {
        if running.len() >= self.cap {
            return false;
        }
        match self.order {
            Order::Free => true,
            Order::Recorded => {
                let group = self.groups.get(next).map(|&(first, _)| first);
                running.all(|earlier| self.groups.get(earlier).map(|&(first, _)| first) == group)
            }
        }
    }

    /// The group request `index` is sent in, when it is sent with others.
    pub(crate) fn group(&self, index: usize) -> Option<Group> {
        let &(first, size) = self.groups.get(index)?;
        (size > 1).then(|| Group {
            key: self.base.wrapping_add(first as u64),
            size,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tracetape::record::ExchangeKind;

    use super::*;
    use crate::testing::exchange;

    fn schedule(order: Order, intervals: &[(u64, u64)]) -> Schedule {
        capped(order, intervals, 8)
    }

    fn capped(order: Order, intervals: &[(u64, u64)], concurrency: usize) -> Schedule {
        let exchanges: Vec<Exchange> = intervals
            .iter()
            .map(|&(start, end)| {
                let mut inbound = exchange(ExchangeKind::Server, 1, 0, start);
                inbound.end_unix_nanos = end;
                inbound
            })
            .collect();
        Schedule::new(order, exchanges.iter().map(Some), concurrency)
    }

    /// Runs the schedule as the replay does, each request completing in
    /// turn (the earliest started first); returns the groups of requests
    /// that ran together, by the time each completed.
    fn run(schedule: &Schedule) -> Vec<Vec<usize>> {
        let total = schedule.groups.len();
        let (mut next, mut running, mut together) = (0, Vec::new(), Vec::new());
        while next < total || !running.is_empty() {
            while next < total && schedule.may_start(next, running.iter().copied()) {
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
        assert_eq!(run(&sequential), [vec![0], vec![1], vec![2], vec![3]]);
    }

    #[test]
    fn requests_that_overlapped_run_together_as_one_group_whatever_the_concurrency() {
        // 0, 1 and 2 overlapped; 3 started after all of them ended.
        let intervals = [(0, 10), (5, 15), (8, 30), (31, 40)];
        for concurrency in [1, 2, 8] {
            let overlapping = capped(Order::Recorded, &intervals, concurrency);
            assert_eq!(
                run(&overlapping),
                [vec![0, 1, 2], vec![1, 2], vec![2], vec![3]],
                "--concurrency {concurrency}"
            );
            let group = overlapping.group(0).unwrap();
            assert_eq!(overlapping.group(2), Some(group));
            assert!(group.to_string().ends_with("/3"), "{group}");
            assert_eq!(overlapping.group(3), None);
        }
    }

    #[test]
    fn a_chain_of_overlapping_requests_longer_than_the_cap_is_cut() {
        // Each overlaps the next: one chain of GROUP_CAP + 2.
        let chain: Vec<(u64, u64)> = (0..GROUP_CAP as u64 + 2)
            .map(|i| (i * 10, i * 10 + 15))
            .collect();
        let cut = capped(Order::Recorded, &chain, 1);
        assert!(
            cut.group(0)
                .unwrap()
                .to_string()
                .ends_with(&format!("/{GROUP_CAP}"))
        );
        assert_eq!(cut.group(GROUP_CAP - 1), cut.group(0));
        let rest = cut.group(GROUP_CAP).unwrap();
        assert!(rest.to_string().ends_with("/2"), "{rest}");
        assert!(!cut.may_start(GROUP_CAP, [GROUP_CAP - 1].into_iter()));
        // A higher --concurrency is a higher cap.
        let whole = capped(Order::Recorded, &chain, GROUP_CAP + 2);
        assert_eq!(whole.group(GROUP_CAP + 1), whole.group(0));
    }

    #[test]
    fn a_request_that_overlapped_any_of_a_group_joins_it() {
        // 2 started after 0 ended but overlapped 1: one group, in which
        // the service lets 2 start only once 0 has answered.
        let s = schedule(Order::Recorded, &[(0, 10), (5, 30), (20, 40)]);
        assert!(s.may_start(2, [0, 1].into_iter()));
        assert_eq!(run(&s), [vec![0, 1, 2], vec![1, 2], vec![2]]);
        // Groups differ from one schedule to the next.
        let again = schedule(Order::Recorded, &[(0, 10), (5, 30), (20, 40)]);
        assert_ne!(s.group(0), again.group(0));
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
    fn free_order_runs_as_many_as_the_concurrency_allows() {
        let intervals = [(0, 10), (11, 20), (21, 30)];
        let sequential = capped(Order::Free, &intervals, 8);
        assert_eq!(run(&sequential), [vec![0, 1, 2], vec![1, 2], vec![2]]);
        let one = capped(Order::Free, &intervals, 1);
        assert_eq!(run(&one), [vec![0], vec![1], vec![2]]);
        assert_eq!(sequential.group(0), None);
    }
}
