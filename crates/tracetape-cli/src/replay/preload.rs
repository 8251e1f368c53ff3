//! Starting the service with `libtracetape_preload.so` (see
//! ARCHITECTURE.md, "Unpatched dependencies" and "Replay clock"): where
//! the library is, the destinations and host names that are the replay's
//! own (the service's address and the OTLP endpoints the replayer's
//! environment names; the library adds those of the service's own
//! environment itself, wherever they were set) or the user's
//! (`allow_connect`), the clock file that sets each
//! replayed request's wall clock to its recorded time, and the variables
//! the service is started with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};

use reqwest::Url;

use super::config::Settings;

/// The library's file name.
pub(crate) const LIBRARY: &str = "libtracetape_preload.so";
/// The report file's name, in the run's temporary directory.
const REPORT_FILE: &str = "unpatched.jsonl";
/// The clock file's name, in the run's temporary directory.
const CLOCK_FILE: &str = "clock";
/// The clock file's size: 65,536 slots of 16 bytes (a thread id and a
/// shift, which the service's `tracetape` writes and the library reads),
/// then 16 bytes for the process default shift; sparse, so it takes no
/// room until written.
const CLOCK_FILE_BYTES: u64 = 65_536 * 16 + 16;
/// The variable naming the clock file.
const CLOCK_VAR: &str = "TRACETAPE_REPLAY_CLOCK";

/// What the run says on standard error when the replay clock is on.
pub(crate) const CLOCK_CONTROLLED: &str = "clock: each request sees its recorded time";
/// The OTLP endpoint variables whose destinations are allowed.
const OTLP_VARS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
];

/// Why detection is off for a service tracetape does not start.
pub(crate) const NOT_STARTED: &str = "the service is already running (--no-start), so tracetape \
     cannot start it with the preload library; connections around tracetape's clients are \
     neither seen nor refused";

/// Detection of unpatched dependencies for one run, and its replay clock:
/// the library, the report file it appends to, the clock file, and what
/// it is told.
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
            return Ok(Err(NOT_STARTED.to_owned()));
        }
        let dir = tempfile::Builder::new()
            .prefix("tracetape-unpatched-")
            .tempdir()?;
        let library = match find_library(settings.preload.as_deref(), dir.path())? {
            Ok(library) => library,
            Err(why) => return Ok(Err(why)),
        };
        let report = dir.path().join(REPORT_FILE);
        std::fs::File::create(&report)?;
        let clock = dir.path().join(CLOCK_FILE);
        std::fs::File::create(&clock)?.set_len(CLOCK_FILE_BYTES)?;
        let mut allow = allow_list(&settings.base_url, env);
        for entry in user_allowed(&settings.allow_connect) {
            if !allow.contains(&entry) {
                allow.push(entry);
            }
        }
        let allow = allow.join(",");
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
            (CLOCK_VAR, clock),
        ];
        Ok(Ok(Self {
            _dir: dir,
            report,
            env,
        }))
    }
}

/// Whether a service started with `env` runs on the replay clock (its
/// preload library permitting).
pub(crate) fn sets_clock(env: &[(&'static str, PathBuf)]) -> bool {
    env.iter().any(|(name, _)| *name == CLOCK_VAR)
}

/// The library `explicit` names (which must exist), else the one beside
/// the running executable or in `deps/` there (where cargo builds it),
/// else the one the executable carries, written into `dir` (an installed
/// `tracetape` has no other). An error when it cannot be written.
fn find_library(explicit: Option<&Path>, dir: &Path) -> std::io::Result<Result<PathBuf, String>> {
    if let Some(path) = explicit {
        return Ok(if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(format!(
                "the preload library {} (--preload, replay.preload) does not exist",
                path.display()
            ))
        });
    }
    if !cfg!(target_os = "linux") {
        return Ok(Err("the preload library is built on Linux only".to_owned()));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            return Ok(Err(format!(
                "cannot tell where the tracetape executable is: {err}"
            )));
        }
    };
    let beside = exe.parent().unwrap_or(Path::new("/"));
    let candidates = [beside.join(LIBRARY), beside.join("deps").join(LIBRARY)];
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return Ok(Ok(found.clone()));
    }
    if let Some(written) = super::embedded::write_into(dir)? {
        return Ok(Ok(written));
    }
    Ok(Err(format!(
        "{LIBRARY} is neither in {} nor in {}, and this tracetape was built without it (build it \
         with `cargo build -p tracetape-preload`, or name it with --preload)",
        beside.display(),
        beside.join("deps").display()
    )))
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

/// The allow-list entries for the user's `allow_connect` (checked by
/// `config.rs`): each as it is and, for `HOST:PORT`, the addresses the
/// name has now (`localhost`: both loopback addresses), so that the
/// connection after the lookup is allowed too.
fn user_allowed(entries: &[String]) -> Vec<String> {
    let mut allow = Vec::new();
    for entry in entries {
        if let Some((host, port)) = entry.rsplit_once(':')
            && let Ok(port) = port.parse::<u16>()
            && host.parse::<IpAddr>().is_err()
            && !host.starts_with('[')
        {
            allow.extend(
                host_addresses(host, port)
                    .into_iter()
                    .map(|address| address.to_string()),
            );
        }
        allow.push(entry.clone());
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

/// `url`'s host and port as socket addresses: an IP literal as it is, a
/// name as [`host_addresses`].
fn addresses(url: &Url) -> Vec<SocketAddr> {
    let Some(port) = url.port_or_known_default() else {
        return Vec::new();
    };
    let host = url.host_str().unwrap_or_default();
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => host_addresses(host, port),
    }
}

/// The addresses host name `host` has now, with `port`: `localhost` as
/// both loopback addresses, any other as the system resolves it (none
/// when it cannot).
fn host_addresses(host: &str, port: u16) -> Vec<SocketAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return [
            IpAddr::from(Ipv4Addr::LOCALHOST),
            Ipv6Addr::LOCALHOST.into(),
        ]
        .map(|ip| SocketAddr::new(ip, port))
        .to_vec();
    }
    (host, port)
        .to_socket_addrs()
        .map(|resolved| resolved.collect())
        .unwrap_or_default()
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
    fn the_user_s_entries_come_as_they_are_and_localhost_as_its_addresses_too() {
        let entries = [
            "127.0.0.1:5432",
            "db.internal",
            "cache:6379",
            "localhost:6379",
        ]
        .map(str::to_owned);
        assert_eq!(
            user_allowed(&entries),
            [
                "127.0.0.1:5432",
                "db.internal",
                "cache:6379",
                "127.0.0.1:6379",
                "[::1]:6379",
                "localhost:6379"
            ]
        );
        assert_eq!(user_allowed(&["localhost".to_owned()]), ["localhost"]);
    }

    #[test]
    fn the_user_s_entries_follow_the_replay_s_own_in_the_variable() {
        use crate::testing::replay_args;

        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join(LIBRARY);
        std::fs::write(&library, "").unwrap();
        let argv = [
            "--command",
            "./svc",
            "--url",
            "http://localhost:8081",
            "--preload",
            library.to_str().unwrap(),
            "--allow-connect",
            "127.0.0.1:8081",
            "--allow-connect",
            "DB.internal",
            "--allow-connect",
            "localhost:5432",
        ];
        let args = replay_args(argv);
        let settings = Settings::resolve(&args, None).unwrap();
        let Ok(detection) = Detection::prepare(&settings, |_| None).unwrap() else {
            panic!("no detection");
        };
        let allow = detection
            .env
            .iter()
            .find(|(name, _)| *name == "TRACETAPE_UNPATCHED_ALLOW")
            .map(|(_, value)| value.to_str().unwrap().to_owned());
        assert_eq!(
            allow.as_deref(),
            Some(
                "127.0.0.1:8081,[::1]:8081,localhost:8081,db.internal,127.0.0.1:5432,[::1]:5432,\
                 localhost:5432"
            )
        );
    }

    #[test]
    fn the_service_is_told_of_a_clock_file_of_every_slot() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join(LIBRARY);
        std::fs::write(&library, "").unwrap();
        let settings = settings_with_library(&library);
        let Ok(detection) = Detection::prepare(&settings, |_| None).unwrap() else {
            panic!("no detection");
        };
        assert!(sets_clock(&detection.env));
        let (_, clock) = detection
            .env
            .iter()
            .find(|(name, _)| *name == CLOCK_VAR)
            .unwrap();
        assert_eq!(std::fs::metadata(clock).unwrap().len(), (1 << 20) + 16);
        assert!(!sets_clock(&[("LD_PRELOAD", library)]));
    }

    fn settings_with_library(library: &Path) -> Settings {
        use crate::testing::replay_args;

        let argv = [
            "--command",
            "./svc",
            "--port",
            "8081",
            "--preload",
            library.to_str().unwrap(),
        ];
        let args = replay_args(argv);
        Settings::resolve(&args, None).unwrap()
    }

    #[test]
    fn a_named_library_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_library(Some(Path::new("/no/such/lib.so")), dir.path())
            .unwrap()
            .unwrap_err();
        assert!(err.contains("/no/such/lib.so (--preload, replay.preload) does not exist"));
    }
}
