//! `tracetape init`: writes a commented `tracetape.toml` (`init/template.toml`)
//! with the `[record]` and `[replay]` tables, every setting but the
//! recordings directory commented out at its default.

mod args;

use std::fs::OpenOptions;
use std::io::{self, Write};

use anyhow::anyhow;

use crate::exit::Failure;
pub(crate) use args::InitArgs;

/// The file written.
pub(crate) const TEMPLATE: &str = include_str!("init/template.toml");

/// `tracetape init`.
pub(crate) fn run(args: &InitArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let path = &args.config;
    let mut options = OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|err| {
        if err.kind() == io::ErrorKind::AlreadyExists {
            Failure::Failed(anyhow!(
                "{} already exists; --force replaces it",
                path.display()
            ))
        } else {
            Failure::Failed(
                anyhow::Error::new(err).context(format!("failed to create {}", path.display())),
            )
        }
    })?;
    file.write_all(TEMPLATE.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|err| {
            Failure::Failed(
                anyhow::Error::new(err).context(format!("failed to write {}", path.display())),
            )
        })?;
    writeln!(
        out,
        "wrote {}: [record] for the service, [replay] for `tracetape replay`.\n\
         Next: set `command` and `port` under [replay], then\n  \
         tracetape record -- <the command that starts your service>\n  \
         tracetape replay",
        path.display()
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tracetape::record::{Mode, RecordSettings};

    use super::*;
    use crate::replay::Settings;
    use crate::testing::replay_args;

    /// The template with every setting commented out uncommented.
    fn everything_set() -> String {
        TEMPLATE
            .lines()
            .map(|line| match line.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '[') => {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_file_is_read_by_the_replay_and_by_the_library() {
        for (text, uncommented) in [(TEMPLATE.to_owned(), false), (everything_set(), true)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tracetape.toml");
            std::fs::write(&path, &text).unwrap();
            let config = path.to_str().unwrap();

            let settings =
                Settings::resolve(&replay_args(["--config", config, "--port", "1"]), None)
                    .unwrap_or_else(|err| panic!("{err:#}\n{text}"));
            assert_eq!(
                settings.recordings,
                dir.path().join(".tracetape/recordings")
            );
            if uncommented {
                assert_eq!(settings.command.as_deref(), Some("cargo run"));
                assert_eq!(settings.concurrency, 16);
            } else {
                assert_eq!(settings.command, None);
            }

            // The library turns recording off (mode off, default dir) when
            // it cannot read the file.
            let record = RecordSettings::from_env_with_config(&path);
            assert_eq!(record.dir, dir.path().join(".tracetape/recordings"));
            if uncommented {
                assert_eq!(record.mode, Mode::Record);
                assert_eq!(record.redact.len(), 1);
            }
        }
    }
}
