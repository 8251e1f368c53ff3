//! `tracetape list`: the recordings (`list/recordings.rs`) or, with
//! `--traces`, the traces of the span store (`list/traces.rs`), newest
//! first.

mod args;
pub(crate) mod recordings;
pub(crate) mod traces;

use std::io::{self, Write};

use crate::exit::Failure;
pub(crate) use args::ListArgs;

pub(crate) fn run(
    args: &ListArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), Failure> {
    if args.traces {
        traces::run(args, out, notes)
    } else {
        recordings::run(args, out, notes)
    }
}

/// The first `limit` of `items`, which are newest first (all of them when
/// `limit` is 0).
fn newest<T>(items: &[T], limit: usize) -> &[T] {
    if limit == 0 {
        items
    } else {
        &items[..limit.min(items.len())]
    }
}

/// Says that only the newest `shown` of `total` entries were listed, if so.
fn note_limit(notes: &mut dyn Write, shown: usize, total: usize, what: &str) -> io::Result<()> {
    if shown < total {
        writeln!(
            notes,
            "note: showing the newest {shown} of {total} {what}; use --limit to see more"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_keeps_everything() {
        assert_eq!(newest(&[1, 2, 3], 0), [1, 2, 3]);
        assert_eq!(newest(&[1, 2, 3], 2), [1, 2]);
        assert_eq!(newest(&[1, 2, 3], 9), [1, 2, 3]);
    }
}
