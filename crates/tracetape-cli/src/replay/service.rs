//! The service under replay, supervised by a task of its own: started
//! (`process.rs`) unless it is already running, polled until ready,
//! restarted when it dies mid-run (at most [`MAX_RESTARTS`] times), and
//! stopped at the end. The replaying tasks follow it through a
//! [`Liveness`]: they wait for it to be ready, and learn when the start
//! they sent a request to died.
//!
//! A verdict is about the build under test or it is not given: when the
//! service's address already answers before a start, or still answers
//! after a start exited, another process would be judged, so the run
//! fails (naming that process when `/proc` tells it) rather than replay
//! against it.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Url;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::Settings;
use super::preload::{LIBRARY, sets_clock};
use super::process::{Process, ServiceLog};
use super::procfs;
use super::send::{ProbeError, Sender, humane};
use super::unpatched::{self, SharedPids};
use super::watchdog::Watchdog;

/// Restarts after the service died mid-run, at most.
pub(crate) const MAX_RESTARTS: usize = 3;
/// Between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// How long a connection to the service's address may take to tell
/// whether something answers there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the supervisor is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Starting the service, or waiting for it to be ready.
    Starting,
    /// The service answers.
    Ready,
    /// It would not start, or died once too often: why.
    Failed(String),
    /// Stopped at the end of the run.
    Stopped,
}

#[derive(Debug, Clone)]
struct Status {
    /// Which start of the service this is, from 0.
    generation: usize,
    phase: Phase,
    /// How each earlier start ended: `deaths[g]` for start `g`.
    deaths: Vec<String>,
}

/// The service as the replaying tasks see it.
#[derive(Debug, Clone)]
pub(crate) struct Liveness(watch::Receiver<Status>);

/// A start of the service died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Death {
    /// How it exited: `exit status: 3`, `signal: 9 (SIGKILL)`.
    pub(crate) status: String,
    /// Whether it was started again.
    pub(crate) restarted: bool,
}

impl Death {
    /// What a request that was in flight when it died is told.
    pub(crate) fn in_flight(&self) -> String {
        let then = if self.restarted {
            "restarted".to_owned()
        } else {
            format!("not restarted: it died {} times", MAX_RESTARTS + 1)
        };
        format!(
            "the service exited ({}) while this request was in flight; {then}",
            self.status
        )
    }
}

impl Liveness {
    /// Waits until the service is ready: which start of it answers; or why
    /// it never will.
    pub(crate) async fn ready(&mut self) -> Result<usize, String> {
        let status = self
            .0
            .wait_for(|status| status.phase != Phase::Starting)
            .await
            .map_err(|_| "the service's supervisor ended".to_owned())?;
        match &status.phase {
            Phase::Ready => Ok(status.generation),
            Phase::Failed(why) => Err(why.clone()),
            Phase::Starting | Phase::Stopped => Err("the service was stopped".to_owned()),
        }
    }

    /// Waits until start `generation` of the service has died; never
    /// returns if it does not.
    pub(crate) async fn died(&mut self, generation: usize) -> Death {
        let death = self
            .0
            .wait_for(|status| status.deaths.len() > generation)
            .await
            .map(|status| Death {
                status: status.deaths[generation].clone(),
                restarted: status.generation > generation
                    || !matches!(status.phase, Phase::Failed(_)),
            });
        match death {
            Ok(death) => death,
            // The supervisor is gone, and the service with it.
            Err(_) => std::future::pending().await,
        }
    }
}

/// What the supervisor needs.
#[derive(Debug)]
struct Launch {
    command: Option<String>,
    env: Vec<(&'static str, PathBuf)>,
    ready: Option<String>,
    startup_timeout: Duration,
    /// With unpatched-dependency detection: where the service's processes
    /// are noted at each start, and the port that tells them.
    detection: Option<(SharedPids, u16)>,
    /// Whether the service runs on the replay clock: started so, and
    /// cleared when a start's process turns out not to load the library.
    clock: Arc<AtomicBool>,
    /// What stops the service's groups if this process is killed.
    watchdog: Option<Watchdog>,
}

/// The supervised service.
#[derive(Debug)]
pub(crate) struct Service {
    status: watch::Receiver<Status>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Option<ServiceLog>>,
    clock: Arc<AtomicBool>,
}

/// How the service's run went, once stopped.
#[derive(Debug, Default)]
pub(crate) struct Stopped {
    /// How many times it was started again.
    pub(crate) restarts: usize,
    /// Why it stopped answering for good, if it did.
    pub(crate) failure: Option<String>,
    /// Its log, when it was kept: the service failed or died.
    pub(crate) log: Option<PathBuf>,
}

impl Service {
    /// Starts the supervisor: it starts the service with `settings`'
    /// command (with `TRACETAPE_MODE=replay`, `TRACETAPE_RECORD_DIR` and
    /// `TRACETAPE_CONFIG` set, and `detection`'s variables when given: the
    /// preload library's, then the processes that are the service noted in
    /// its pids) and a watchdog that stops it if this process is killed,
    /// or without a command only checks that the running one is ready,
    /// polling through `sender`.
    pub(crate) fn start(
        settings: &Settings,
        sender: Sender,
        detection: Option<(&[(&'static str, PathBuf)], SharedPids)>,
    ) -> io::Result<Self> {
        let log = match (&settings.command, &settings.service_log) {
            (Some(_), Some(path)) => Some(ServiceLog::create_at(path)?),
            (Some(_), None) => Some(ServiceLog::create()?),
            (None, _) => None,
        };
        let watchdog = match &settings.command {
            Some(_) => Some(Watchdog::start().map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!(
                        "failed to start the watchdog that stops the service if tracetape is \
                         killed: {err}"
                    ),
                )
            })?),
            None => None,
        };
        let mut env = vec![
            ("TRACETAPE_MODE", PathBuf::from("replay")),
            ("TRACETAPE_RECORD_DIR", settings.recordings.clone()),
        ];
        if let Some(config) = &settings.config_file {
            env.push(("TRACETAPE_CONFIG", config.clone()));
        }
        if !settings.match_headers.is_empty() {
            env.push((
                tracetape::replay::MATCH_HEADERS_VARIABLE,
                PathBuf::from(settings.match_headers.join(",")),
            ));
        }
        if !settings.origins.is_empty() {
            let pairs: Vec<String> = settings
                .origins
                .iter()
                .map(|(recorded, live)| format!("{recorded}={live}"))
                .collect();
            env.push((
                tracetape::replay::ORIGINS_VARIABLE,
                PathBuf::from(pairs.join(",")),
            ));
        }
        let port = settings.base_url.port_or_known_default().unwrap_or(80);
        let clock = Arc::new(AtomicBool::new(
            settings.command.is_some()
                && detection.as_ref().is_some_and(|(vars, _)| sets_clock(vars)),
        ));
        let detection = detection.map(|(vars, pids)| {
            env.extend(vars.iter().cloned());
            (pids, port)
        });
        let launch = Launch {
            command: settings.command.clone(),
            env,
            ready: settings.ready.clone(),
            startup_timeout: settings.startup_timeout,
            detection,
            clock: Arc::clone(&clock),
            watchdog,
        };
        let (status_tx, status) = watch::channel(Status {
            generation: 0,
            phase: Phase::Starting,
            deaths: Vec::new(),
        });
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(supervise(launch, sender, status_tx, stop_rx, log));
        Ok(Self {
            status,
            stop: Some(stop),
            task,
            clock,
        })
    }

    /// Whether each replayed request sees its recorded time (the replay
    /// clock, ARCHITECTURE.md "Replay clock"): the service was started with
    /// the preload library and its clock file, and no start of it ran
    /// without the library (a statically linked binary). Known once the
    /// service is ready; comparisons may then be strict about times.
    pub(crate) fn clock_controlled(&self) -> bool {
        self.clock.load(Ordering::Relaxed)
    }

    /// How the replaying tasks follow the service.
    pub(crate) fn liveness(&self) -> Liveness {
        Liveness(self.status.clone())
    }

    /// Stops the service (unless it was already running before) and says
    /// how its run went; its log is kept when `keep_log` (the run failed)
    /// or it was asked for.
    pub(crate) async fn stop(mut self, keep_log: bool) -> Stopped {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A supervisor that panicked killed its process when dropped.
        let mut log = (&mut self.task).await.unwrap_or_default();
        if let (true, Some(log)) = (keep_log, log.as_mut()) {
            log.keep();
        }
        let status = self.status.borrow();
        Stopped {
            restarts: status.deaths.len().min(MAX_RESTARTS),
            failure: match &status.phase {
                Phase::Failed(why) => Some(why.clone()),
                _ => None,
            },
            log: log
                .as_ref()
                .filter(|log| log.kept())
                .map(|log| log.path().to_owned()),
        }
    }
}

/// The supervisor: starts the service, waits for it, and starts it again
/// when it dies, until told to stop or out of restarts. Returns the log.
async fn supervise(
    launch: Launch,
    sender: Sender,
    status: watch::Sender<Status>,
    mut stop: oneshot::Receiver<()>,
    log: Option<ServiceLog>,
) -> Option<ServiceLog> {
    let set_phase = |phase: Phase| status.send_modify(|status| status.phase = phase);
    let (command, mut log) = match (launch.command.as_deref(), log) {
        (Some(command), Some(log)) => (command, log),
        (_, log) => {
            // Already running: check that it is ready, and wait for the end.
            let ready = wait_ready(&sender, &launch, None).await;
            set_phase(ready.map_or_else(Phase::Failed, |()| Phase::Ready));
            let _ = stop.await;
            return log;
        }
    };
    let env: Vec<(&str, &Path)> = launch
        .env
        .iter()
        .map(|(name, value)| (*name, value.as_path()))
        .collect();
    loop {
        let generation = status.borrow().generation;
        if let Some(who) = answering(sender.base()).await {
            // Another process would be replayed against, and judged.
            set_phase(Phase::Failed(format!(
                "{} already answers before the service is started: {who}; its answers would be \
                 judged instead of the build under test's. Stop it (a service an earlier replay \
                 left behind?), or replay against it with --no-start",
                sender.base()
            )));
            return Some(log);
        }
        let started = Process::spawn(
            command,
            &env,
            &log,
            generation + 1,
            launch.watchdog.as_ref(),
        );
        let mut process = match started {
            Ok(process) => process,
            Err(err) => {
                set_phase(Phase::Failed(format!(
                    "failed to start the service (sh -c {command:?}): {err}"
                )));
                return Some(log);
            }
        };
        let ready = tokio::select! {
            ready = wait_ready(&sender, &launch, Some(&mut process)) => ready,
            _ = &mut stop => {
                process.stop().await;
                set_phase(Phase::Stopped);
                return Some(log);
            }
        };
        if let Err(why) = ready {
            process.stop().await;
            let also = match answering(sender.base()).await {
                Some(who) => format!(
                    "; something else answers at {} (so it was not free to listen on): {who}",
                    sender.base()
                ),
                None => String::new(),
            };
            set_phase(Phase::Failed(format!("{why}{also}; {}", log.tail())));
            return Some(log);
        }
        if let Some((pids, port)) = &launch.detection {
            // Before any request is sent: their connections must be told.
            let identified = unpatched::identify(process.pgid(), *port, pids);
            if generation == 0 {
                for warning in identified.warnings {
                    let _ = writeln!(io::stderr(), "warning: {warning}");
                }
            }
            if identified.without_library
                && launch.clock.swap(false, Ordering::Relaxed)
                && generation > 0
            {
                let _ = writeln!(
                    io::stderr(),
                    "warning: clock: not controlled after all: the service's start {} runs \
                     without {LIBRARY}, so it reads real time",
                    generation + 1
                );
            }
        }
        set_phase(Phase::Ready);
        let exited = tokio::select! {
            exited = process.wait() => exited,
            _ = &mut stop => {
                process.stop().await;
                set_phase(Phase::Stopped);
                return Some(log);
            }
        };
        // Whatever it left running in its group goes too.
        process.stop().await;
        log.keep();
        let how = describe(&exited);
        if let Some(who) = answering(sender.base()).await {
            // What answered was not (or is no longer) the service started.
            let why = format!(
                "the service exited ({how}) while something else keeps answering at {}: {who}; \
                 its answers would be judged instead of the build under test's, so the replay \
                 stops; {}",
                sender.base(),
                log.tail()
            );
            status.send_modify(|status| {
                status.deaths.push(how);
                status.phase = Phase::Failed(why);
            });
            return Some(log);
        }
        let deaths = status.borrow().deaths.len() + 1;
        if deaths > MAX_RESTARTS {
            let why = format!(
                "the service exited {deaths} times ({how} the last time) and is not started \
                 again; {}",
                log.tail()
            );
            status.send_modify(|status| {
                status.deaths.push(how);
                status.phase = Phase::Failed(why);
            });
            return Some(log);
        }
        status.send_modify(|status| {
            status.deaths.push(how);
            status.generation += 1;
            status.phase = Phase::Starting;
        });
    }
}

/// Polls the readiness path until it answers as it should, the service's
/// process (if there is one) exits, or the startup timeout passes.
async fn wait_ready(
    sender: &Sender,
    launch: &Launch,
    process: Option<&mut Process>,
) -> Result<(), String> {
    let polling = poll_ready(sender, launch.ready.as_deref(), launch.startup_timeout);
    match process {
        Some(process) => tokio::select! {
            exited = process.wait() => Err(format!(
                "the service exited ({}) before it was ready",
                describe(&exited)
            )),
            ready = polling => ready,
        },
        None => polling.await,
    }
}

/// With a readiness path, a 2xx answer to a GET of it; without one, any
/// HTTP answer to a GET of `/`.
async fn poll_ready(sender: &Sender, ready: Option<&str>, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let path = ready.unwrap_or("/");
    let url = super::shown::url(&sender.url(path)?);
    loop {
        let last = match sender.probe(path).await {
            Ok(status) if ready.is_none() || status.is_success() => return Ok(()),
            Ok(status) => format!("GET {url} answered {status}"),
            // Waiting will not change the certificate.
            Err(ProbeError::Certificate(why)) => return Err(format!("GET {url}: {why}")),
            Err(err) => format!("GET {url}: {err}"),
        };
        if Instant::now() + PROBE_INTERVAL > deadline {
            return Err(format!(
                "the service was not ready within {} (startup_timeout); the last try: {last}",
                humane(timeout)
            ));
        }
        // An external process: polling is all there is.
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Who accepts connections at `base`'s host and port, when something
/// does: the processes `/proc` shows listening on the port, or that they
/// cannot be seen.
async fn answering(base: &Url) -> Option<String> {
    let host = base.host_str()?;
    let port = base.port_or_known_default()?;
    let connect = tokio::net::TcpStream::connect(format!("{host}:{port}"));
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(_)) => Some(listeners(port)),
        _ => None,
    }
}

/// The processes listening on `port`, as `pid 42 (orders)`.
fn listeners(port: u16) -> String {
    let pids = procfs::listening(port);
    if pids.is_empty() {
        return "a process that cannot be seen from here (another user's, or in another network \
                namespace, such as a container's)"
            .to_owned();
    }
    pids.iter()
        .map(|&pid| format!("pid {pid} ({})", procfs::command_name(pid)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `exit status: 3`, `signal: 9 (SIGKILL)`.
fn describe(exited: &io::Result<ExitStatus>) -> String {
    match exited {
        Ok(status) => status.to_string(),
        Err(err) => format!("unknown status: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deaths_say_what_came_after() {
        let restarted = Death {
            status: "exit status: 3".to_owned(),
            restarted: true,
        };
        assert_eq!(
            restarted.in_flight(),
            "the service exited (exit status: 3) while this request was in flight; restarted"
        );
        let given_up = Death {
            restarted: false,
            ..restarted
        };
        assert!(
            given_up
                .in_flight()
                .ends_with("; not restarted: it died 4 times")
        );
    }

    #[tokio::test]
    async fn liveness_follows_the_supervisor() {
        let (tx, rx) = watch::channel(Status {
            generation: 0,
            phase: Phase::Starting,
            deaths: Vec::new(),
        });
        let mut liveness = Liveness(rx);
        tx.send_modify(|status| status.phase = Phase::Ready);
        assert_eq!(liveness.ready().await, Ok(0));
        let mut watcher = liveness.clone();
        let died = tokio::spawn(async move { watcher.died(0).await });
        tx.send_modify(|status| {
            status.deaths.push("exit status: 3".to_owned());
            status.generation = 1;
            status.phase = Phase::Starting;
        });
        assert_eq!(
            died.await.ok(),
            Some(Death {
                status: "exit status: 3".to_owned(),
                restarted: true
            })
        );
        tx.send_modify(|status| status.phase = Phase::Failed("gone".to_owned()));
        assert_eq!(liveness.ready().await, Err("gone".to_owned()));
    }
}
