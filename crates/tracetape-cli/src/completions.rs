//! `tracetape completions SHELL`: the shell's completion script, made by
//! clap_complete from the command line's own description.

use std::io::Write;

use clap::{Args, Command};
use clap_complete::Shell;

use crate::exit::Failure;

/// Arguments of `tracetape completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// Writes the script completing `command` for the shell `args` names.
pub(crate) fn run(
    args: &CompletionsArgs,
    mut command: Command,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, out);
    Ok(())
}
