//! `tracetape replay`'s settings: the `[replay]` table of `tracetape.toml`
//! (every key is described in docs/configuration.md), each key overridden
//! by its flag. Unknown keys are errors, and every error names the key or
//! the flag.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tracetape::record::{CONFIG_FILE, DEFAULT_DIR, JsonPath, Pattern};
use tracetape_compare::CompareOptions;

use crate::units;

use super::args::ReplayArgs;
use super::order::Order;
use super::outcome::CallDeviations;

/// How long the service may take to become ready, unless configured.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one replayed request may take, unless configured.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests in flight at once, unless configured: with `--order free`.
/// In recorded order, requests that overlapped when recorded are sent
/// together and take turns in the service as recorded however low this is
/// (`order.rs`, up to its `GROUP_CAP` or this when higher).
const DEFAULT_CONCURRENCY: usize = 16;

/// Everything a replay needs to know, resolved.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The shell command that starts the service; `None` when it is
    /// already running.
    pub(crate) command: Option<String>,
    /// Where the service answers.
    pub(crate) base_url: Url,
    /// With an https base URL, the service's certificate is not verified.
    pub(crate) insecure: bool,
    /// The readiness path; `None`: any HTTP answer at `/`.
    pub(crate) ready: Option<String>,
    pub(crate) startup_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) concurrency: usize,
    /// Which requests may run at the same time.
    pub(crate) order: Order,
    /// The recordings directory, absolute.
    pub(crate) recordings: PathBuf,
    /// The service to replay; `None`: the only one there is.
    pub(crate) service: Option<String>,
    /// Trace id prefixes, lower-case; empty: all.
    pub(crate) only: Vec<String>,
    /// Patterns of the recorded route or path; empty: all.
    pub(crate) routes: Vec<Pattern>,
    /// Methods, upper-case; empty: all.
    pub(crate) methods: Vec<String>,
    pub(crate) compare: CompareOptions,
    /// The configuration file that was read, absolute: the service is
    /// started with it as `TRACETAPE_CONFIG`.
    pub(crate) config_file: Option<PathBuf>,
    /// The preload library named by the flag or key, absolute; `None`:
    /// looked for beside the `tracetape` executable.
    pub(crate) preload: Option<PathBuf>,
    /// Connections bypassing tracetape's clients go through (reported).
    pub(crate) allow_unpatched: bool,
    /// Recording files that cannot be read are skipped (and reported)
    /// rather than stopping the run.
    pub(crate) skip_unreadable: bool,
    /// Any such connection fails the run.
    pub(crate) fail_on_unpatched: bool,
    /// Destinations (`127.0.0.1:5432`, `[::1]:5432`) and host names
    /// (`db.internal`, `cache:6379`, lower-case) the service may reach
    /// around tracetape's clients without a finding: the key's, then the
    /// flags', each once. Entries of the preload library's allow list
    /// (`TRACETAPE_UNPATCHED_ALLOW`).
    pub(crate) allow_connect: Vec<String>,
    /// Headers sent with every replayed request instead of the recorded
    /// ones (`[replay.headers]`, then `--header`).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Query values sent with every replayed request instead of the
    /// recorded ones, for the keys its query has (`[replay.query]`, then
    /// `--query`).
    pub(crate) query: Vec<(String, String)>,
    /// Whether a call answered by a recorded call that is not the same
    /// call fails its recording.
    pub(crate) call_deviations: CallDeviations,
    /// Dependencies that answer at another origin than recorded:
    /// (recorded, live), each normalised (`scheme://host[:port]`, lower
    /// case, no default port); the service gets them as
    /// `TRACETAPE_REPLAY_ORIGINS`.
    pub(crate) origins: Vec<(String, String)>,
    /// Request headers compared when matching outbound calls, lower-case;
    /// the service gets them as `TRACETAPE_REPLAY_MATCH_HEADERS`.
    pub(crate) match_headers: Vec<String>,
    /// Where to keep what the service printed; `None`: kept only when the
    /// run fails.
    pub(crate) service_log: Option<PathBuf>,
}

/// The parts of `tracetape.toml` the replay reads. Other tables belong
/// to the library, whose checker (`tracetape::record::check_config`) the
/// whole file must also pass.
#[derive(Debug, Default, Deserialize)]
struct RawFile {
    #[serde(default)]
    record: Option<toml::Table>,
    #[serde(default)]
    replay: Option<RawReplay>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplay {
    command: Option<String>,
    url: Option<String>,
    insecure: Option<bool>,
    port: Option<u16>,
    ready: Option<String>,
    startup_timeout: Option<toml::Value>,
    request_timeout: Option<toml::Value>,
    concurrency: Option<usize>,
    order: Option<Order>,
    recordings: Option<PathBuf>,
    service: Option<String>,
    only: Option<Vec<String>>,
    routes: Option<Vec<String>>,
    methods: Option<Vec<String>>,
    compare: Option<toml::Table>,
    preload: Option<PathBuf>,
    allow_unpatched: Option<bool>,
    skip_unreadable: Option<bool>,
    fail_on_unpatched: Option<bool>,
    allow_connect: Option<Vec<String>>,
    headers: Option<BTreeMap<String, String>>,
    query: Option<BTreeMap<String, String>>,
    call_deviations: Option<CallDeviations>,
    origins: Option<BTreeMap<String, String>>,
    match_headers: Option<Vec<String>>,
    service_log: Option<PathBuf>,
}

/// What the file says, with its relative paths taken from its directory.
#[derive(Debug, Default)]
struct FileSettings {
    path: Option<PathBuf>,
    replay: RawReplay,
    record_dir: Option<PathBuf>,
}

impl Settings {
    /// The settings from the flags, the configuration file they name (or
    /// `./tracetape.toml`) and `TRACETAPE_RECORD_DIR` (`record_dir_env`).
    pub(crate) fn resolve(
        args: &ReplayArgs,
        record_dir_env: Option<OsString>,
    ) -> anyhow::Result<Self> {
        let file = read_file(args.config.as_deref())?;
        let replay = file.replay;
        let base_url = match (&args.url, args.port) {
            (Some(url), _) => {
                Some(base_url(url).with_context(|| format!("--url {}", super::shown::scrub(url)))?)
            }
            (None, Some(port)) => Some(loopback(port)?),
            (None, None) => match (&replay.url, replay.port) {
                (Some(_), Some(_)) => bail!("replay.url and replay.port: give one, not both"),
                (Some(url), None) => Some(
                    base_url(url)
                        .with_context(|| format!("replay.url = {:?}", super::shown::scrub(url)))?,
                ),
                (None, Some(port)) => Some(loopback(port)?),
                (None, None) => None,
            },
        };
        let command = if args.no_start {
            None
        } else {
            args.command.clone().or(replay.command)
        };
        if command.as_deref().is_some_and(|c| c.trim().is_empty()) {
            bail!("the service command is empty (--command, replay.command)");
        }
        let base_url = match (base_url, &command) {
            (Some(url), _) => url,
            (None, Some(_)) => bail!(
                "the service command needs the address the service listens on: give \
                 --port or --url (port or url under [replay])"
            ),
            (None, None) => bail!(
                "nothing to replay against: give the command that starts the service and its \
                 port (--command and --port, or command and port under [replay] in {CONFIG_FILE}), \
                 or the URL of a service already running in replay mode (--url)"
            ),
        };
        let ready = args.ready.clone().or(replay.ready);
        if let Some(path) = &ready
            && !path.starts_with('/')
        {
            bail!("the readiness path {path:?} (--ready, replay.ready) must start with `/`");
        }
        let startup_timeout = timeout(
            args.startup_timeout.as_deref(),
            "--startup-timeout",
            replay.startup_timeout,
            "replay.startup_timeout",
        )?
        .unwrap_or(DEFAULT_STARTUP_TIMEOUT);
        let request_timeout = timeout(
            args.request_timeout.as_deref(),
            "--request-timeout",
            replay.request_timeout,
            "replay.request_timeout",
        )?
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        let concurrency = args
            .concurrency
            .or(replay.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            bail!(
                "concurrency 0 (--concurrency, replay.concurrency): at least one request must be in flight"
            );
        }
        let recordings = args
            .recordings
            .clone()
            .or(replay.recordings)
            .or(record_dir_env.map(PathBuf::from))
            .or(file.record_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        let recordings = std::path::absolute(&recordings)
            .with_context(|| format!("failed to resolve {}", recordings.display()))?;
        let only = if args.only.is_empty() {
            replay.only.unwrap_or_default()
        } else {
            args.only.clone()
        };
        let only = only
            .iter()
            .map(|prefix| trace_prefix(prefix))
            .collect::<anyhow::Result<_>>()?;
        let routes = if args.routes.is_empty() {
            replay.routes.unwrap_or_default()
        } else {
            args.routes.clone()
        };
        let routes = routes
            .iter()
            .map(|text| {
                text.parse::<Pattern>()
                    .map_err(|err| anyhow!("--route / replay.routes {text:?}: {err}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let methods = if args.methods.is_empty() {
            replay.methods.unwrap_or_default()
        } else {
            args.methods.clone()
        };
        let methods = methods
            .iter()
            .map(|text| method(text))
            .collect::<anyhow::Result<_>>()?;
        let compare = compare_options(replay.compare.unwrap_or_default(), args)?;
        let mut allow_connect: Vec<String> = Vec::new();
        let entries = replay
            .allow_connect
            .iter()
            .flatten()
            .map(|entry| (entry, "replay.allow_connect"))
            .chain(
                args.allow_connect
                    .iter()
                    .map(|entry| (entry, "--allow-connect")),
            );
        for (entry, named) in entries {
            let entry = allow_entry(entry).map_err(|why| anyhow!("{named} {entry:?}: {why}"))?;
            if !allow_connect.contains(&entry) {
                allow_connect.push(entry);
            }
        }
        let preload = match args.preload.clone().or(replay.preload) {
            Some(path) => Some(
                std::path::absolute(&path)
                    .with_context(|| format!("failed to resolve {}", path.display()))?,
            ),
            None => None,
        };
        Ok(Self {
            command,
            base_url,
            insecure: args.insecure || replay.insecure.unwrap_or(false),
            ready,
            startup_timeout,
            request_timeout,
            concurrency,
            order: args.order.or(replay.order).unwrap_or_default(),
            recordings,
            service: args.service.clone().or(replay.service),
            only,
            routes,
            methods,
            compare,
            config_file: file.path,
            preload,
            allow_unpatched: args.allow_unpatched || replay.allow_unpatched.unwrap_or(false),
            skip_unreadable: args.skip_unreadable || replay.skip_unreadable.unwrap_or(false),
            fail_on_unpatched: args.fail_on_unpatched || replay.fail_on_unpatched.unwrap_or(false),
            allow_connect,
            headers: super::headers::resolve(replay.headers.as_ref(), &args.headers, |name| {
                std::env::var(name).ok()
            })?,
            query: super::query::resolve(replay.query.as_ref(), &args.query, |name| {
                std::env::var(name).ok()
            })?,
            call_deviations: args
                .call_deviations
                .or(replay.call_deviations)
                .unwrap_or_default(),
            origins: origins(replay.origins.as_ref(), &args.origins)?,
            match_headers: match_headers(replay.match_headers.as_deref(), &args.match_headers)?,
            service_log: match args.service_log.clone().or(replay.service_log) {
                Some(path) => Some(
                    std::path::absolute(&path)
                        .with_context(|| format!("failed to resolve {}", path.display()))?,
                ),
                None => None,
            },
        })
    }
}

/// The header names of `match_headers`, then `--match-header`, checked,
/// lower-case, each once.
fn match_headers(key: Option<&[String]>, flags: &[String]) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let entries = key
        .into_iter()
        .flatten()
        .map(|name| (name, "replay.match_headers"))
        .chain(flags.iter().map(|name| (name, "--match-header")));
    for (name, named) in entries {
        let parsed = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| anyhow!("{named} {name:?}: not a header name"))?;
        let name = parsed.as_str().to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The origin mappings of `[replay.origins]`, then `--origin` (which
/// replaces the key's entry for the same recorded origin), each side
/// checked and normalised.
fn origins(
    table: Option<&BTreeMap<String, String>>,
    flags: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut origins: Vec<(String, String)> = Vec::new();
    let from_table = table
        .into_iter()
        .flatten()
        .map(|(recorded, live)| (recorded.as_str(), live.as_str(), "replay.origins"));
    let mut from_flags = Vec::new();
    for flag in flags {
        let (recorded, live) = flag.split_once('=').ok_or_else(|| {
            anyhow!("--origin {flag:?}: give RECORDED=LIVE, such as http://127.0.0.1:8082=http://pricing:9000")
        })?;
        from_flags.push((recorded, live, "--origin"));
    }
    for (recorded, live, named) in from_table.chain(from_flags) {
        let normal = |origin: &str| {
            tracetape::replay::normal_origin(origin)
                .ok_or_else(|| anyhow!("{named} {origin:?}: not an origin (scheme://host[:port])"))
        };
        let (recorded, live) = (normal(recorded)?, normal(live)?);
        origins.retain(|(existing, _)| *existing != recorded);
        origins.push((recorded, live));
    }
    Ok(origins)
}

/// Reads the file `explicit` names (which must exist), else
/// `./tracetape.toml` if there is one.
fn read_file(explicit: Option<&Path>) -> anyhow::Result<FileSettings> {
    let path = explicit.unwrap_or(Path::new(CONFIG_FILE));
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if explicit.is_none() && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(FileSettings::default());
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!(
                "failed to read the configuration file {}",
                path.display()
            )));
        }
    };
    let raw: RawFile = toml::from_str(&text).map_err(|err| {
        anyhow!(
            "{}: {}",
            path.display(),
            err.to_string().trim_end().replace('\n', "\n  ")
        )
    })?;
    let path = std::path::absolute(path)
        .with_context(|| format!("failed to resolve {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("/"));
    let mut replay = raw.replay.unwrap_or_default();
    replay.recordings = replay.recordings.map(|dir| base.join(dir));
    replay.preload = replay.preload.map(|file| base.join(file));
    let record_dir = match raw.record.as_ref().and_then(|record| record.get("dir")) {
        None => None,
        Some(toml::Value::String(dir)) => Some(base.join(dir)),
        Some(other) => bail!(
            "{}: record.dir: expected a path (a string), found {}",
            path.display(),
            other.type_str()
        ),
    };
    // The service started reads the same file: one it would refuse (and
    // then record and replay nothing) stops the replay before it starts.
    tracetape::record::check_config(&text).map_err(|err| {
        anyhow!(
            "{}: {}; the service would not run in replay mode with this file",
            path.display(),
            err.to_string().replace('\n', "\n  ")
        )
    })?;
    Ok(FileSettings {
        path: Some(path),
        replay,
        record_dir,
    })
}

/// `http://127.0.0.1:{port}`.
fn loopback(port: u16) -> anyhow::Result<Url> {
    base_url(&format!("http://127.0.0.1:{port}"))
}

/// An `http` or `https` URL without query or fragment.
fn base_url(text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text).map_err(|err| anyhow!("not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("expected an http:// or https:// URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("the base URL cannot have a query or a fragment");
    }
    Ok(url)
}

/// The timeout the flag gives, else the key.
fn timeout(
    flag: Option<&str>,
    flag_name: &str,
    key: Option<toml::Value>,
    key_name: &str,
) -> anyhow::Result<Option<Duration>> {
    let (duration, named) = match (flag, key) {
        (Some(text), _) => (units::duration(text), format!("{flag_name} {text}")),
        (None, Some(toml::Value::String(text))) => {
            (units::duration(&text), format!("{key_name} = {text:?}"))
        }
        (None, Some(toml::Value::Integer(secs))) => (
            u64::try_from(secs)
                .map(Duration::from_secs)
                .map_err(|_| "negative".to_owned()),
            format!("{key_name} = {secs}"),
        ),
        (None, Some(toml::Value::Float(secs))) => (
            Duration::try_from_secs_f64(secs).map_err(|err| err.to_string()),
            format!("{key_name} = {secs}"),
        ),
        (None, Some(other)) => (
            Err(format!("found {}", other.type_str())),
            key_name.to_owned(),
        ),
        (None, None) => return Ok(None),
    };
    match duration {
        Ok(duration) if !duration.is_zero() => Ok(Some(duration)),
        Ok(_) => bail!("{named}: the timeout must be more than zero"),
        Err(why) => {
            bail!("{named}: expected seconds (30) or a number with a unit (500ms, 90s, 2m): {why}")
        }
    }
}

/// A method to replay, upper-cased: an HTTP token (`POST`, `PURGE`).
fn method(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        bail!("--method / replay.methods {text:?}: expected an HTTP method such as GET or POST");
    }
    Ok(text.to_ascii_uppercase())
}

/// A trace id prefix: hex digits, lower-cased.
fn trace_prefix(text: &str) -> anyhow::Result<String> {
    let prefix = text.trim().to_ascii_lowercase();
    if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--only / replay.only {text:?}: expected the first hex digits of a trace id");
    }
    Ok(prefix)
}

/// One entry of `allow_connect` as the preload library's allow list takes
/// it (`TRACETAPE_UNPATCHED_ALLOW`, crates/tracetape-preload/src/config.rs):
/// a socket address (`127.0.0.1:5432`, `[::1]:5432`), or a host name with
/// or without a port (`db.internal`, `cache:6379`: letters, digits, `-`,
/// `_` and dots), lower-cased without a trailing dot. Anything else, which
/// the library would silently skip, is an error saying why.
fn allow_entry(text: &str) -> Result<String, String> {
    const EXPECTED: &str = "expected IP:PORT, [IPV6]:PORT, HOST or HOST:PORT \
                            (127.0.0.1:5432, [::1]:5432, db.internal, cache:6379)";
    let entry = text.trim();
    if entry.is_empty() {
        return Err(format!("an empty entry: {EXPECTED}"));
    }
    if let Ok(address) = entry.parse::<SocketAddr>() {
        return Ok(address.to_string());
    }
    if entry.contains("://") {
        return Err(format!("a URL: give its host and port instead, {EXPECTED}"));
    }
    if entry.parse::<IpAddr>().is_ok()
        || entry
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|inner| inner.parse::<IpAddr>().is_ok())
    {
        return Err(format!(
            "an IP address needs its port ({EXPECTED}): connections are allowed per address \
             and port"
        ));
    }
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(number) if port.bytes().all(|b| b.is_ascii_digit()) => (host, Some(number)),
            _ => return Err(format!("{port:?} is not a port: {EXPECTED}")),
        },
        None => (entry, None),
    };
    if host.parse::<IpAddr>().is_ok() {
        return Err(format!("not a socket address: {EXPECTED}"));
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(format!("no host before the port: {EXPECTED}"));
    }
    if let Some(bad) = host
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{bad:?} cannot be in a host name (letters, digits, `-`, `_` and dots): {EXPECTED}"
        ));
    }
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// `[replay.compare]` with the `--compare KEY=VALUE` flags applied, then
/// the `--ignore` paths added.
fn compare_options(mut table: toml::Table, args: &ReplayArgs) -> anyhow::Result<CompareOptions> {
    let from_file = table.clone();
    for setting in &args.compare {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| anyhow!("--compare {setting}: expected KEY=VALUE"))?;
        let key = key.trim();
        let value: toml::Table = toml::from_str(&format!("value = {value}")).map_err(|_| {
            anyhow!(
                "--compare {setting}: the value is not TOML (quote strings: \
                 headers=[\"etag\"], epochs=false)"
            )
        })?;
        if let Some(value) = value.get("value") {
            table.insert(key.to_owned(), value.clone());
        }
    }
    let mut options: CompareOptions = toml::Value::Table(table).try_into().map_err(|err| {
        let message = err.to_string().trim_end().to_owned();
        if args.compare.is_empty() {
            anyhow!("replay.compare: {message}")
        } else {
            // The error may come from the file or from a flag.
            let from = if toml::Value::Table(from_file)
                .try_into::<CompareOptions>()
                .is_ok()
            {
                "--compare"
            } else {
                "replay.compare"
            };
            anyhow!("{from}: {message}")
        }
    })?;
    for path in &args.ignore {
        let path: JsonPath = path
            .parse()
            .map_err(|err| anyhow!("--ignore {path}: {err}"))?;
        options = options.with_ignore(path);
    }
    Ok(options)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::replay_args;

    /// The settings from `flags` and, if given, a `tracetape.toml` holding
    /// `file` (in a temporary directory, named with --config).
    fn resolve(file: Option<&str>, flags: &[&str]) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let mut argv = Vec::new();
        let path = dir.path().join("tracetape.toml");
        let path = path.to_str().unwrap().to_owned();
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
            argv.extend(["--config", &path]);
        }
        argv.extend(flags);
        let args = replay_args(argv);
        Settings::resolve(&args, None)
    }

    fn error(file: Option<&str>, flags: &[&str]) -> String {
        format!("{:#}", resolve(file, flags).unwrap_err())
    }

    #[test]
    fn insecure_comes_from_the_flag_or_the_key() {
        let url = ["--url", "https://127.0.0.1:8443"];
        assert!(!resolve(None, &url).unwrap().insecure);
        assert!(
            resolve(None, &[&url[..], &["-k"]].concat())
                .unwrap()
                .insecure
        );
        assert!(
            resolve(None, &[&url[..], &["--insecure"]].concat())
                .unwrap()
                .insecure
        );
        let file = "[replay]\nurl = \"https://127.0.0.1:8443\"\ninsecure = true\n";
        let settings = resolve(Some(file), &[]).unwrap();
        assert!(settings.insecure);
        assert_eq!(settings.base_url.as_str(), "https://127.0.0.1:8443/");
    }

    #[test]
    fn flags_alone_are_enough_and_defaults_fill_the_rest() {
        let settings = resolve(None, &["--command", "./svc", "--port", "8081"]).unwrap();
        assert_eq!(settings.command.as_deref(), Some("./svc"));
        assert_eq!(settings.base_url.as_str(), "http://127.0.0.1:8081/");
        assert_eq!(settings.ready, None);
        assert_eq!(settings.startup_timeout, Duration::from_secs(60));
        assert_eq!(settings.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.concurrency, 16);
        assert_eq!(settings.order, Order::Recorded);
        assert!(settings.recordings.is_absolute());
        assert!(settings.recordings.ends_with(".tracetape/recordings"));
        assert_eq!(settings.compare, CompareOptions::default());
        assert_eq!(settings.config_file, None);
        assert_eq!(settings.preload, None);
        assert!(!settings.allow_unpatched && !settings.fail_on_unpatched);
    }

    #[test]
    fn the_unpatched_keys_and_flags() {
        let file = "[replay]\nport = 1\npreload = \"lib/x.so\"\nallow_unpatched = true\n\
                    fail_on_unpatched = true\n";
        let settings = resolve(Some(file), &[]).unwrap();
        let config = settings.config_file.clone().unwrap();
        assert_eq!(
            settings.preload,
            Some(config.parent().unwrap().join("lib/x.so"))
        );
        assert!(settings.allow_unpatched && settings.fail_on_unpatched);
        let settings = resolve(
            None,
            &[
                "--port",
                "1",
                "--preload",
                "/p.so",
                "--allow-unpatched",
                "--fail-on-unpatched",
            ],
        )
        .unwrap();
        assert_eq!(settings.preload, Some(PathBuf::from("/p.so")));
        assert!(settings.allow_unpatched && settings.fail_on_unpatched);
    }

    #[test]
    fn allow_connect_entries_of_the_file_and_the_flags_combine() {
        let file = "[replay]\nport = 1\n\
                    allow_connect = [\"127.0.0.1:5432\", \"db.internal\", \"cache:6379\"]\n";
        let settings = resolve(Some(file), &[]).unwrap();
        assert_eq!(
            settings.allow_connect,
            ["127.0.0.1:5432", "db.internal", "cache:6379"]
        );
        let settings = resolve(
            Some(file),
            &[
                "--allow-connect",
                "[::1]:9000",
                "--allow-connect",
                " LocalHost. ",
                "--allow-connect",
                "DB.internal",
            ],
        )
        .unwrap();
        assert_eq!(
            settings.allow_connect,
            [
                "127.0.0.1:5432",
                "db.internal",
                "cache:6379",
                "[::1]:9000",
                "localhost"
            ]
        );
        let settings = resolve(None, &["--port", "1"]).unwrap();
        assert!(settings.allow_connect.is_empty());
    }

    #[test]
    fn allow_connect_entries_are_what_the_preload_library_understands() {
        for (entry, kept) in [
            ("127.0.0.1:5432", "127.0.0.1:5432"),
            ("[::1]:5432", "[::1]:5432"),
            ("[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:80"),
            ("localhost", "localhost"),
            ("Cache_1.internal:6379", "cache_1.internal:6379"),
            ("db.internal.:5432", "db.internal:5432"),
        ] {
            assert_eq!(allow_entry(entry).as_deref(), Ok(kept), "{entry}");
        }
        for (entry, why) in [
            ("", "an empty entry"),
            ("   ", "an empty entry"),
            ("10.0.0.1", "an IP address needs its port"),
            ("::1", "an IP address needs its port"),
            ("[::1]", "an IP address needs its port"),
            ("::1:5432", "an IP address needs its port"),
            ("1::2:x", "\"x\" is not a port"),
            ("127.0.0.1:99999", "\"99999\" is not a port"),
            ("127.0.0.1:+80", "\"+80\" is not a port"),
            ("db:", "\"\" is not a port"),
            (":5432", "no host before the port"),
            ("not a host:port:x", "\"x\" is not a port"),
            ("bad host:80", "' ' cannot be in a host name"),
            ("a,b", "',' cannot be in a host name"),
            ("http://db:5432", "a URL: give its host and port"),
            ("db/x", "'/' cannot be in a host name"),
        ] {
            let err = allow_entry(entry).unwrap_err();
            assert!(err.starts_with(why), "{entry}: {err}");
        }
        let err = error(
            None,
            &["--port", "1", "--allow-connect", "not a host:port:x"],
        );
        assert!(
            err.starts_with("--allow-connect \"not a host:port:x\": \"x\" is not a port: expected"),
            "{err}"
        );
        let err = error(
            Some("[replay]\nport = 1\nallow_connect = [\"db\", \"10.0.0.1\"]\n"),
            &[],
        );
        assert!(
            err.starts_with("replay.allow_connect \"10.0.0.1\": an IP address needs its port"),
            "{err}"
        );
        let err = error(Some("[replay]\nport = 1\nallow_connect = \"db\"\n"), &[]);
        assert!(err.contains("allow_connect"), "{err}");
    }

    #[test]
    fn order_comes_from_the_file_and_the_flag_overrides_it() {
        let flags = ["--command", "./svc", "--port", "8081"];
        let file = "[replay]\norder = \"free\"\n";
        assert_eq!(resolve(Some(file), &flags).unwrap().order, Order::Free);
        let recorded = [&flags[..], &["--order", "recorded"]].concat();
        assert_eq!(
            resolve(Some(file), &recorded).unwrap().order,
            Order::Recorded
        );
        let err = error(Some("[replay]\norder = \"random\"\n"), &flags);
        assert!(err.contains("order"), "{err}");
    }

    #[test]
    fn the_file_sets_every_key_and_flags_override_them() {
        let file = r#"
            [record]
            dir = "recorded"

            [replay]
            command = "cargo run -p checkout"
            port = 8081
            ready = "/health"
            startup_timeout = "2m"
            request_timeout = 5
            concurrency = 8
            service = "checkout"
            only = ["4BF9", "0af7"]

            [replay.compare]
            headers = ["content-type", "etag"]
            ignore = ["$.created_at"]
            epochs = false
        "#;
        let settings = resolve(Some(file), &[]).unwrap();
        assert_eq!(settings.command.as_deref(), Some("cargo run -p checkout"));
        assert_eq!(settings.base_url.as_str(), "http://127.0.0.1:8081/");
        assert_eq!(settings.ready.as_deref(), Some("/health"));
        assert_eq!(settings.startup_timeout, Duration::from_secs(120));
        assert_eq!(settings.request_timeout, Duration::from_secs(5));
        assert_eq!(settings.concurrency, 8);
        // `[record] dir`, relative to the file.
        let config = settings.config_file.clone().unwrap();
        assert_eq!(
            settings.recordings,
            config.parent().unwrap().join("recorded")
        );
        assert_eq!(settings.service.as_deref(), Some("checkout"));
        assert_eq!(settings.only, ["4bf9", "0af7"]);
        assert_eq!(settings.compare.headers, ["content-type", "etag"]);
        assert!(!settings.compare.epochs && settings.compare.uuids);

        let settings = resolve(
            Some(file),
            &[
                "--no-start",
                "--url",
                "http://localhost:9000/api",
                "--ready",
                "/ready",
                "--startup-timeout",
                "500ms",
                "--request-timeout",
                "1.5",
                "--concurrency",
                "1",
                "--recordings",
                "elsewhere",
                "--service",
                "pricing",
                "--only",
                "abc,def",
                "--ignore",
                "$.total",
                "--compare",
                "epochs=true",
                "--compare",
                "uuids = false",
            ],
        )
        .unwrap();
        assert_eq!(settings.command, None);
        assert_eq!(settings.base_url.as_str(), "http://localhost:9000/api");
        assert_eq!(settings.ready.as_deref(), Some("/ready"));
        assert_eq!(settings.startup_timeout, Duration::from_millis(500));
        assert_eq!(settings.request_timeout, Duration::from_millis(1500));
        assert_eq!(settings.concurrency, 1);
        assert_eq!(
            settings.recordings,
            std::env::current_dir().unwrap().join("elsewhere")
        );
        assert_eq!(settings.service.as_deref(), Some("pricing"));
        assert_eq!(settings.only, ["abc", "def"]);
        let ignored: Vec<String> = settings
            .compare
            .ignore
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(ignored, ["$.created_at", "$.total"]);
        assert!(settings.compare.epochs && !settings.compare.uuids);
    }

    #[test]
    fn the_time_window_and_numbers_by_value_come_from_the_file_or_flags() {
        let file =
            "[replay]\nport = 1\n[replay.compare]\ntime_window = \"5m\"\nnumbers_by_value = true\n";
        let settings = resolve(Some(file), &[]).unwrap();
        assert_eq!(settings.compare.time_window, Some(Duration::from_secs(300)));
        assert!(settings.compare.numbers_by_value);
        let flags = [
            "--compare",
            "time_window=false",
            "--compare",
            "numbers_by_value=false",
        ];
        let settings = resolve(Some(file), &flags).unwrap();
        assert_eq!(settings.compare.time_window, None);
        assert!(!settings.compare.numbers_by_value);
        let settings = resolve(Some(file), &["--compare", "time_window=\"off\""]).unwrap();
        assert_eq!(settings.compare.time_window, None);
        let settings = resolve(None, &["--port", "1", "--compare", "time_window=90"]).unwrap();
        assert_eq!(settings.compare.time_window, Some(Duration::from_secs(90)));
        let err = error(None, &["--port", "1", "--compare", "time_window=\"soon\""]);
        assert!(
            err.starts_with("--compare: ") && err.contains("time_window = \"soon\""),
            "{err}"
        );
    }

    #[test]
    fn the_replay_table_wins_over_the_record_dir_and_the_variable_over_that() {
        let file = "[record]\ndir = \"recorded\"\n[replay]\nport = 1\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tracetape.toml");
        std::fs::write(&path, file).unwrap();
        let args = |extra: &str| {
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(extra);
            std::fs::write(&path, text).unwrap();
            let argv = ["--no-start", "--config", path.to_str().unwrap()];
            replay_args(argv)
        };
        let from_env = Settings::resolve(&args(""), Some("/from/env".into())).unwrap();
        assert_eq!(from_env.recordings, PathBuf::from("/from/env"));
        let from_table =
            Settings::resolve(&args("recordings = \"mine\"\n"), Some("/from/env".into())).unwrap();
        assert_eq!(from_table.recordings, dir.path().join("mine"));
    }

    #[test]
    fn errors_name_the_key_or_the_flag() {
        assert!(
            error(Some("[replay]\ncomand = \"x\"\n"), &[]).contains("unknown field `comand`"),
            "{}",
            error(Some("[replay]\ncomand = \"x\"\n"), &[])
        );
        let err = error(
            Some("[replay]\nport = 1\n[replay.compare]\nuuid = false\n"),
            &[],
        );
        assert!(
            err.starts_with("replay.compare: unknown field `uuid`"),
            "{err}"
        );
        let err = error(None, &["--port", "1", "--compare", "uuid=false"]);
        assert!(err.starts_with("--compare: unknown field `uuid`"), "{err}");
        let err = error(None, &["--port", "1", "--compare", "headers=etag"]);
        assert!(err.contains("the value is not TOML"), "{err}");
        let err = error(None, &["--port", "1", "--ignore", "total"]);
        assert!(
            err.starts_with("--ignore total: invalid JSON path"),
            "{err}"
        );
        let err = error(
            Some("[replay]\nport = 1\nstartup_timeout = \"soon\"\n"),
            &[],
        );
        assert!(
            err.starts_with("replay.startup_timeout = \"soon\": expected seconds"),
            "{err}"
        );
        let err = error(None, &["--port", "1", "--request-timeout", "0"]);
        assert!(err.contains("more than zero"), "{err}");
        let err = error(None, &["--port", "1", "--concurrency", "0"]);
        assert!(err.starts_with("concurrency 0"), "{err}");
        let err = error(None, &["--port", "1", "--ready", "health"]);
        assert!(err.contains("must start with `/`"), "{err}");
        let err = error(None, &["--port", "1", "--only", "xyz"]);
        assert!(
            err.contains("\"xyz\": expected the first hex digits"),
            "{err}"
        );
        let err = error(None, &["--url", "ftp://host"]);
        assert!(
            err.starts_with("--url ftp://host: expected an http:// or https:// URL"),
            "{err}"
        );
        let err = error(Some("[replay]\nurl = \"http://a\"\nport = 1\n"), &[]);
        assert!(err.contains("give one, not both"), "{err}");
        let err = error(None, &["--command", "./svc"]);
        assert!(err.contains("needs the address"), "{err}");
        let err = error(None, &[]);
        assert!(err.starts_with("nothing to replay against"), "{err}");
        let err = error(Some("[record]\ndir = 3\n[replay]\nport = 1\n"), &[]);
        assert!(
            err.contains("record.dir: expected a path (a string), found integer"),
            "{err}"
        );
        // What the service reads is checked as the library checks it.
        for (file, expected) in [
            (
                "[recrod]\nmode = \"replay\"\n[replay]\nport = 1\n",
                "unknown field `recrod`",
            ),
            (
                "[record]\nsample_rat = 1\n[replay]\nport = 1\n",
                "unknown field `sample_rat`",
            ),
            (
                "[[record.redact]]\njson = \"card\"\n[replay]\nport = 1\n",
                "record.redact[0]",
            ),
        ] {
            let err = error(Some(file), &[]);
            assert!(
                err.contains(expected)
                    && err.ends_with("the service would not run in replay mode with this file"),
                "{err}"
            );
        }
    }

    #[test]
    fn routes_and_methods_come_from_the_table_or_their_flags() {
        let file = "[replay]\nport = 1\nroutes = [\"/orders/*\"]\nmethods = [\"post\"]\n";
        let settings = resolve(Some(file), &[]).unwrap();
        assert_eq!(settings.routes, ["/orders/*".parse::<Pattern>().unwrap()]);
        assert_eq!(settings.methods, ["POST"]);
        let settings =
            resolve(Some(file), &["--route", "/items", "--method", "get,Delete"]).unwrap();
        assert_eq!(settings.routes, ["/items".parse::<Pattern>().unwrap()]);
        assert_eq!(settings.methods, ["GET", "DELETE"]);
        let err = error(None, &["--port", "1", "--method", "GET POST"]);
        assert!(
            err.contains("--method / replay.methods \"GET POST\": expected an HTTP method"),
            "{err}"
        );
    }

    #[test]
    fn a_named_file_must_exist_and_the_default_one_need_not() {
        let argv = ["--port", "1", "--config", "/no/such/tracetape.toml"];
        let args = replay_args(argv);
        let err = format!("{:#}", Settings::resolve(&args, None).unwrap_err());
        assert!(
            err.starts_with("failed to read the configuration file /no/such/tracetape.toml"),
            "{err}"
        );
        assert!(read_file(None).is_ok());
    }
}
