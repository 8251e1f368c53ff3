//! The `tracetape` command: list and show the traces in the local store.
#![forbid(unsafe_code)]

mod cli;
mod demo;
mod exit;
mod format;
mod list;
mod show;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    exit::report(cli::run(args))
}
