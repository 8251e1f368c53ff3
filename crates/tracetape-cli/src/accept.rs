//! `tracetape accept` (and `tracetape replay --accept`, the same): replays
//! as `tracetape replay` does, then rewrites each selected recording that
//! deviated to expect what the new build did (`accept/rewrite.rs`), after
//! keeping the file it replaces (`accept/originals.rs`). Recordings are
//! named by `accept/selector.rs`.

mod args;
mod call_body;
mod originals;
mod rewrite;
mod selector;

use std::collections::HashSet;
use std::io::{self, Write as _};

use anyhow::{Context as _, anyhow};
use tracetape::record::{RecordSettings, RecordingStore, RedactionKey};
use tracetape::replay::ReplayId;

use crate::exit::{FAILURE, Failure};
use crate::replay::{self, Outcome, ReplayArgs, Replayed, Responses, Style};
pub(crate) use args::AcceptArgs;
use originals::Originals;
use selector::{Candidate, Selector};

/// `tracetape accept`.
pub(crate) async fn run(args: AcceptArgs, style: Style) -> Result<(), Failure> {
    if args.replay.learn || args.replay.write || !args.replay.accept.is_empty() {
        return Err(Failure::Usage(anyhow!(
            "--learn, --write and --accept are flags of `tracetape replay`"
        )));
    }
    let selectors = if args.all {
        vec![Selector::All]
    } else {
        parse(&args.selectors)?
    };
    accept(&args.replay, &selectors, style).await
}

/// `tracetape replay --accept SELECTOR...`: the same as `tracetape accept`.
pub(crate) async fn after_replay(args: &ReplayArgs, style: Style) -> Result<(), Failure> {
    let selectors = parse(&args.accept)?;
    accept(args, &selectors, style).await
}

fn parse(texts: &[String]) -> Result<Vec<Selector>, Failure> {
    texts
        .iter()
        .map(|text| Selector::parse(text))
        .collect::<anyhow::Result<_>>()
        .map_err(Failure::Usage)
}

/// Replays as `args` say, reports, and accepts what `selectors` name.
async fn accept(args: &ReplayArgs, selectors: &[Selector], style: Style) -> Result<(), Failure> {
    let settings = replay::resolve(args)?;
    let selection = replay::selection(&settings)?;
    let mut chosen = HashSet::new();
    for selector in selectors {
        let mut named = false;
        for replayable in &selection.recordings {
            let (method, route) = replayable.method_and_route();
            if selector.matches(Candidate {
                id: replayable.id,
                file: &replayable.path,
                method: &method,
                route: &route,
            }) {
                named = true;
                chosen.insert(replayable.id);
            }
        }
        if !named {
            return Err(Failure::Usage(anyhow!(
                "{selector}: no recording to replay is named so (the recordings of {} in {})",
                selection.service,
                settings.recordings.display()
            )));
        }
    }
    // The whole selection is replayed, not only what is accepted: a
    // request may depend on the state earlier ones left behind.
    let report =
        replay::replay_selection(&settings, selection, &Responses::KeptFor(chosen.clone())).await?;
    replay::write_report(&report, args.format, args.output.as_deref(), style)?;
    replay::ran_to_end(&report)?;

    let chosen: Vec<&Replayed> = report
        .results
        .iter()
        .filter(|replayed| chosen.contains(&replayed.id))
        .collect();
    let record = match &settings.config_file {
        Some(config) => RecordSettings::from_env_with_config(config),
        None => RecordSettings::from_env(),
    };
    let mut notes = io::stderr().lock();
    let mut originals = Originals::new(&settings.recordings);
    let (mut accepted, mut passed, mut refused) = (0, 0, 0);
    // The key the recordings were redacted with, as the replayed service
    // loads it; read only when there is something to rewrite.
    let key = if chosen.iter().any(|r| r.outcome == Outcome::Deviated) {
        Some(
            RedactionKey::load_or_create(&settings.recordings)
                .context("failed to read the redaction key of the recordings")
                .map_err(Failure::Failed)?,
        )
    } else {
        None
    };
    for replayed in chosen {
        let named = format!("{} ({})", replayed.request(), replayed.location());
        let why_not = match replayed.outcome {
            Outcome::Passed => {
                passed += 1;
                continue;
            }
            Outcome::MockMissing => Some(
                "a call had no recorded call to answer it, so the recording has no answer to \
                 give the new build; record this request again",
            ),
            Outcome::Errored => Some("there was no response to accept"),
            Outcome::Deviated => None,
        };
        if let Some(why) = why_not {
            writeln!(notes, "not accepted: {named}: {why}; left as it was")?;
            refused += 1;
            continue;
        }
        let Some(key) = &key else { continue };
        match accept_one(replayed, &record, key, &mut originals) {
            Ok(done) => {
                accepted += 1;
                writeln!(notes, "accepted: {named}{done}")?;
            }
            Err(err) => {
                refused += 1;
                writeln!(notes, "not accepted: {named}: {err:#}; left as it was")?;
            }
        }
    }
    writeln!(
        notes,
        "{accepted} recording(s) accepted, {passed} already passed, {refused} not accepted{}",
        if accepted > 0 {
            format!("; the files replaced are in {}", originals.dir().display())
        } else {
            String::new()
        }
    )?;
    if refused > 0 {
        Err(Failure::Reported(FAILURE))
    } else {
        Ok(())
    }
}

/// Rewrites the recording of `replayed` (its line of a segment, or its
/// file of the earlier layout) to expect what the new build did, keeping
/// the original file; says what changed besides the response.
fn accept_one(
    replayed: &Replayed,
    record: &RecordSettings,
    key: &RedactionKey,
    originals: &mut Originals,
) -> anyhow::Result<String> {
    let original = RecordingStore::read_file(&replayed.file)
        .recordings
        .into_iter()
        .find(|stored| stored.line == replayed.line)
        .map(|stored| stored.recording)
        .filter(|recording| ReplayId::of(recording) == Some(replayed.id))
        .with_context(|| {
            format!(
                "line {} of {} no longer holds the recording {}",
                replayed.line,
                replayed.file.display(),
                replayed.id
            )
        })?;
    let rewritten = rewrite::accepted(original, replayed, record, key)?;
    originals.keep(&replayed.file)?;
    rewritten
        .recording
        .replace_line(&replayed.file, replayed.line)?;
    let mut said = String::new();
    if rewritten.removed_calls > 0 {
        said.push_str(&format!(
            "; {} unused call(s) removed",
            rewritten.removed_calls
        ));
    }
    if rewritten.rewritten_calls > 0 {
        said.push_str(&format!(
            "; {} call(s) now expected as the new build makes them",
            rewritten.rewritten_calls
        ));
    }
    Ok(said)
}
