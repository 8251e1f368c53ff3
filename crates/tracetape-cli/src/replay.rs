//! `tracetape replay`: starts the service in replay mode
//! (`replay/service.rs`, `replay/process.rs`), sends it each recorded
//! request of one service (`replay/select.rs`, `replay/send.rs`) with its
//! outbound calls answered from the recording, judges each response against
//! the recorded one (`replay/outcome.rs`), and reports
//! (`replay/report.rs`, `replay/progress.rs`). The settings come from the
//! `[replay]` table of `tracetape.toml` and the flags
//! (`replay/config.rs`); `replay/run.rs` drives it all. A service it
//! starts runs with the preload library (`replay/preload.rs`) and is
//! stopped by a watchdog process if the replay is killed
//! (`replay/watchdog.rs`, `tracetape` [`watchdog::SUBCOMMAND`]), and the
//! connections it reports are read, filtered and attributed in
//! `replay/unpatched.rs` (`replay/procfs.rs` tells the service's processes).
//! Headers and query values given for the replay (`replay/headers.rs`,
//! `replay/query.rs`) replace the recorded ones. `--learn` (`replay/learn.rs`) replays twice and proposes ignore
//! rules; `--accept` hands over to `tracetape accept` (`crate::accept`).
//! The arguments are in `replay/args.rs`. `tracetape demo` replays through the same driver: [`Settings`],
//! [`replay`], [`write`].

mod args;
mod config;
mod embedded;
mod headers;
mod learn;
mod order;
mod outcome;
mod preload;
mod process;
mod procfs;
mod progress;
mod query;
mod reflection;
mod report;
mod run;
mod select;
mod send;
mod service;
mod shown;
mod unpatched;
pub(crate) mod watchdog;

pub(crate) use args::ReplayArgs;
pub(crate) use config::Settings;
pub(crate) use outcome::{Outcome, Replayed};
pub(crate) use report::{Format, Report, Style, write};
pub(crate) use run::{
    Responses, ran_to_end, replay, replay_selection, resolve, run, selection, write_report,
};
#[cfg(test)]
pub(crate) use {
    outcome::{Judging, judge},
    select::Replayable,
    send::Reply,
};
