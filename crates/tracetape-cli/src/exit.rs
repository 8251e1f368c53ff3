//! Exit codes, and how failures are shown to the user.

use std::io::{self, Write as _};
use std::process::ExitCode;

/// The command did what was asked.
pub(crate) const SUCCESS: u8 = 0;
/// The command ran and failed, e.g. the store could not be read or the
/// trace does not exist.
pub(crate) const FAILURE: u8 = 1;
/// The command could not run as asked: bad arguments (clap also exits with
/// 2 for those) or no async runtime.
pub(crate) const USAGE: u8 = 2;
/// `tracetape replay` stopped by Ctrl-C or SIGTERM (128 + SIGINT, as
/// shells report an interrupted command).
pub(crate) const INTERRUPTED: u8 = 130;

/// An expected failure, with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit with [`FAILURE`].
    Failed(anyhow::Error),
    /// Exit with [`USAGE`].
    Usage(anyhow::Error),
    /// Exit with this code; the output has already said why (`tracetape
    /// replay`'s report).
    Reported(u8),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Self::Failed(anyhow::Error::new(err).context("failed to write output"))
    }
}

/// Prints a failure with its chain of causes and turns it into the exit
/// code. A closed standard output (`tracetape list | head`) is success.
pub(crate) fn report(result: Result<(), Failure>) -> ExitCode {
    let (code, err) = match result {
        Ok(()) => return ExitCode::from(SUCCESS),
        Err(Failure::Failed(err)) => (FAILURE, err),
        Err(Failure::Usage(err)) => (USAGE, err),
        Err(Failure::Reported(code)) => return ExitCode::from(code),
    };
    if is_broken_pipe(&err) {
        return ExitCode::from(SUCCESS);
    }
    // If standard error is gone too there is nobody left to tell.
    let _ = write!(io::stderr().lock(), "{}", render(&err));
    ExitCode::from(code)
}

fn render(err: &anyhow::Error) -> String {
    let mut text = format!("error: {err}\n");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("  caused by: {cause}\n"));
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_listed_under_the_error() {
        let err = anyhow::Error::new(io::Error::other("permission denied"))
            .context("failed to read trace store .tracetape/traces");
        assert_eq!(
            render(&err),
            "error: failed to read trace store .tracetape/traces\n  caused by: permission denied\n"
        );
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let failure = Failure::from(io::Error::from(io::ErrorKind::BrokenPipe));
        let Failure::Failed(err) = failure else {
            panic!("output errors are failures");
        };
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
