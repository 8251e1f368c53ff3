//! One `tracetape replay` run: the settings, the recordings, the service
//! started and made ready, the requests sent a few at a time, the service
//! stopped, the report written, and the exit code.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write as _};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracetape::replay::{ReplayId, ReplayStatus};
use tracetape_compare::CompareOptions;

use super::args::ReplayArgs;
use super::config::Settings;
use super::order::{Group, Schedule};
use super::outcome::{CallDeviations, Judging, Outcome, Replayed, judge, verdict};
use super::preload::{CLOCK_CONTROLLED, Detection, NOT_STARTED};
use super::progress::Progress;
use super::report::{self, Background, Format, Report, Style};
use super::select::{self, Replayable};
use super::send::{SendError, Sender};
use super::service::{Liveness, Service};
use super::unpatched::{Candidate, SharedPids, Watch};
use crate::exit::{FAILURE, Failure, INTERRUPTED};

/// After a request failed on its connection, how long to wait for news
/// that the service died, which can come a moment after.
const DEATH_NEWS: Duration = Duration::from_secs(2);
/// What a run whose clock is not controlled compares differently.
const UNCONTROLLED: &str = "; timestamps, dates and epochs of the same kind on both sides are forgiven whatever their values";
/// How often the service is asked whether the replayed requests' work
/// after their responses has ended.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// `tracetape replay`; `style` colours a text report on standard output.
pub(crate) async fn run(args: ReplayArgs, style: Style) -> Result<(), Failure> {
    if args.learn {
        return super::learn::run(&args).await;
    }
    if !args.accept.is_empty() {
        return crate::accept::after_replay(&args, style).await;
    }
    let settings = resolve(&args)?;
    let report = replay(&settings).await?;
    write_report(&report, args.format, args.output.as_deref(), style)?;
    ran_to_end(&report)?;
    if report.passed() {
        Ok(())
    } else {
        Err(Failure::Reported(FAILURE))
    }
}

/// The settings `args` give (with `TRACETAPE_RECORD_DIR`), with a note
/// when detection is off because nothing is started.
pub(crate) fn resolve(args: &ReplayArgs) -> Result<Settings, Failure> {
    let settings = Settings::resolve(args, std::env::var_os("TRACETAPE_RECORD_DIR"))
        .map_err(Failure::Usage)?;
    if settings.command.is_none() {
        // (`replay` says why detection is off only for a service it
        // starts: the demo replays one serving in its own process.)
        writeln!(
            io::stderr(),
            "note: unpatched-dependency detection is off: {NOT_STARTED}"
        )?;
        writeln!(
            io::stderr(),
            "clock: not controlled (--no-start: the service reads real time){UNCONTROLLED}"
        )?;
    }
    Ok(settings)
}

/// Whether each replay's result keeps the response the service gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Responses {
    /// Dropped once judged: a plain replay needs only the verdict, and
    /// 10^5 whole bodies would not fit.
    Dropped,
    /// Kept in [`Replayed::response`], for `--learn`.
    Kept,
    /// Kept for these recordings only: those `accept` may rewrite.
    KeptFor(HashSet<ReplayId>),
}

impl Responses {
    fn keeps(&self, id: ReplayId) -> bool {
        match self {
            Self::Dropped => false,
            Self::Kept => true,
            Self::KeptFor(ids) => ids.contains(&id),
        }
    }
}

/// The recordings `settings` select, notes on standard error; an error
/// when there is nothing to replay.
pub(crate) fn selection(settings: &Settings) -> Result<select::Selection, Failure> {
    select::select(settings, &mut io::stderr()).map_err(Failure::Usage)
}

/// Replays what `settings` select: starts the service (unless it is
/// already running), sends it the recorded requests, stops it, and says
/// what became of each; notes go to standard error. An error when the
/// replay could not start (nothing to replay, the service never became
/// ready) or was interrupted before it did.
pub(crate) async fn replay(settings: &Settings) -> Result<Report, Failure> {
    replay_selection(settings, selection(settings)?, &Responses::Dropped).await
}

/// [`replay`] of `selection`, keeping or dropping each response as
/// `responses` says.
pub(crate) async fn replay_selection(
    settings: &Settings,
    selection: select::Selection,
    responses: &Responses,
) -> Result<Report, Failure> {
    let sender = Sender::new(
        settings.base_url.clone(),
        settings.request_timeout,
        settings.insecure,
    )
    .map_err(Failure::Usage)?
    .with_headers(&settings.headers)
    .with_query(&settings.query);
    let detection = Detection::prepare(settings, |name| std::env::var(name).ok())
        .context("failed to create the unpatched-dependency report's directory")
        .map_err(Failure::Usage)?;
    let detection = match detection {
        Ok(detection) => Some(detection),
        Err(why) => {
            if settings.command.is_some() {
                writeln!(
                    io::stderr(),
                    "note: unpatched-dependency detection is off: {why}"
                )?;
            }
            None
        }
    };
    let pids = SharedPids::default();
    let mut watch = detection
        .as_ref()
        .map(|detection| Watch::new(detection.report.clone(), SharedPids::clone(&pids)));
    let started = Instant::now();
    let service = Service::start(
        settings,
        sender.clone(),
        detection
            .as_ref()
            .map(|detection| (detection.env.as_slice(), SharedPids::clone(&pids))),
    )
    .context("failed to prepare the service's start (its log, the watchdog)")
    .map_err(Failure::Usage)?;
    let mut interrupt = pin!(interrupted());

    let mut liveness = service.liveness();
    let first = tokio::select! {
        ready = liveness.ready() => ready,
        () = &mut interrupt => {
            service.stop(true).await;
            writeln!(io::stderr(), "interrupted: the service was stopped before anything was replayed")?;
            return Err(Failure::Reported(INTERRUPTED));
        }
    };
    if let Err(why) = first {
        let stopped = service.stop(true).await;
        let why = stopped.failure.unwrap_or(why);
        return Err(Failure::Usage(anyhow!(why)));
    }
    if settings.command.is_some() {
        // Once ready, when a start without the library would be known.
        // (The demo's services, replayed in-process, say nothing.)
        if service.clock_controlled() {
            writeln!(io::stderr(), "{CLOCK_CONTROLLED}")?;
        } else if detection.is_some() {
            writeln!(
                io::stderr(),
                "clock: not controlled (the service runs without the preload library: it reads real \
                 time){UNCONTROLLED}"
            )?;
        } else {
            writeln!(
                io::stderr(),
                "clock: not controlled (no preload library: the service reads real time){UNCONTROLLED}"
            )?;
        }
    }
    // What the service connected to while starting: no request's.
    if let Some(watch) = &mut watch {
        watch.collect(&[]);
    }

    let replayed = replay_all(
        selection.recordings,
        settings,
        &sender,
        &service,
        &mut interrupt,
        &mut watch,
        responses,
    )
    .await?;
    if let Some(why) = replayed.not_replaying {
        // No verdict about a service that is not replaying.
        let stopped = service.stop(true).await;
        let log = stopped
            .log
            .map(|log| format!("; its log: {}", log.display()))
            .unwrap_or_default();
        return Err(Failure::Usage(anyhow!("{why}{log}")));
    }
    let mut results = replayed.results;
    let (background, background_unknown) = if replayed.interrupted {
        (None, Some("the replay was interrupted".to_owned()))
    } else {
        match settle(&sender, settings).await {
            Ok(status) => (Some(late_calls(status, &mut results, settings)), None),
            Err(why) => (None, Some(why)),
        }
    };
    let duration = started.elapsed();
    let failed = results
        .iter()
        .any(|result| result.outcome != Outcome::Passed)
        || background.as_ref().is_some_and(Background::fails);
    let stopped = service.stop(failed).await;
    let unpatched = watch.map(Watch::finish).unwrap_or_default();
    drop(detection);

    Ok(Report {
        service: selection.service,
        base_url: super::shown::url(sender.base()),
        recordings: settings.recordings.clone(),
        selected: replayed.selected,
        results,
        skipped: selection.skipped,
        duration,
        interrupted: replayed.interrupted,
        restarts: stopped.restarts,
        service_failure: stopped.failure,
        service_log: stopped.log,
        unpatched,
        fail_on_unpatched: settings.fail_on_unpatched,
        background,
        background_unknown,
    })
}

/// The replay's status once the replayed requests' work after their
/// responses has ended, or the request timeout has passed.
async fn settle(sender: &Sender, settings: &Settings) -> Result<ReplayStatus, String> {
    let deadline = Instant::now() + settings.request_timeout;
    loop {
        let status = sender.status().await?;
        if status.pending == 0 || Instant::now() >= deadline {
            return Ok(status);
        }
        // Work the service runs on its own: nothing to wait on but time.
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// Puts what the replayed requests did after their responses into
/// `results` (their logs as they ended, and the verdicts again), and
/// returns the rest of `status`.
fn late_calls(status: ReplayStatus, results: &mut [Replayed], settings: &Settings) -> Background {
    let by_id: HashMap<ReplayId, usize> = results
        .iter()
        .enumerate()
        .map(|(at, result)| (result.id, at))
        .collect();
    for log in status.late {
        let at = log
            .recording
            .parse::<ReplayId>()
            .ok()
            .and_then(|id| by_id.get(&id));
        let Some(result) = at.and_then(|&at| results.get_mut(at)) else {
            continue;
        };
        result.late_calls = log.calls.len().saturating_sub(result.calls.len());
        result.calls = log.calls;
        result.unused = log.unused;
        result.omitted_calls = log.omitted_calls;
        result.omitted_unmatched = log.omitted_unmatched;
        result.outcome = verdict(result);
    }
    Background {
        log: status.background,
        pending: status.pending,
        late_omitted: status.late_omitted,
        calls_fail: settings.call_deviations == CallDeviations::Fail,
    }
}

/// An error when the replay of `report` did not run to its end: it was
/// interrupted (said on standard error), or the service stopped answering
/// for good.
pub(crate) fn ran_to_end(report: &Report) -> Result<(), Failure> {
    if report.interrupted {
        writeln!(
            io::stderr(),
            "interrupted: {} of {} recordings were replayed; the service was stopped",
            report.results.len(),
            report.selected
        )?;
        Err(Failure::Reported(INTERRUPTED))
    } else if let Some(failure) = &report.service_failure {
        Err(Failure::Usage(anyhow!(
            "the replay could not run to its end: {failure}"
        )))
    } else {
        Ok(())
    }
}

/// The recordings replayed, in their order.
struct Replays {
    /// How many there were to replay.
    selected: usize,
    results: Vec<Replayed>,
    /// Stopped before the end.
    interrupted: bool,
    /// Stopped because the service answered a replayed request without
    /// the replay log: why.
    not_replaying: Option<String>,
}

/// Replays `recordings` (sorted by recorded end), as many at a time and
/// in the order `settings.order` and `settings.concurrency` allow (`order.rs`),
/// until all are done or `interrupt` comes (then what was in flight is
/// dropped).
async fn replay_all(
    recordings: Vec<Replayable>,
    settings: &Settings,
    sender: &Sender,
    service: &Service,
    interrupt: &mut Pin<&mut impl Future<Output = ()>>,
    watch: &mut Option<Watch>,
    responses: &Responses,
) -> Result<Replays, Failure> {
    let total = recordings.len();
    let schedule = Schedule::new(
        settings.order,
        recordings.iter().map(Replayable::inbound),
        settings.concurrency,
    );
    let recordings: Vec<Arc<Replayable>> = recordings.into_iter().map(Arc::new).collect();
    let compare = Arc::new(Judging {
        compare: compare_options(settings, service, sender).await?,
        call_deviations: settings.call_deviations,
    });
    let mut progress = Progress::new(total);
    let mut slots: Vec<Option<Replayed>> = (0..total).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut by_task = HashMap::new();
    let mut next = 0;
    let mut interrupted = false;
    let mut not_replaying = None;
    loop {
        while next < total && schedule.may_start(next, by_task.values().copied()) {
            let task = replay_one(
                Arc::clone(&recordings[next]),
                schedule.group(next),
                sender.clone(),
                service.liveness(),
                Arc::clone(&compare),
            );
            by_task.insert(tasks.spawn(task).id(), next);
            next += 1;
        }
        let joined = tokio::select! {
            biased;
            () = &mut *interrupt => {
                tasks.abort_all();
                interrupted = true;
                // What the requests cut off made so far is theirs.
                if let Some(watch) = watch.as_mut() {
                    let during: Vec<Candidate> = by_task
                        .values()
                        .map(|&index| candidate(&recordings[index]))
                        .collect();
                    watch.collect(&during);
                }
                break;
            }
            joined = tasks.join_next_with_id() => joined,
            () = progress.tick() => continue,
        };
        let (id, mut replayed) = match joined {
            None => break,
            Some(Ok((id, replayed))) => (id, replayed),
            Some(Err(err)) => {
                // A panic: a bug, but only this recording's.
                let Some(&index) = by_task.get(&err.id()) else {
                    return Err(Failure::Failed(anyhow!("a replay task failed: {err}")));
                };
                let why = format!("the replay of this recording failed: {err}");
                let replayed = judge(&recordings[index], Err(why), &compare, Duration::ZERO);
                (err.id(), replayed)
            }
        };
        if replayed.not_replaying {
            tasks.abort_all();
            not_replaying = Some(format!(
                "the service answered {} (recording {}) as a service not replaying would, so no \
                 verdict is given: {}",
                replayed.request(),
                replayed.file.display(),
                replayed.error.as_deref().unwrap_or_default()
            ));
            break;
        }
        if !responses.keeps(replayed.id) {
            replayed.response = None;
        }
        let done = by_task.remove(&id);
        if let Some(watch) = watch.as_mut() {
            if let (Some(index), Some(polls)) = (done, &replayed.polls) {
                watch.handled(candidate(&recordings[index]), polls.clone());
            }
            // The requests in flight since the last read: this one and
            // those still running.
            let during: Vec<Candidate> = done
                .iter()
                .chain(by_task.values())
                .map(|&index| candidate(&recordings[index]))
                .collect();
            watch.collect(&during);
        }
        progress.advance(replayed.outcome == Outcome::Passed);
        if let Some(index) = done {
            slots[index] = Some(replayed);
        }
    }
    progress.finish();
    Ok(Replays {
        selected: total,
        results: slots.into_iter().flatten().collect(),
        interrupted,
        not_replaying,
    })
}

/// How the run's responses are compared: the settings' options, made
/// strict about times when the service runs on the replay clock (each
/// request sees its recorded time, so values derived from "now" come out
/// as recorded), and with the gRPC service's descriptors asked of it
/// over reflection when `grpc_reflection` says so (a service that does
/// not answer is noted, and compared by field number). Called once the
/// service is ready, when both are known.
async fn compare_options(
    settings: &Settings,
    service: &Service,
    sender: &Sender,
) -> Result<CompareOptions, Failure> {
    let mut options = settings.compare.clone();
    if !service.clock_controlled() {
        // Values derived from "now" come out as today's: timestamps and
        // dates of the same kind on both sides are forgiven whatever
        // their values (said at start).
        options.time_window = None;
    }
    if options.grpc_reflection && options.grpc_descriptors.is_none() {
        match super::reflection::descriptors(sender.base().as_str()).await {
            Ok(descriptors) => options.grpc_descriptors = Some(descriptors),
            Err(why) => writeln!(
                io::stderr(),
                "note: grpc_reflection: {why}; gRPC messages are compared by field number"
            )?,
        }
    }
    Ok(options)
}

/// `replayable` as a request an unpatched connection may belong to.
fn candidate(replayable: &Replayable) -> Candidate {
    let (method, route) = replayable.method_and_route();
    Candidate {
        id: replayable.id,
        request: format!("{method} {route}"),
    }
}

/// Resolves at the first Ctrl-C (SIGINT) or SIGTERM; never, if neither
/// can be listened for.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = terminate => {}
        () = interrupt => {}
    }
}

/// Replays one recording once the service is ready, and judges the reply.
async fn replay_one(
    replayable: Arc<Replayable>,
    group: Option<Group>,
    sender: Sender,
    mut liveness: Liveness,
    compare: Arc<Judging>,
) -> Replayed {
    let generation = match liveness.ready().await {
        Ok(generation) => generation,
        Err(why) => {
            let why = format!("not sent: {why}");
            return judge(&replayable, Err(why), &compare, Duration::ZERO);
        }
    };
    let started = Instant::now();
    let mut watcher = liveness.clone();
    let reply = tokio::select! {
        reply = sender.replay(&replayable, group) => match reply {
            Ok(reply) => Ok(reply),
            Err(err @ SendError::Transport(_)) => {
                // Did the connection break because the service died?
                match tokio::time::timeout(DEATH_NEWS, liveness.died(generation)).await {
                    Ok(death) => Err(death.in_flight()),
                    Err(_) => Err(err.to_string()),
                }
            }
            Err(err) => Err(err.to_string()),
        },
        death = watcher.died(generation) => Err(death.in_flight()),
    };
    judge(&replayable, reply, &compare, started.elapsed())
}

/// Writes the report to `output`, or to standard output (the text one
/// coloured as `style` says; a file never is).
pub(crate) fn write_report(
    report: &Report,
    format: Format,
    output: Option<&std::path::Path>,
    style: Style,
) -> Result<(), Failure> {
    match output {
        Some(path) => {
            let mut file = File::create(path)
                .map(std::io::BufWriter::new)
                .with_context(|| format!("failed to create the report {}", path.display()))
                .map_err(Failure::Failed)?;
            report::write(report, format, Style::PLAIN, &mut file)
                .and_then(|()| file.flush())
                .with_context(|| format!("failed to write the report {}", path.display()))
                .map_err(Failure::Failed)?;
            let totals = report.summary().totals;
            writeln!(
                io::stderr(),
                "report written to {}: {} passed, {} deviated, {} mock missing, {} errored",
                path.display(),
                totals.passed,
                totals.deviated,
                totals.mock_missing,
                totals.errored
            )?;
            Ok(())
        }
        None => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            report::write(report, format, style, &mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}
