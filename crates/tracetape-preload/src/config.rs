//! What the environment asks for: where to report, whether to refuse, and
//! which destinations and host names are the replayer's own (those it
//! names, and the OTLP endpoints of the process's own telemetry, see the
//! `otlp` module).

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::otlp;

/// The file each bypassing connection is appended to, one JSON line each.
pub(crate) const REPORT_VAR: &str = "TRACETAPE_UNPATCHED_REPORT";
/// `allow` lets bypassing connections through (still reported); anything
/// else, or unset, refuses them.
pub(crate) const MODE_VAR: &str = "TRACETAPE_UNPATCHED_MODE";
/// Comma-separated `ip:port` destinations and host names (`localhost`,
/// `collector:4318`) never reported nor refused.
pub(crate) const ALLOW_VAR: &str = "TRACETAPE_UNPATCHED_ALLOW";

/// The settings of an active library. There is none (the library is inert)
/// when neither [`REPORT_VAR`] nor [`MODE_VAR`] is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) report: Option<PathBuf>,
    pub(crate) block: bool,
    pub(crate) allow: Vec<SocketAddr>,
    /// Host names whose resolution is neither reported nor refused,
    /// lowercased (a port in the entry is dropped: a lookup has none).
    pub(crate) allow_hosts: Vec<String>,
    /// Host names given with a port (`collector:4318`), lowercased: a
    /// connection to that port of an address the process resolved the
    /// name to is allowed too.
    pub(crate) allow_named: Vec<(String, u16)>,
}

impl Config {
    /// Reads the three variables of the process's environment, and the
    /// OTLP endpoints its own telemetry exports to (`otlp.rs`).
    pub(crate) fn from_env() -> Option<Self> {
        let config = Self::from_vars(
            std::env::var_os(REPORT_VAR),
            std::env::var_os(MODE_VAR),
            std::env::var_os(ALLOW_VAR),
        )?;
        Some(config.with_entries(&otlp::own_endpoints(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })))
    }

    /// The settings these values give; `None` when the library stays inert.
    pub(crate) fn from_vars(
        report: Option<OsString>,
        mode: Option<OsString>,
        allow: Option<OsString>,
    ) -> Option<Self> {
        if report.is_none() && mode.is_none() {
            return None;
        }
        let block = mode.is_none_or(|mode| mode != "allow");
        let (allow, allow_hosts, allow_named) = allow
            .map(|list| parse_allow(&list.to_string_lossy()))
            .unwrap_or_default();
        Some(Self {
            report: report.filter(|path| !path.is_empty()).map(PathBuf::from),
            block,
            allow,
            allow_hosts,
            allow_named,
        })
    }

    /// These settings with the allow-list `entries` (as in [`ALLOW_VAR`])
    /// added.
    pub(crate) fn with_entries(mut self, entries: &[String]) -> Self {
        let (allow, hosts, named) = parse_allow(&entries.join(","));
        self.allow.extend(allow);
        self.allow_hosts.extend(hosts);
        self.allow_named.extend(named);
        self
    }

    /// Whether a connection to `dest` is one of the allowed destinations.
    /// An IPv4-mapped IPv6 address matches its IPv4 entry and the reverse.
    pub(crate) fn allows(&self, dest: SocketAddr) -> bool {
        let dest = canonical(dest);
        self.allow.iter().any(|allowed| canonical(*allowed) == dest)
    }

    /// Whether a connection to `port` of an address resolved from `host`
    /// is allowed: `host:port` is one of the allowed entries.
    pub(crate) fn allows_named(&self, host: &str, port: u16) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.allow_named.iter().any(|(allowed, allowed_port)| {
            *allowed_port == port && allowed.eq_ignore_ascii_case(host)
        })
    }

    /// Whether resolving `host` is allowed: it is one of the allowed host
    /// names, compared case-insensitively (a trailing dot ignored).
    pub(crate) fn allows_host(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.allow_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }
}

/// `dest` with an IPv4-mapped IPv6 address written as IPv4.
fn canonical(dest: SocketAddr) -> SocketAddr {
    match dest.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), dest.port()),
            None => dest,
        },
        IpAddr::V4(_) => dest,
    }
}

/// The entries of an allow list: those that parse as socket addresses
/// (`127.0.0.1:4318`, `[::1]:4318`), and host names with or without a
/// port (`localhost`, `collector:4318`), lowercased without the port, and
/// those with a port also with it; blanks and anything else are skipped.
fn parse_allow(list: &str) -> (Vec<SocketAddr>, Vec<String>, Vec<(String, u16)>) {
    let mut addresses = Vec::new();
    let mut hosts = Vec::new();
    let mut named = Vec::new();
    for entry in list.split(',').map(str::trim) {
        if let Ok(address) = entry.parse() {
            addresses.push(address);
        } else if let Some((host, port)) = host_name(entry) {
            if let Some(port) = port {
                named.push((host.clone(), port));
            }
            hosts.push(host);
        }
    }
    (addresses, hosts, named)
}

/// The host name of `host` or `host:port`, lowercased, when it is one
/// (letters, digits, `-`, `_` and dots, not an IP address), and its port.
fn host_name(entry: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) => (host, Some(port)),
            Err(_) => return None,
        },
        None => (entry, None),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let valid = !host.is_empty()
        && host.parse::<std::net::IpAddr>().is_err()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    valid.then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(report: Option<&str>, mode: Option<&str>, allow: Option<&str>) -> Option<Config> {
        Config::from_vars(
            report.map(OsString::from),
            mode.map(OsString::from),
            allow.map(OsString::from),
        )
    }

    #[test]
    fn inert_without_report_or_mode() {
        assert_eq!(config(None, None, None), None);
        // An allow list alone does not switch blocking on.
        assert_eq!(config(None, None, Some("127.0.0.1:80")), None);
    }

    #[test]
    fn blocks_unless_mode_is_allow() {
        let report = config(Some("/tmp/r"), None, None).unwrap();
        assert!(report.block);
        assert_eq!(report.report, Some(PathBuf::from("/tmp/r")));
        assert!(config(None, Some("block"), None).unwrap().block);
        assert!(config(None, Some("typo"), None).unwrap().block);
        let allow = config(Some("/tmp/r"), Some("allow"), None).unwrap();
        assert!(!allow.block);
    }

    #[test]
    fn allow_list_matches_ip_and_port_and_skips_bad_entries() {
        let config = config(
            None,
            Some("block"),
            Some(" 127.0.0.1:4318, not an entry,,[::1]:9000,example.com:80"),
        )
        .unwrap();
        assert_eq!(config.allow.len(), 2);
        assert!(config.allows("127.0.0.1:4318".parse().unwrap()));
        assert!(config.allows("[::ffff:127.0.0.1]:4318".parse().unwrap()));
        assert!(config.allows("[::1]:9000".parse().unwrap()));
        assert!(!config.allows("127.0.0.1:4319".parse().unwrap()));
        assert!(!config.allows("127.0.0.2:4318".parse().unwrap()));
    }

    #[test]
    fn allow_list_host_names_match_case_insensitively_with_or_without_port() {
        let config = config(
            None,
            Some("block"),
            Some("LocalHost:8081, collector, 127.0.0.1:80, bad host, db:notaport, 10.0.0.1"),
        )
        .unwrap();
        assert_eq!(config.allow_hosts, ["localhost", "collector"]);
        assert!(config.allows_host("localhost"));
        assert!(config.allows_host("LOCALHOST."));
        assert!(config.allows_host("Collector"));
        assert!(!config.allows_host("db"));
        assert!(!config.allows_host("10.0.0.1"));
        assert!(!config.allows_host("localhost.localdomain"));
        // With its port, a name also allows connections to what it resolved to.
        assert!(config.allows_named("localhost", 8081));
        assert!(config.allows_named("LOCALHOST.", 8081));
        assert!(!config.allows_named("localhost", 8082));
        assert!(!config.allows_named("collector", 4318), "no port given");
    }

    #[test]
    fn added_entries_extend_the_variable_s() {
        let config = config(None, Some("block"), Some("127.0.0.1:1"))
            .unwrap()
            .with_entries(&["[::1]:4318".to_owned(), "collector:4317".to_owned()]);
        assert!(config.allows("127.0.0.1:1".parse().unwrap()));
        assert!(config.allows("[::1]:4318".parse().unwrap()));
        assert!(config.allows_host("collector"));
        assert!(config.allows_named("collector", 4317));
    }
}
