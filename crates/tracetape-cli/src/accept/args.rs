//! The arguments of `tracetape accept`: the recordings to accept, and
//! those of `tracetape replay`.

use clap::Args;

use crate::replay::ReplayArgs;

/// Arguments of `tracetape accept`.
#[derive(Debug, Args)]
#[command(
    mut_arg("learn", |arg| arg.hide(true)),
    mut_arg("write", |arg| arg.hide(true)),
    mut_arg("accept", |arg| arg.hide(true))
)]
pub(crate) struct AcceptArgs {
    /// The recordings to accept: a recording id
    /// (`4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7`, the `id` of
    /// the JSON report), the first digits of a trace id (as `tracetape
    /// list` shows it), a route (`'POST /orders/{id}'`, or `/orders/{id}`
    /// for every method), or a recording file (`*.json`, as the report's
    /// `recording:` line shows it).
    #[arg(value_name = "SELECTOR", required_unless_present = "all")]
    pub(crate) selectors: Vec<String>,
    /// Accept every recording replayed.
    #[arg(long, conflicts_with = "selectors")]
    pub(crate) all: bool,
    #[command(flatten)]
    pub(crate) replay: ReplayArgs,
}
