//! Starting the service with `libtracetape_preload.so` (see
//! ARCHITECTURE.md, "Unpatched dependencies"): where the library is, the
//! destinations and host names that are the replay's own (the service's
//! address and the OTLP endpoints its environment names), and the
//! variables the service is started with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use reqwest::Url;

use super::config::Settings;

/// The library's file name.
pub(crate) const LIBRARY: &str = "libtracetape_preload.so";
/// The report file's name, in the run's temporary directory.
const REPORT_FILE: &str = "unpatched.jsonl";
/// The OTLP endpoint variables whose destinations are allowed.
const OTLP_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// Detection of unpatched dependencies for one run: the library, the
/// report file it appends to, and what it is told.
#[derive(Debug)]
pub(crate) struct Detection {
    /// Holds the report file; removed at the end of the run.
    _dir: tempfile::TempDir,
    pub(crate) report: PathBuf,
    /// The variables the service is started with.
    pub(crate) env: Vec<(&'static str, PathBuf)>,
}

impl Detection {
    /// Detection for `settings` when the service is started and the
    /// library is found; otherwise why not (`Ok(Err(why))`, to be said
    /// and the run gone on with). An error when the report's directory
    /// cannot be made.
    pub(crate) fn prepare(
        settings: &Settings,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::io::Result<Result<Self, String>> {
        if settings.command.is_none() {
            return Ok(Err(
                "the service is already running (--no-start), so tracetape cannot start it with \
                 the preload library"
                    .to_owned(),
            ));
        }
        let library = match find_library(settings.preload.as_deref()) {
            Ok(library) => library,
            Err(why) => return Ok(Err(why)),
        };
        let dir = tempfile::Builder::new()
            .prefix("tracetape-unpatched-")
            .tempdir()?;
        let report = dir.path().join(REPORT_FILE);
        std::fs::File::create(&report)?;
        let allow = allow_list(&settings.base_url, env).join(",");
        let mode = if settings.allow_unpatched {
            "allow"
        } else {
            "block"
        };
        let env = vec![
            ("LD_PRELOAD", library),
            ("TRACETAPE_UNPATCHED_REPORT", report.clone()),
            ("TRACETAPE_UNPATCHED_ALLOW", PathBuf::from(allow)),
            ("TRACETAPE_UNPATCHED_MODE", PathBuf::from(mode)),
        ];
        Ok(Ok(Self {
            _dir: dir,
            report,
            env,
        }))
    }
}

/// The library `explicit` names (which must exist), else the one beside
/// the running executable or in `deps/` there (where cargo builds it).
fn find_library(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(format!(
                "the preload library {} (--preload, replay.preload) does not exist",
                path.display()
            ))
        };
    }
    if !cfg!(target_os = "linux") {
        return Err("the preload library is built on Linux only".to_owned());
    }
    let exe = std::env::current_exe()
        .map_err(|err| format!("cannot tell where the tracetape executable is: {err}"))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let candidates = [dir.join(LIBRARY), dir.join("deps").join(LIBRARY)];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "{LIBRARY} is neither in {} nor in {} (build it with `cargo build -p \
                 tracetape-preload`, or name it with --preload)",
                dir.display(),
                dir.join("deps").display()
            )
        })
}

/// The allow-list entries that are the replay's own, for the service's
/// address and each OTLP endpoint `env` names
/// (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`):
/// their socket addresses where they are IP literals or `localhost`
/// (connections to them), and their `host:port` where the host is a name
/// (resolving it).
pub(crate) fn allow_list(base_url: &Url, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut urls = vec![base_url.clone()];
    for var in OTLP_VARS {
        if let Some(url) = env(var).and_then(|text| Url::parse(text.trim()).ok()) {
            urls.push(url);
        }
    }
    let mut allow: Vec<String> = Vec::new();
    for url in &urls {
        let entries = addresses(url)
            .into_iter()
            .map(|address| address.to_string())
            .chain(host_name(url));
        for entry in entries {
            if !allow.contains(&entry) {
                allow.push(entry);
            }
        }
    }
    allow
}

/// `url`'s `host:port` when its host is a name rather than an IP literal.
fn host_name(url: &Url) -> Option<String> {
    let port = url.port_or_known_default()?;
    let host = url.host_str().filter(|host| !host.is_empty())?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(_) => None,
        Err(_) => Some(format!("{}:{port}", host.to_ascii_lowercase())),
    }
}

/// `url`'s host and port as socket addresses: an IP literal as it is,
/// `localhost` as both loopback addresses, any other name as none.
fn addresses(url: &Url) -> Vec<SocketAddr> {
    let Some(port) = url.port_or_known_default() else {
        return Vec::new();
    };
    let host = url.host_str().unwrap_or_default();
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ips: Vec<IpAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) if host.eq_ignore_ascii_case("localhost") => {
            vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
        }
        Err(_) => Vec::new(),
    };
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn allowed(base: &str, vars: &[(&str, &str)]) -> Vec<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        allow_list(&base.parse().unwrap(), |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn the_service_and_otlp_endpoints_are_allowed() {
        assert_eq!(allowed("http://127.0.0.1:8081/", &[]), ["127.0.0.1:8081"]);
        assert_eq!(
            allowed(
                "http://localhost:8081/api",
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1]:4318"),
                    (
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "http://collector:4318"
                    ),
                ]
            ),
            [
                "127.0.0.1:8081",
                "[::1]:8081",
                "localhost:8081",
                "[::1]:4318",
                "collector:4318"
            ]
        );
        assert_eq!(
            allowed(
                "http://10.0.0.5/",
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")]
            ),
            ["10.0.0.5:80"]
        );
    }

    #[test]
    fn a_named_library_must_exist() {
        let err = find_library(Some(Path::new("/no/such/lib.so"))).unwrap_err();
        assert!(err.contains("/no/such/lib.so (--preload, replay.preload) does not exist"));
    }
}
