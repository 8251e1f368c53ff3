//! The `tracetape` command: list and show the recordings and the traces
//! that tracetape stored locally.
#![forbid(unsafe_code)]

mod cli;
mod demo;
mod exit;
mod format;
mod list;
mod recordings;
mod show;
mod table;
mod tree;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    exit::report(cli::run(args))
}
