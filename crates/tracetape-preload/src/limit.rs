//! The cap on report lines for datagrams: a process that sends one per
//! request (a metrics or logging client) would otherwise write one line
//! each. Every datagram is still decided on (and refused when blocking);
//! only its line is left out.

use std::sync::{Mutex, PoisonError};

use crate::report::Target;

/// Lines reported per distinct destination (kind, address and port, host
/// name) and process.
pub(crate) const LINES_PER_DESTINATION: u32 = 64;

/// Distinct destinations counted one by one; those beyond share one count
/// (of [`LINES_PER_DESTINATION`] lines in all), so the table never grows
/// past this.
const DESTINATIONS: usize = 256;

/// How many lines each destination has had.
#[derive(Debug)]
pub(crate) struct Limiter {
    table: Mutex<Table>,
}

/// The counts behind a [`Limiter`]'s lock.
#[derive(Debug)]
struct Table {
    /// One entry per destination seen, at most [`DESTINATIONS`].
    counts: Vec<(Target, u32)>,
    /// The lines of the destinations that found the table full.
    overflow: u32,
}

impl Limiter {
    /// A limiter that has admitted nothing yet.
    pub(crate) const fn new() -> Self {
        Self {
            table: Mutex::new(Table {
                counts: Vec::new(),
                overflow: 0,
            }),
        }
    }

    /// Whether a line for `target` is to be written, counting it if so:
    /// true for the first [`LINES_PER_DESTINATION`] calls with the same
    /// target, false after.
    pub(crate) fn admit(&self, target: &Target) -> bool {
        // A panic while the lock was held left the counts usable: at worst
        // one count was not incremented.
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let Table { counts, overflow } = &mut *table;
        let count = match counts.iter().position(|(seen, _)| seen == target) {
            Some(index) => &mut counts[index].1,
            None if counts.len() < DESTINATIONS => {
                if counts.capacity() == 0 {
                    counts.reserve_exact(DESTINATIONS);
                }
                counts.push((target.clone(), 0));
                let last = counts.len() - 1;
                &mut counts[last].1
            }
            None => overflow,
        };
        if *count >= LINES_PER_DESTINATION {
            return false;
        }
        *count += 1;
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    fn udp(port: u16) -> Target {
        Target::Udp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    #[test]
    fn admits_64_lines_per_destination() {
        let limiter = Limiter::new();
        let admitted = (0..100).filter(|_| limiter.admit(&udp(1))).count();
        assert_eq!(admitted, 64);
        // Another destination, another kind or another host: counted apart.
        assert!(limiter.admit(&udp(2)));
        let query = |host: &str| Target::DnsQuery {
            host: host.to_owned(),
            server: SocketAddr::from((Ipv4Addr::LOCALHOST, 1)),
        };
        assert_eq!((0..70).filter(|_| limiter.admit(&query("a"))).count(), 64);
        assert!(limiter.admit(&query("b")));
        assert!(!limiter.admit(&udp(1)));
    }

    #[test]
    fn destinations_beyond_the_table_share_one_count() {
        let limiter = Limiter::new();
        for port in 0..256 {
            assert!(limiter.admit(&udp(port)));
        }
        let beyond = (256..1000)
            .filter(|&port| limiter.admit(&udp(port)))
            .count();
        assert_eq!(beyond, 64);
        // Those in the table keep their own counts.
        assert!(limiter.admit(&udp(0)));
        assert_eq!(limiter.table.lock().unwrap().counts.len(), 256);
    }
}
