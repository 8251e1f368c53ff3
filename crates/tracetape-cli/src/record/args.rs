//! The arguments of `tracetape record`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

/// Arguments of `tracetape record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The configuration file the service reads (passed on as
    /// TRACETAPE_CONFIG) [default: ./tracetape.toml, if there is one].
    #[arg(long, value_name = "FILE", env = "TRACETAPE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Where the recordings go [default: TRACETAPE_RECORD_DIR, else `dir`
    /// under [record], else .tracetape/recordings].
    #[arg(long, value_name = "DIR")]
    pub(crate) recordings: Option<PathBuf>,
    /// The command that starts the service, and its arguments (after
    /// `--`, or after tracetape's own flags), run as it is, without a
    /// shell.
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<OsString>,
}
