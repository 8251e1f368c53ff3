//! One `tracetape replay` run: the settings, the recordings, the service
//! started and made ready, the requests sent a few at a time, the service
//! stopped, the report written, and the exit code.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write as _};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracetape::replay::compare::CompareOptions;

use super::config::Settings;
use super::order::Schedule;
use super::outcome::{Replayed, judge};
use super::preload::{Detection, NOT_STARTED};
use super::progress::Progress;
use super::report::{self, Format, Report, Style};
use super::select::{self, Replayable};
use super::send::{SendError, Sender};
use super::service::{Liveness, Service};
use super::unpatched::{Candidate, SharedPids, Watch};
use crate::cli::ReplayArgs;
use crate::exit::{FAILURE, Failure, INTERRUPTED};

/// After a request failed on its connection, how long to wait for news
/// that the service died, which can come a moment after.
const DEATH_NEWS: Duration = Duration::from_secs(2);

pub(crate) async fn run(args: ReplayArgs) -> Result<(), Failure> {
    let settings = Settings::resolve(&args, std::env::var_os("TRACETAPE_RECORD_DIR"))
        .map_err(Failure::Usage)?;
    if settings.command.is_none() {
        // (`replay` says why detection is off only for a service it
        // starts: the demo replays one serving in its own process.)
        writeln!(
            io::stderr(),
            "note: unpatched-dependency detection is off: {NOT_STARTED}"
        )?;
    }
    let report = replay(&settings).await?;
    write_report(&report, args.format, args.output.as_deref())?;
    ran_to_end(&report)?;
    if report.summary().totals.not_passed() > 0
        || (report.fail_on_unpatched && !report.unpatched.findings.is_empty())
    {
        Err(Failure::Reported(FAILURE))
    } else {
        Ok(())
    }
}

/// Replays what `settings` select: starts the service (unless it is
/// already running), sends it the recorded requests, stops it, and says
/// what became of each; notes go to standard error. An error when the
/// replay could not start (nothing to replay, the service never became
/// ready) or was interrupted before it did.
pub(crate) async fn replay(settings: &Settings) -> Result<Report, Failure> {
    let selection = select::select(settings, &mut io::stderr()).map_err(Failure::Usage)?;
    let sender = Sender::new(settings.base_url.clone(), settings.request_timeout)
        .map_err(Failure::Usage)?
        .with_headers(&settings.headers);
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
    .context("failed to create the service's log")
    .map_err(Failure::Usage)?;
    let mut interrupt = pin!(interrupted());

    let mut liveness = service.liveness();
    let first = tokio::select! {
        ready = liveness.ready() => ready,
        () = &mut interrupt => {
            service.stop().await;
            writeln!(io::stderr(), "interrupted: the service was stopped before anything was replayed")?;
            return Err(Failure::Reported(INTERRUPTED));
        }
    };
    if let Err(why) = first {
        let stopped = service.stop().await;
        let why = stopped.failure.unwrap_or(why);
        return Err(Failure::Usage(anyhow!(why)));
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
    )
    .await?;
    let duration = started.elapsed();
    let stopped = service.stop().await;
    let unpatched = watch.map(Watch::finish).unwrap_or_default();
    drop(detection);

    Ok(Report {
        service: selection.service,
        base_url: sender.base().to_string(),
        recordings: settings.recordings.clone(),
        selected: replayed.selected,
        results: replayed.results,
        skipped: selection.skipped,
        duration,
        interrupted: replayed.interrupted,
        restarts: stopped.restarts,
        service_failure: stopped.failure,
        service_log: stopped.log,
        unpatched,
        fail_on_unpatched: settings.fail_on_unpatched,
    })
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
}

/// Replays `recordings` (sorted by recorded start), at most `concurrency`
/// at a time and in the order `settings.order` asks for (`order.rs`),
/// until all are done or `interrupt` comes (then what was in flight is
/// dropped).
async fn replay_all(
    recordings: Vec<Replayable>,
    settings: &Settings,
    sender: &Sender,
    service: &Service,
    interrupt: &mut Pin<&mut impl Future<Output = ()>>,
    watch: &mut Option<Watch>,
) -> Result<Replays, Failure> {
    let total = recordings.len();
    let schedule = Schedule::new(settings.order, recordings.iter().map(Replayable::inbound));
    let recordings: Vec<Arc<Replayable>> = recordings.into_iter().map(Arc::new).collect();
    let compare = Arc::new(settings.compare.clone());
    let mut progress = Progress::new(total);
    let mut slots: Vec<Option<Replayed>> = (0..total).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut by_task = HashMap::new();
    let mut next = 0;
    let mut interrupted = false;
    loop {
        while next < total
            && tasks.len() < settings.concurrency
            && schedule.may_start(next, by_task.values().copied())
        {
            let task = replay_one(
                Arc::clone(&recordings[next]),
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
        };
        let (id, replayed) = match joined {
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
        if let Some(index) = done {
            slots[index] = Some(replayed);
        }
        progress.advance();
    }
    progress.finish();
    Ok(Replays {
        selected: total,
        results: slots.into_iter().flatten().collect(),
        interrupted,
    })
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
    sender: Sender,
    mut liveness: Liveness,
    compare: Arc<CompareOptions>,
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
        reply = sender.replay(&replayable) => match reply {
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

/// Writes the report to `output`, or to standard output (in colour when
/// it is a terminal and `NO_COLOR` is unset).
fn write_report(
    report: &Report,
    format: Format,
    output: Option<&std::path::Path>,
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
            report::write(report, format, Style::for_stdout(), &mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}
