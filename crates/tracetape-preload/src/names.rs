//! Which host names the process resolved to which addresses, so that a
//! connection or datagram reported later can name the host it was meant
//! for (`"host":"db.internal"` beside its address and port).
//!
//! Filled from the results of the C library's lookups the library let
//! through (`getaddrinfo`, the `gethostbyname` family) while it is active;
//! IP literals have no entry. Bounded: at most [`CAPACITY`] addresses, the
//! oldest replaced first, names longer than [`MAX_NAME`] bytes not kept.
//! Names resolved before the library was active, in another process, or by
//! a resolver speaking DNS itself are not known.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// The most addresses remembered; a new one beyond replaces the oldest.
pub(crate) const CAPACITY: usize = 256;

/// The longest host name remembered, in bytes (a DNS name has at most 253
/// characters written out); a longer one is not a host name worth naming.
pub(crate) const MAX_NAME: usize = 255;

/// The host names addresses were resolved from: for an address resolved
/// from several, the most recent lookup's.
#[derive(Debug)]
pub(crate) struct Names {
    table: Mutex<Table>,
}

/// The entries behind a [`Names`]' lock: a ring of at most [`CAPACITY`].
#[derive(Debug)]
struct Table {
    /// One entry per address (in the form [`key`] gives), in the order
    /// they were added; once full, [`Table::oldest`] goes round it.
    entries: Vec<(IpAddr, Box<str>)>,
    /// The entry replaced next once the ring is full: the oldest.
    oldest: usize,
}

impl Names {
    /// A table with no entry.
    pub(crate) const fn new() -> Self {
        Self {
            table: Mutex::new(Table {
                entries: Vec::new(),
                oldest: 0,
            }),
        }
    }

    /// Remembers that `host` resolved to each of `addresses`. An address
    /// already known takes the new name in place; a new one is added, or
    /// replaces the oldest entry when there are [`CAPACITY`]. Empty names
    /// and names longer than [`MAX_NAME`] bytes are not remembered.
    pub(crate) fn remember(&self, host: &str, addresses: impl IntoIterator<Item = IpAddr>) {
        if host.is_empty() || host.len() > MAX_NAME {
            return;
        }
        let mut addresses = addresses.into_iter().map(key).peekable();
        if addresses.peek().is_none() {
            return;
        }
        let name: Box<str> = host.into();
        // A panic while the lock was held left the entries usable: at
        // worst one of them was not replaced.
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let Table { entries, oldest } = &mut *table;
        for address in addresses {
            if let Some(entry) = entries.iter_mut().find(|(known, _)| *known == address) {
                entry.1.clone_from(&name);
            } else if entries.len() < CAPACITY {
                if entries.capacity() == 0 {
                    entries.reserve_exact(CAPACITY);
                }
                entries.push((address, name.clone()));
            } else if let Some(entry) = entries.get_mut(*oldest) {
                *entry = (address, name.clone());
                *oldest = (*oldest + 1) % CAPACITY;
            }
        }
    }

    /// The host name `address` was last resolved from, when it is known.
    /// An IPv4-mapped IPv6 address finds its IPv4 entry and the reverse.
    pub(crate) fn name_of(&self, address: IpAddr) -> Option<String> {
        let address = key(address);
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .entries
            .iter()
            .find(|(known, _)| *known == address)
            .map(|(_, name)| name.to_string())
    }
}

/// `address` as the table keeps it: an IPv4-mapped IPv6 address (a
/// dual-stack socket's view of an IPv4 one) as IPv4.
fn key(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x7f00_0000 + n))
    }

    #[test]
    fn an_address_names_the_host_it_was_resolved_from() {
        let names = Names::new();
        assert_eq!(names.name_of(v4(1)), None);
        names.remember("localhost", [v4(1), IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert_eq!(names.name_of(v4(1)).as_deref(), Some("localhost"));
        assert_eq!(
            names.name_of(IpAddr::V6(Ipv6Addr::LOCALHOST)).as_deref(),
            Some("localhost")
        );
        assert_eq!(names.name_of(v4(2)), None);
        // A dual-stack socket's IPv4-mapped address finds the IPv4 entry.
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(names.name_of(mapped).as_deref(), Some("localhost"));
        // The most recent lookup of an address wins, in place.
        names.remember("db.internal", [v4(1), v4(1)]);
        assert_eq!(names.name_of(v4(1)).as_deref(), Some("db.internal"));
        assert_eq!(names.table.lock().unwrap().entries.len(), 2);
    }

    #[test]
    fn empty_and_overlong_names_and_no_addresses_add_nothing() {
        let names = Names::new();
        names.remember("", [v4(1)]);
        names.remember(&"a".repeat(MAX_NAME + 1), [v4(1)]);
        names.remember("localhost", []);
        assert_eq!(names.name_of(v4(1)), None);
        let table = names.table.lock().unwrap();
        assert!(table.entries.is_empty());
        // Nothing was allocated for nothing.
        assert_eq!(table.entries.capacity(), 0);
        drop(table);
        names.remember(&"a".repeat(MAX_NAME), [v4(1)]);
        assert_eq!(names.name_of(v4(1)).map(|name| name.len()), Some(MAX_NAME));
    }

    #[test]
    fn beyond_capacity_the_oldest_entries_are_replaced() {
        let names = Names::new();
        let count = u32::try_from(CAPACITY).unwrap();
        for n in 0..count {
            names.remember(&format!("host{n}"), [v4(n)]);
        }
        assert_eq!(names.name_of(v4(0)).as_deref(), Some("host0"));
        // Full: the next two new addresses replace the two oldest.
        names.remember("late", [v4(count), v4(count + 1)]);
        assert_eq!(names.name_of(v4(0)), None);
        assert_eq!(names.name_of(v4(1)), None);
        assert_eq!(names.name_of(v4(2)).as_deref(), Some("host2"));
        assert_eq!(names.name_of(v4(count)).as_deref(), Some("late"));
        assert_eq!(names.name_of(v4(count + 1)).as_deref(), Some("late"));
        // Renaming a known address neither adds an entry nor moves the
        // ring on: entries are replaced in the order they were added.
        names.remember("renamed", [v4(3)]);
        assert_eq!(names.name_of(v4(3)).as_deref(), Some("renamed"));
        names.remember("later", [v4(count + 2)]);
        assert_eq!(names.name_of(v4(2)), None);
        assert_eq!(names.name_of(v4(3)).as_deref(), Some("renamed"));
        // Many more: the table never grows past its capacity.
        for n in 0..10 * count {
            names.remember("churn", [v4(1000 + n)]);
        }
        let table = names.table.lock().unwrap();
        assert_eq!(table.entries.len(), CAPACITY);
        assert_eq!(table.entries.capacity(), CAPACITY);
    }

    #[test]
    fn a_poisoned_lock_is_recovered() {
        let names = std::sync::Arc::new(Names::new());
        names.remember("localhost", [v4(1)]);
        let poisoner = std::sync::Arc::clone(&names);
        let _ = std::thread::spawn(move || {
            let _held = poisoner.table.lock().unwrap();
            panic!("poisoning the lock");
        })
        .join();
        assert!(names.table.is_poisoned());
        assert_eq!(names.name_of(v4(1)).as_deref(), Some("localhost"));
        names.remember("db.internal", [v4(2)]);
        assert_eq!(names.name_of(v4(2)).as_deref(), Some("db.internal"));
    }
}
