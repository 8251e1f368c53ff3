//! `tracetape record -- COMMAND...`: runs the service with
//! `TRACETAPE_MODE=record` and `TRACETAPE_RECORD_DIR` set, says where the
//! recordings go, waits for it to exit, says how many it wrote, and exits
//! with its status.
//!
//! The service runs in tracetape's process group, so Ctrl-C at a terminal
//! reaches it directly; `tracetape record` outlives it to report. SIGTERM
//! sent to `tracetape record` alone is passed on to the service.

mod args;

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use anyhow::Context as _;
use tokio::process::Command;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracetape::record::{RecordSettings, RecordingStore};

use crate::exit::{FAILURE, Failure};
pub(crate) use args::RecordArgs;

/// `tracetape record`.
pub(crate) async fn run(args: RecordArgs) -> Result<(), Failure> {
    let dir = recordings_dir(&args)?;
    let store = RecordingStore::new(&dir);
    let before = count(&store);
    let Some((program, program_args)) = args.command.split_first() else {
        return Err(Failure::Usage(anyhow::anyhow!("no command to run")));
    };
    writeln!(
        io::stderr(),
        "tracetape record: recording into {} (TRACETAPE_MODE=record); stop the service \
         (Ctrl-C) to write what it holds",
        dir.display()
    )?;
    let mut command = Command::new(program);
    command
        .args(program_args)
        .env("TRACETAPE_MODE", "record")
        .env("TRACETAPE_RECORD_DIR", &dir)
        .stdin(Stdio::inherit());
    if let Some(config) = &args.config {
        command.env("TRACETAPE_CONFIG", config);
    }
    // Listening before the service starts: a signal that comes before it
    // must not end tracetape (SIGINT, which the terminal also sends the
    // service) nor be lost (SIGTERM, passed on).
    let (interrupt, terminate) = listen().map_err(|err| {
        Failure::Failed(anyhow::Error::new(err).context("failed to listen for signals"))
    })?;
    let mut child = command
        .spawn()
        .with_context(|| format!("failed to start {}", Path::new(program).display()))
        .map_err(Failure::Failed)?;
    let status = wait(&mut child, terminate).await;
    drop(interrupt);
    let status = status
        .context("failed to wait for the service")
        .map_err(Failure::Failed)?;
    let written = count(&store).saturating_sub(before);
    writeln!(
        io::stderr(),
        "tracetape record: the service {}; {written} new recording(s) in {} \
         (`tracetape list --recordings {}`)",
        describe(status),
        dir.display(),
        dir.display()
    )?;
    match exit_code(status) {
        0 => Ok(()),
        code => Err(Failure::Reported(code)),
    }
}

/// Where the recordings go, absolute: `--recordings`, else where the
/// service would write them (`TRACETAPE_RECORD_DIR`, else `dir` under
/// `[record]`, else the default), as the library works it out.
fn recordings_dir(args: &RecordArgs) -> Result<PathBuf, Failure> {
    let dir = match &args.recordings {
        Some(dir) => dir.clone(),
        None => match &args.config {
            Some(config) => RecordSettings::from_env_with_config(config).dir,
            None => RecordSettings::from_env().dir,
        },
    };
    std::path::absolute(&dir)
        .with_context(|| format!("failed to make {} absolute", dir.display()))
        .map_err(Failure::Failed)
}

/// Recordings in `store`, counted without decoding them (none when it
/// cannot be listed).
fn count(store: &RecordingStore) -> u64 {
    store.count().unwrap_or(0)
}

/// SIGINT and SIGTERM, listened for.
fn listen() -> io::Result<(Signal, Signal)> {
    Ok((
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    ))
}

/// Waits for the service to exit, passing SIGTERM on to it.
async fn wait(child: &mut tokio::process::Child, mut terminate: Signal) -> io::Result<ExitStatus> {
    loop {
        tokio::select! {
            status = child.wait() => return status,
            _ = terminate.recv() => {
                if let Some(pid) = child.id() {
                    // As in replay/process.rs: no unsafe code, so the
                    // shell's `kill` sends the signal.
                    let _ = Command::new("sh")
                        .args(["-c", "kill -s TERM \"$1\"", "sh", &pid.to_string()])
                        .status()
                        .await;
                }
            }
        }
    }
}

/// `exited with 3`, `was ended by signal 15`.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with {code}"),
        (None, Some(signal)) => format!("was ended by signal {signal}"),
        (None, None) => "exited".to_owned(),
    }
}

/// The status to exit with: the service's, or 128 + the signal that
/// ended it, as shells report it.
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(FAILURE),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(FAILURE),
        (None, None) => FAILURE,
    }
}
