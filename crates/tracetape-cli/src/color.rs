//! `--color`: whether what is written for people (the replay's text
//! report) is coloured. `auto`, the default, follows the conventions
//! of <https://no-color.org> and <https://bixense.com/clicolors/>:
//! no colour when `NO_COLOR` is set (and not empty), colour when
//! `CLICOLOR_FORCE` is set (and neither empty nor `0`), none when
//! `CLICOLOR=0` or `TERM=dumb`, else colour only on a terminal.
//! `always` and `never` override all of them.

use std::ffi::OsString;
use std::io::{self, IsTerminal as _};

/// The value of `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal, unless the environment says otherwise.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether standard output is coloured.
    pub(crate) fn for_stdout(self) -> bool {
        self.decide(io::stdout().is_terminal(), |name| std::env::var_os(name))
    }

    /// The same choice for clap's help and error messages (clap's `auto`
    /// already honours `NO_COLOR` and `CLICOLOR_FORCE`).
    pub(crate) fn for_clap(self) -> clap::ColorChoice {
        match self {
            Self::Auto => clap::ColorChoice::Auto,
            Self::Always => clap::ColorChoice::Always,
            Self::Never => clap::ColorChoice::Never,
        }
    }

    /// The choice `--color` makes in `args` (a whole command line, the
    /// program first), read before clap parses it so that clap's own
    /// messages follow it too; `auto` when it is missing or not a value
    /// `--color` takes (clap then reports that).
    pub(crate) fn in_args(args: impl IntoIterator<Item = OsString>) -> Self {
        let mut choice = Self::Auto;
        let mut args = args.into_iter().skip(1);
        while let Some(arg) = args.next() {
            let value = match arg.to_str() {
                Some("--") => break,
                Some("--color") => args.next(),
                Some(other) => other.strip_prefix("--color=").map(OsString::from),
                None => None,
            };
            if let Some(value) = value {
                choice = match value.to_str() {
                    Some("always") => Self::Always,
                    Some("never") => Self::Never,
                    _ => Self::Auto,
                };
            }
        }
        choice
    }

    /// Whether output to a stream (a terminal or not) is coloured, with
    /// `var` reading the environment.
    fn decide(self, terminal: bool, var: impl Fn(&str) -> Option<OsString>) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                let value = |name: &str| var(name).filter(|value| !value.is_empty());
                if value("NO_COLOR").is_some() {
                    false
                } else if value("CLICOLOR_FORCE").is_some_and(|value| value != "0") {
                    true
                } else if value("CLICOLOR").is_some_and(|value| value == "0")
                    || value("TERM").is_some_and(|value| value == "dumb")
                {
                    false
                } else {
                    terminal
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(choice: ColorChoice, terminal: bool, vars: &[(&str, &str)]) -> bool {
        choice.decide(terminal, |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    #[test]
    fn auto_colours_a_terminal_unless_the_environment_says_otherwise() {
        use ColorChoice::Auto;
        assert!(decide(Auto, true, &[]));
        assert!(!decide(Auto, false, &[]));
        assert!(!decide(Auto, true, &[("NO_COLOR", "1")]));
        // An empty NO_COLOR is as good as none.
        assert!(decide(Auto, true, &[("NO_COLOR", "")]));
        assert!(decide(Auto, false, &[("CLICOLOR_FORCE", "1")]));
        assert!(!decide(Auto, false, &[("CLICOLOR_FORCE", "0")]));
        // NO_COLOR wins over CLICOLOR_FORCE.
        assert!(!decide(
            Auto,
            true,
            &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
        ));
        assert!(!decide(Auto, true, &[("CLICOLOR", "0")]));
        assert!(!decide(Auto, true, &[("TERM", "dumb")]));
    }

    #[test]
    fn always_and_never_override_the_environment() {
        assert!(decide(ColorChoice::Always, false, &[("NO_COLOR", "1")]));
        assert!(!decide(
            ColorChoice::Never,
            true,
            &[("CLICOLOR_FORCE", "1")]
        ));
    }

    #[test]
    fn the_flag_is_found_before_clap_parses() {
        let find = |args: &[&str]| ColorChoice::in_args(args.iter().map(OsString::from));
        assert_eq!(find(&["tracetape", "list"]), ColorChoice::Auto);
        assert_eq!(
            find(&["tracetape", "--color", "never", "list"]),
            ColorChoice::Never
        );
        assert_eq!(
            find(&["tracetape", "list", "--color=always"]),
            ColorChoice::Always
        );
        // The last one counts, and nothing after `--` is a flag.
        assert_eq!(
            find(&["tracetape", "--color=always", "list", "--color", "never"]),
            ColorChoice::Never
        );
        assert_eq!(
            find(&["tracetape", "record", "--", "svc", "--color=never"]),
            ColorChoice::Auto
        );
    }
}
