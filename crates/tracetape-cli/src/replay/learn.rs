//! `tracetape replay --learn`: the unchanged build replayed twice, the
//! service started afresh for each run, and each recording's two
//! responses compared (`learn/proposals.rs`); what differs between them is
//! noise, proposed as ignore rules, and with `--write` added to
//! `tracetape.toml` (`learn/config_edit.rs`).

mod config_edit;
mod proposals;

use std::io::{self, Write as _};
use std::path::PathBuf;

use tracetape::record::CONFIG_FILE;

use super::args::ReplayArgs;
use super::report::Report;
use super::run::{Responses, ran_to_end, replay_selection, resolve, selection};
use crate::exit::Failure;
use crate::table::{self, Align, Column};
use proposals::Learnt;

/// Values shown in the examples are cut after this many characters.
const MAX_EXAMPLE: usize = 40;

const COLUMNS: [Column; 3] = [
    ("PATH", Align::Left),
    ("RECORDINGS", Align::Right),
    ("RUN 1 / RUN 2", Align::Left),
];

/// Replays twice, prints the proposals, and writes them when asked.
pub(crate) async fn run(args: &ReplayArgs) -> Result<(), Failure> {
    let settings = resolve(args)?;
    let mut runs = Vec::with_capacity(2);
    for run in 1..=2 {
        let report = replay_selection(&settings, selection(&settings)?, &Responses::Kept).await?;
        ran_to_end(&report)?;
        note_run(run, &report)?;
        runs.push(report);
    }
    let learnt = proposals::learn(&runs[0].results, &runs[1].results, &settings.compare);
    let mut out = io::BufWriter::new(io::stdout().lock());
    write_learnt(&learnt, &runs[0], &mut out)?;
    if learnt.proposals.is_empty() {
        out.flush()?;
        return Ok(());
    }
    let file = settings
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(CONFIG_FILE));
    if args.write {
        let rules: Vec<String> = learnt.proposals.iter().map(|p| p.path.clone()).collect();
        let added = config_edit::add(&file, &rules).map_err(Failure::Failed)?;
        writeln!(
            out,
            "\n{} ignore rule(s) added to `ignore` under [replay.compare] of {}{}",
            added.rules.len(),
            file.display(),
            if added.created { " (created)" } else { "" }
        )?;
    } else {
        writeln!(
            out,
            "\nto add them to `ignore` under [replay.compare] of {}: run again with --write",
            file.display()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// `note: run 1: 3 passed, ...` on standard error, and where the
/// service's log was kept, if it was.
fn note_run(run: usize, report: &Report) -> io::Result<()> {
    let totals = report.summary().totals;
    let mut notes = io::stderr().lock();
    writeln!(
        notes,
        "note: run {run} of 2: {} passed, {} deviated, {} mock missing, {} errored",
        totals.passed, totals.deviated, totals.mock_missing, totals.errored
    )?;
    if let Some(log) = &report.service_log {
        writeln!(
            notes,
            "note: run {run} of 2: the service's log is in {}",
            log.display()
        )?;
    }
    Ok(())
}

/// The proposals as a table, then what no rule can cover.
fn write_learnt(learnt: &Learnt, first: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(
        out,
        "{} recording(s) of {} replayed twice: {} value path(s) differ between the runs{}",
        learnt.compared,
        first.service,
        learnt.proposals.len(),
        if learnt.not_compared > 0 {
            format!(
                " ({} recording(s) without a response in a run not compared)",
                learnt.not_compared
            )
        } else {
            String::new()
        }
    )?;
    if !learnt.proposals.is_empty() {
        writeln!(out)?;
        let rows: Vec<[String; 3]> = learnt
            .proposals
            .iter()
            .map(|proposal| {
                let (one, two) = &proposal.example;
                [
                    proposal.path.clone(),
                    proposal.recordings.to_string(),
                    format!(
                        "{} / {}",
                        crate::format::clean(one, MAX_EXAMPLE),
                        crate::format::clean(two, MAX_EXAMPLE)
                    ),
                ]
            })
            .collect();
        table::write(&COLUMNS, &rows, out)?;
    }
    for other in &learnt.unignorable {
        writeln!(
            out,
            "\nalso differs between the runs, in {} recording(s), where no ignore rule reaches: \
             {} ({})",
            other.recordings,
            other.what,
            crate::format::clean(&other.example, 2 * MAX_EXAMPLE)
        )?;
    }
    Ok(())
}
