//! The `tracetape` command: list and show the recordings and the traces
//! that tracetape stored locally, and replay the recordings against a new
//! build of the service.
#![forbid(unsafe_code)]

mod accept;
mod cli;
mod demo;
mod exit;
mod format;
mod list;
mod recordings;
mod replay;
mod show;
mod stores;
mod table;
#[cfg(test)]
mod testing;
mod tree;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    exit::report(cli::run(args))
}
