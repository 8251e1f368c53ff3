//! The OTLP endpoints the process's own telemetry exports to, read from
//! its own environment: a replayed service keeps exporting, and its
//! exports are not reported as connections around the instrumented
//! clients, wherever its variables were set (the replayer's environment,
//! or a shell inside the command it runs).
//!
//! - Each endpoint variable (`OTEL_EXPORTER_OTLP_ENDPOINT` and the
//!   per-signal ones) allows its `host:port`: the address itself when the
//!   host is an IP literal; for a name, resolving it, and connecting to
//!   that port of the addresses it resolved to (`localhost`: both loopback
//!   addresses as well).
//! - The SDKs' default endpoints (`localhost:4317` for gRPC,
//!   `localhost:4318` for HTTP) are OTLP's registered ports on loopback:
//!   connections to them are always allowed, since a service may choose
//!   OTLP in code without any variable. Resolving `localhost` is allowed
//!   only when a variable says OTLP is in use (an `OTEL_*_EXPORTER` naming
//!   `otlp`) or an endpoint names it, so that a service's own lookups of
//!   it are still seen otherwise.
//!
//! An endpoint set only in code, on another host or port, is not known
//! here: such exports are reported (and refused) unless allowed
//! (`--allow-connect`). Telling the exporter's connections apart by their
//! thread does not work: the HTTP exporters connect from the internal
//! thread of reqwest's blocking client, which every blocking reqwest
//! client of the service has as well.

/// The variables naming an OTLP endpoint.
const ENDPOINT_VARS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
];

/// The variables choosing a signal's exporter, `otlp` among them.
const EXPORTER_VARS: [&str; 3] = [
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
];

/// The ports of the SDKs' default endpoints: gRPC, then HTTP.
const DEFAULT_PORTS: [u16; 2] = [4317, 4318];

/// The allow-list entries (in the syntax of `TRACETAPE_UNPATCHED_ALLOW`)
/// for the OTLP endpoints the variables `var` reads name, and the SDKs'
/// defaults.
pub(crate) fn own_endpoints(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut entries = Vec::new();
    for port in DEFAULT_PORTS {
        entries.extend(loopback(port));
    }
    let otlp_in_use = EXPORTER_VARS.iter().any(|name| {
        var(name).is_some_and(|list| {
            list.split(',')
                .any(|e| e.trim().eq_ignore_ascii_case("otlp"))
        })
    });
    if otlp_in_use {
        entries.extend(DEFAULT_PORTS.map(|port| format!("localhost:{port}")));
    }
    for url in ENDPOINT_VARS.iter().filter_map(|name| var(name)) {
        let Some((host, port)) = authority(&url) else {
            continue;
        };
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            entries.push(std::net::SocketAddr::new(ip, port).to_string());
            continue;
        }
        if host.eq_ignore_ascii_case("localhost") {
            entries.extend(loopback(port));
        }
        entries.push(format!("{host}:{port}"));
    }
    entries
}

/// `127.0.0.1:PORT` and `[::1]:PORT`.
fn loopback(port: u16) -> [String; 2] {
    [format!("127.0.0.1:{port}"), format!("[::1]:{port}")]
}

/// The host (IPv6 without brackets) and port of an endpoint URL
/// (`http://collector:4318/v1/traces`), the port by its scheme when the
/// URL has none (`http` 80, `https` 443); `None` when there is neither.
fn authority(url: &str) -> Option<(&str, u16)> {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => match scheme.map(str::to_ascii_lowercase).as_deref() {
            Some("http") => 80,
            Some("https") => 443,
            _ => return None,
        },
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(vars: &[(&str, &str)]) -> Vec<String> {
        own_endpoints(|name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    const DEFAULTS: [&str; 4] = [
        "127.0.0.1:4317",
        "[::1]:4317",
        "127.0.0.1:4318",
        "[::1]:4318",
    ];

    #[test]
    fn loopback_default_ports_are_always_allowed_and_localhost_only_with_otlp_in_use() {
        assert_eq!(entries(&[]), DEFAULTS);
        assert_eq!(entries(&[("OTEL_TRACES_EXPORTER", "none")]), DEFAULTS);
        let mut with_otlp = DEFAULTS.map(str::to_owned).to_vec();
        with_otlp.extend(["localhost:4317".to_owned(), "localhost:4318".to_owned()]);
        assert_eq!(
            entries(&[("OTEL_METRICS_EXPORTER", "console, OTLP")]),
            with_otlp
        );
    }

    #[test]
    fn each_endpoint_variable_allows_its_host_and_port() {
        let found = entries(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", " http://10.0.0.9:4318 "),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://user:pw@Collector.internal/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://[::1]:9000"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://localhost:7000/x",
            ),
        ]);
        assert_eq!(
            found[DEFAULTS.len()..],
            [
                "10.0.0.9:4318",
                "Collector.internal:443",
                "[::1]:9000",
                "127.0.0.1:7000",
                "[::1]:7000",
                "localhost:7000",
            ]
        );
    }

    #[test]
    fn endpoints_without_a_usable_port_are_skipped() {
        assert_eq!(authority("collector:4317"), Some(("collector", 4317)));
        assert_eq!(authority("http://collector"), Some(("collector", 80)));
        assert_eq!(authority("grpc://collector"), None);
        assert_eq!(authority("http://collector:x"), None);
        assert_eq!(authority("http://:4318"), None);
        assert_eq!(authority("http://[::1"), None);
        assert_eq!(entries(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]), DEFAULTS);
    }
}
