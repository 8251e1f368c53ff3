//! The `tracetape` command: list and show the recordings and the traces
//! that tracetape stored locally, and replay the recordings against a new
//! build of the service.
#![forbid(unsafe_code)]

mod accept;
mod cli;
mod color;
mod completions;
mod demo;
mod exit;
mod format;
mod init;
mod list;
mod output;
mod record;
mod recordings;
mod replay;
mod show;
mod span_store;
mod stores;
mod table;
#[cfg(test)]
mod testing;
mod tree;
mod units;
mod view;

fn main() -> std::process::ExitCode {
    if let Some(watched) = cli::watchdog() {
        return exit::report(watched);
    }
    let args = cli::parse();
    exit::report(cli::run(args))
}
