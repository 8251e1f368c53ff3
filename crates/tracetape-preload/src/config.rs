//! What the environment asks for: where to report, whether to refuse, and
//! which destinations are the replayer's own.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The file each bypassing connection is appended to, one JSON line each.
pub(crate) const REPORT_VAR: &str = "TRACETAPE_UNPATCHED_REPORT";
/// `allow` lets bypassing connections through (still reported); anything
/// else, or unset, refuses them.
pub(crate) const MODE_VAR: &str = "TRACETAPE_UNPATCHED_MODE";
/// Comma-separated `ip:port` destinations never reported nor refused.
pub(crate) const ALLOW_VAR: &str = "TRACETAPE_UNPATCHED_ALLOW";

/// The settings of an active library. There is none (the library is inert)
/// when neither [`REPORT_VAR`] nor [`MODE_VAR`] is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) report: Option<PathBuf>,
    pub(crate) block: bool,
    pub(crate) allow: Vec<SocketAddr>,
}

impl Config {
    /// Reads the three variables of the process's environment.
    pub(crate) fn from_env() -> Option<Self> {
        Self::from_vars(
            std::env::var_os(REPORT_VAR),
            std::env::var_os(MODE_VAR),
            std::env::var_os(ALLOW_VAR),
        )
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
        let allow = allow
            .map(|list| parse_allow(&list.to_string_lossy()))
            .unwrap_or_default();
        Some(Self {
            report: report.filter(|path| !path.is_empty()).map(PathBuf::from),
            block,
            allow,
        })
    }

    /// Whether a connection to `dest` is one of the allowed destinations.
    /// An IPv4-mapped IPv6 address matches its IPv4 entry and the reverse.
    pub(crate) fn allows(&self, dest: SocketAddr) -> bool {
        let dest = canonical(dest);
        self.allow.iter().any(|allowed| canonical(*allowed) == dest)
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

/// The entries of an allow list that parse as socket addresses
/// (`127.0.0.1:4318`, `[::1]:4318`); blanks and anything else are skipped.
fn parse_allow(list: &str) -> Vec<SocketAddr> {
    list.split(',')
        .filter_map(|entry| entry.trim().parse().ok())
        .collect()
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
            Some(" 127.0.0.1:4318, nonsense,,[::1]:9000,example.com:80"),
        )
        .unwrap();
        assert_eq!(config.allow.len(), 2);
        assert!(config.allows("127.0.0.1:4318".parse().unwrap()));
        assert!(config.allows("[::ffff:127.0.0.1]:4318".parse().unwrap()));
        assert!(config.allows("[::1]:9000".parse().unwrap()));
        assert!(!config.allows("127.0.0.1:4319".parse().unwrap()));
        assert!(!config.allows("127.0.0.2:4318".parse().unwrap()));
    }
}
