//! `tracetape demo`: run the example service and store a few traces.

use std::io::Write as _;

use crate::cli::DemoArgs;

/// Placeholder until the demo is implemented.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let DemoArgs {} = args;
    writeln!(std::io::stdout(), "demo: not implemented yet")?;
    Ok(())
}
