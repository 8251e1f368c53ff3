//! Tables of aligned columns, as `list` prints them: a header row, then one
//! row per entry, columns two spaces apart, trailing blanks trimmed.

use std::io::{self, Write};

use crate::format::{pad_left, pad_right, width};

/// Which side of its column a cell keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A column: its title and alignment.
pub(crate) type Column = (&'static str, Align);

/// Writes `rows` under `columns`, each column as wide as its widest cell.
pub(crate) fn write<const N: usize>(
    columns: &[Column; N],
    rows: &[[String; N]],
    out: &mut dyn Write,
) -> io::Result<()> {
    let header: [String; N] = columns.map(|(title, _)| title.to_owned());
    let mut widths = [0; N];
    for row in rows.iter().chain([&header]) {
        for (max, cell) in widths.iter_mut().zip(row) {
            *max = (*max).max(width(cell));
        }
    }
    for row in [&header].into_iter().chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(columns)
            .zip(widths)
            .map(|((cell, (_, align)), to)| match align {
                Align::Left => pad_right(cell, to),
                Align::Right => pad_left(cell, to),
            })
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_trailing_blanks_go() {
        let mut out = Vec::new();
        write(
            &[
                ("NAME", Align::Left),
                ("N", Align::Right),
                ("", Align::Left),
            ],
            &[
                ["tea".into(), "12".into(), "".into()],
                ["é".into(), "7".into(), "ERROR".into()],
            ],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME   N\ntea   12\né      7  ERROR\n"
        );
    }
}
